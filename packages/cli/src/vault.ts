import { UUID_PATTERN } from '@strongroom/protocol/lite';
import { CliError } from './errors.js';

/**
 * The vault as the read commands see it, the same whether it comes from the server or from the
 * offline cache: folders and entries with their `Root/A/B` paths, an entry's details, and its
 * password (each fetch audited online, journalled offline).
 */
export interface ViewFolder {
  id: string;
  parentId: string | null;
  name: string;
  path: string;
}

export interface ViewEntry {
  id: string;
  folderId: string;
  name: string;
  path: string;
  username?: string;
  url?: string;
  tags?: string[];
}

export interface Tree {
  folders: ViewFolder[];
  entries: ViewEntry[];
}

export interface EntryDetail {
  id: string;
  folderId: string;
  name: string;
  path: string;
  username: string;
  url: string;
  notes: string;
  tags: string[];
  /** A protected value is null where it may not be read. */
  customFields: { name: string; value: string | null; protected: boolean }[];
  attachments: { id: string; fileName: string; size: number }[];
  hasPassword: boolean;
  expiresAt: string | null;
  createdAt: string;
  modifiedAt: string;
}

export interface SearchHits {
  entries: (ViewEntry & { matched: string[] })[];
  folders: ViewFolder[];
  truncated: boolean;
}

export interface VaultSource {
  readonly kind: 'server' | 'cache';
  tree(): Promise<Tree>;
  entry(id: string): Promise<EntryDetail>;
  /** The entry's password; `action` says what it is for (audit online, journal offline). */
  password(id: string, action: 'viewed' | 'copied'): Promise<string>;
  search(text: string): Promise<SearchHits>;
  clipboardSeconds(): Promise<number>;
  /** An attachment's bytes (audited online). */
  attachment(entryId: string, attachmentId: string): Promise<Uint8Array>;
}

const UUID = new RegExp(UUID_PATTERN, 'i');
export const isId = (s: string): boolean => UUID.test(s);

/**
 * A path as typed: `Root/A/B`, or `A/B` (taken under Root), with or without a trailing slash.
 * Names cannot contain `/`, so a path names its folders unambiguously.
 */
export function normalisePath(input: string): string {
  const p = input.trim().replace(/\/+$/, '').replace(/^\/+/, '');
  if (p === '' || p === 'Root') return 'Root';
  return p.startsWith('Root/') ? p : `Root/${p}`;
}

export function rootOf(tree: Tree): ViewFolder {
  const root = tree.folders.find((f) => f.parentId === null);
  if (!root) throw new CliError('not_found', 'you can see nothing in the vault');
  return root;
}

function one<T extends { id: string }>(found: T[], what: string, ref: string): T {
  if (found.length === 0) throw new CliError('not_found', `no ${what} ${ref}`);
  if (found.length > 1) {
    throw new CliError(
      'ambiguous',
      `${found.length} items are at ${ref}; give one of their ids: ${found.map((f) => f.id).join(', ')}`,
    );
  }
  return found[0]!;
}

export function findEntry(tree: Tree, ref: string): ViewEntry {
  if (isId(ref))
    return one(
      tree.entries.filter((e) => e.id === ref.toLowerCase()),
      'entry',
      ref,
    );
  const path = normalisePath(ref);
  return one(
    tree.entries.filter((e) => e.path === path),
    'entry at',
    path,
  );
}

export function findFolder(tree: Tree, ref: string): ViewFolder {
  if (isId(ref))
    return one(
      tree.folders.filter((f) => f.id === ref.toLowerCase()),
      'folder',
      ref,
    );
  const path = normalisePath(ref);
  return one(
    tree.folders.filter((f) => f.path === path),
    'folder at',
    path,
  );
}

/** An entry or a folder (for mv and rm). */
export function findNode(
  tree: Tree,
  ref: string,
): { type: 'entry'; node: ViewEntry } | { type: 'folder'; node: ViewFolder } {
  const byId = isId(ref);
  const path = byId ? ref.toLowerCase() : normalisePath(ref);
  const entries = tree.entries.filter((e) => (byId ? e.id === path : e.path === path));
  const folders = tree.folders.filter((f) => (byId ? f.id === path : f.path === path));
  const all = [
    ...entries.map((node) => ({ type: 'entry' as const, node })),
    ...folders.map((node) => ({ type: 'folder' as const, node })),
  ];
  if (all.length === 0)
    throw new CliError('not_found', `no entry or folder ${byId ? ref : `at ${path}`}`);
  if (all.length > 1) {
    throw new CliError(
      'ambiguous',
      `${all.length} items are at ${path}; give one of their ids: ${all.map((a) => a.node.id).join(', ')}`,
    );
  }
  return all[0]!;
}

/** Case-insensitive substring search over what the server's search covers. */
export function searchEntries(
  entries: (ViewEntry & { notes?: string })[],
  folders: ViewFolder[],
  text: string,
): SearchHits {
  const q = text.toLocaleLowerCase();
  const has = (s: string | undefined) => s !== undefined && s.toLocaleLowerCase().includes(q);
  const hits: SearchHits['entries'] = [];
  for (const e of entries) {
    const matched: string[] = [];
    if (has(e.name)) matched.push('name');
    if (has(e.username)) matched.push('username');
    if (has(e.url)) matched.push('url');
    if (e.tags?.some(has)) matched.push('tags');
    if (has(e.notes)) matched.push('notes');
    if (matched.length > 0) {
      const { notes: _notes, ...view } = e;
      hits.push({ ...view, matched });
    }
  }
  return {
    entries: hits,
    folders: folders.filter((f) => f.parentId !== null && has(f.name)),
    truncated: false,
  };
}
