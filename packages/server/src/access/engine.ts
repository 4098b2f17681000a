import { Perms } from './permission-set.js';

/** What the engine needs to know of a folder. */
export interface FolderShape {
  id: string;
  parentId: string | null;
  blockInheritance: boolean;
}

/** A grant already limited to the caller's principals (the user and all their roles). */
export interface GrantShape {
  nodeType: 'folder' | 'entry';
  nodeId: string;
  accessLevelId: string;
  expiresAt: number | null;
}

/**
 * Effective permissions of one caller over the whole tree, computed in memory from three loads
 * (folders, the caller's grants, access levels): no query per node.
 *
 * Effective permissions on node N = union of the grants on N and on its ancestors, where a folder
 * with block inheritance stops every grant made above it (its own grants and those below still
 * count). Expired grants never count (spec §3).
 */
export class EffectivePermissions {
  private readonly folderPerms = new Map<string, Perms>();
  private readonly entryOwn = new Map<string, Perms>();
  private readonly folderOwn = new Map<string, Perms>();

  constructor(
    private readonly folders: ReadonlyMap<string, FolderShape>,
    grants: readonly GrantShape[],
    levels: ReadonlyMap<string, Perms>,
    now: number,
    private readonly isAdministrator: boolean,
  ) {
    for (const g of grants) {
      if (g.expiresAt !== null && g.expiresAt <= now) continue;
      const level = levels.get(g.accessLevelId);
      if (!level) continue;
      const map = g.nodeType === 'folder' ? this.folderOwn : this.entryOwn;
      map.set(g.nodeId, (map.get(g.nodeId) ?? Perms.NONE).union(level));
    }
  }

  /** Effective permissions on a folder (Perms.NONE for an unknown folder). */
  folder(id: string): Perms {
    if (this.isAdministrator) return this.folders.has(id) ? Perms.ALL : Perms.NONE;
    const cached = this.folderPerms.get(id);
    if (cached) return cached;
    // Walk up to the root or the first blocking folder, then fold back down.
    const chain: FolderShape[] = [];
    const seen = new Set<string>();
    let cur = this.folders.get(id);
    let base = Perms.NONE;
    // `seen` guards against a corrupt tree (a parent cycle): the walk stops instead of looping.
    while (cur && !seen.has(cur.id)) {
      const known = this.folderPerms.get(cur.id);
      if (known) {
        base = known;
        break;
      }
      seen.add(cur.id);
      chain.push(cur);
      if (cur.blockInheritance || cur.parentId === null) break;
      cur = this.folders.get(cur.parentId);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const f = chain[i]!;
      const inherited = f.blockInheritance ? Perms.NONE : base;
      base = inherited.union(this.folderOwn.get(f.id) ?? Perms.NONE);
      this.folderPerms.set(f.id, base);
    }
    return this.folderPerms.get(id) ?? Perms.NONE;
  }

  /** Effective permissions on an entry in folder `folderId`. */
  entry(entryId: string, folderId: string): Perms {
    if (this.isAdministrator) return Perms.ALL;
    return this.folder(folderId).union(this.entryOwn.get(entryId) ?? Perms.NONE);
  }

  /** Whether the caller may see the folder at all (View Folders); unknown folders: false. */
  canSeeFolder(id: string): boolean {
    return this.folders.has(id) && this.folder(id).has('viewFolders');
  }

  /** Whether the caller may see the entry at all (View Entry Names); unknown folders: false. */
  canSeeEntry(entryId: string, folderId: string): boolean {
    return this.folders.has(folderId) && this.entry(entryId, folderId).has('viewEntryNames');
  }

  /** Entries that hold a grant of their own (they may be visible inside an invisible folder). */
  entriesWithOwnGrants(): string[] {
    return [...this.entryOwn.keys()];
  }

  get administrator(): boolean {
    return this.isAdministrator;
  }
}
