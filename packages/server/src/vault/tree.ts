import type { Perms } from '../access/permission-set.js';
import type { EntryListRow, FolderRow } from './repository.js';
import type { VaultView } from './view.js';

/** One visible entry with the caller's permissions on it. */
export interface VisibleEntry<E extends EntryListRow = EntryListRow> {
  row: E;
  perms: Perms;
}

/**
 * What the caller sees below one folder (the scope), computed in memory:
 * - the scope is the folder and its descendants, not counting sub-folders that are in the
 *   Archive on their own (those appear in the Archive listing instead);
 * - a folder is shown in full with View Folders; an entry with View Entry Names;
 * - a folder the caller can't see but that contains something visible below it is kept as a
 *   path-only node, so every visible thing keeps a meaningful path.
 */
export interface ScopeView<E extends EntryListRow = EntryListRow> {
  /** Folders to show (full or path-only), depth-first, parents first, siblings by name. */
  folders: FolderRow[];
  /** Whether the caller may see the folder in full (else it is path-only). */
  visible: (folderId: string) => boolean;
  /** Visible entries of each shown folder, by name. */
  entries: Map<string, VisibleEntry<E>[]>;
  /** Whether the scope folder itself is shown (visible or leading to something visible). */
  scopeShown: boolean;
}

const byName = (a: { name: string; id: string }, b: { name: string; id: string }): number => {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

/**
 * `entries` are the candidate entries (not archived on their own); those outside the scope are
 * ignored. With `alwaysShowScope` the scope folder is kept even when nothing in it is visible
 * (the tree always starts at Root).
 */
export function scopeView<E extends EntryListRow>(
  view: VaultView,
  scopeId: string,
  entries: readonly E[],
  alwaysShowScope = false,
): ScopeView<E> {
  const children = new Map<string, FolderRow[]>();
  for (const f of view.folders.values()) {
    if (f.parent_id === null || f.archived_at !== null) continue;
    const list = children.get(f.parent_id);
    if (list) list.push(f);
    else children.set(f.parent_id, [f]);
  }
  for (const list of children.values()) list.sort(byName);

  // Depth-first order of the scope.
  const order: FolderRow[] = [];
  const inScope = new Set<string>();
  const scope = view.folder(scopeId);
  if (scope) {
    const stack: FolderRow[] = [scope];
    while (stack.length > 0) {
      const f = stack.pop()!;
      if (inScope.has(f.id)) continue;
      inScope.add(f.id);
      order.push(f);
      const kids = children.get(f.id);
      if (kids) for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
    }
  }

  const shown = new Set<string>();
  const markChain = (folderId: string) => {
    let cur: string | null = folderId;
    while (cur !== null && inScope.has(cur) && !shown.has(cur)) {
      shown.add(cur);
      if (cur === scopeId) break;
      cur = view.folder(cur)?.parent_id ?? null;
    }
  };

  const visibleFolders = new Set<string>();
  for (const f of order) {
    if (view.canSeeFolder(f.id)) {
      visibleFolders.add(f.id);
      markChain(f.id);
    }
  }

  const byFolder = new Map<string, VisibleEntry<E>[]>();
  for (const e of entries) {
    if (!inScope.has(e.folder_id)) continue;
    const perms = view.entryPerms(e.id, e.folder_id);
    if (!perms.has('viewEntryNames')) continue;
    const list = byFolder.get(e.folder_id);
    if (list) list.push({ row: e, perms });
    else byFolder.set(e.folder_id, [{ row: e, perms }]);
    markChain(e.folder_id);
  }
  for (const list of byFolder.values()) list.sort((a, b) => byName(a.row, b.row));

  if (alwaysShowScope && scope) shown.add(scopeId);
  return {
    folders: order.filter((f) => shown.has(f.id)),
    visible: (id) => visibleFolders.has(id),
    entries: byFolder,
    scopeShown: shown.has(scopeId),
  };
}
