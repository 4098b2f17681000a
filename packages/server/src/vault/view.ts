import type { Kysely } from 'kysely';
import type { VaultPermission } from '@strongroom/protocol';
import type { Database } from '../db/schema.js';
import { EffectivePermissions, type FolderShape, type GrantShape } from '../access/engine.js';
import { loadPrincipalGrants, type Principal } from '../access/load.js';
import { FolderIndex } from '../access/paths.js';
import { Perms } from '../access/permission-set.js';
import type { FolderRow, VaultRepository } from './repository.js';

/**
 * The vault as one caller sees it at one moment: every folder (one query), the caller's
 * effective permissions (grants and levels: two more queries, none for an administrator), full
 * paths and archive state, all computed in memory. Built per request from the folder rows and
 * access levels the repository caches per revision (database triggers bump the revision).
 */
/**
 * The folder tree as loaded from the database, with what is derived from it alone (the index of
 * paths and the shapes the permission engine walks). Shared by every caller while the folders'
 * revision stays the same; never mutated.
 */
export class FolderSnapshot {
  readonly folders: ReadonlyMap<string, FolderRow>;
  readonly index: FolderIndex;
  readonly shapes: ReadonlyMap<string, FolderShape>;

  constructor(rows: Iterable<FolderRow>) {
    this.folders = new Map([...rows].map((r) => [r.id, r]));
    this.index = new FolderIndex(
      [...this.folders.values()].map((f) => ({
        id: f.id,
        parentId: f.parent_id,
        name: f.name,
        kind: f.kind,
        blockInheritance: f.block_inheritance === 1,
        archivedAt: f.archived_at,
      })),
    );
    this.shapes = this.index.shapes();
  }
}

export class VaultView {
  readonly folders: ReadonlyMap<string, FolderRow>;
  readonly index: FolderIndex;
  readonly perms: EffectivePermissions;
  private readonly archived = new Map<string, boolean>();

  private constructor(
    private readonly snapshot: FolderSnapshot,
    private readonly grants: readonly GrantShape[],
    private readonly levels: ReadonlyMap<string, Perms>,
    private readonly now: number,
    private readonly admin: boolean,
  ) {
    this.folders = snapshot.folders;
    this.index = snapshot.index;
    this.perms = new EffectivePermissions(snapshot.shapes, grants, levels, now, admin);
  }

  static async load(
    repo: VaultRepository,
    db: Kysely<Database>,
    principal: Principal,
    now: number,
  ): Promise<VaultView> {
    const admin = principal.isAdministrator;
    const [snapshot, grants, levels] = await Promise.all([
      repo.folderSnapshot(db),
      admin ? Promise.resolve([]) : loadPrincipalGrants(db, principal),
      admin ? Promise.resolve(new Map<string, Perms>()) : repo.levels(db),
    ]);
    return new VaultView(snapshot, grants, levels, now, admin);
  }

  /**
   * The same caller's view after some folders were added or changed in this transaction
   * (computed in memory: no query).
   */
  with(changed: readonly FolderRow[]): VaultView {
    const rows = new Map(this.snapshot.folders);
    for (const r of changed) rows.set(r.id, r);
    return new VaultView(
      new FolderSnapshot(rows.values()),
      this.grants,
      this.levels,
      this.now,
      this.admin,
    );
  }

  /** When the earliest of the caller's time-limited grants that still count expires, if any. */
  nextGrantExpiry(now: number): number | null {
    let next: number | null = null;
    for (const g of this.grants) {
      if (g.expiresAt !== null && g.expiresAt > now && (next === null || g.expiresAt < next)) {
        next = g.expiresAt;
      }
    }
    return next;
  }

  folder(id: string): FolderRow | undefined {
    return this.folders.get(id);
  }

  folderPerms(id: string): Perms {
    return this.perms.folder(id);
  }

  entryPerms(entryId: string, folderId: string): Perms {
    return this.perms.entry(entryId, folderId);
  }

  canSeeFolder(id: string): boolean {
    return this.folders.has(id) && this.perms.folder(id).has('viewFolders');
  }

  canSeeEntry(entryId: string, folderId: string): boolean {
    return this.perms.entry(entryId, folderId).has('viewEntryNames');
  }

  /** Whether the folder or one of its ancestors is in the Archive (memoised). */
  folderInArchive(id: string): boolean {
    const known = this.archived.get(id);
    if (known !== undefined) return known;
    const f = this.folders.get(id);
    let result: boolean;
    if (!f) result = false;
    else if (f.archived_at !== null) result = true;
    else if (f.parent_id === null) result = false;
    else {
      // Mark first so a corrupt cycle can't recurse forever.
      this.archived.set(id, false);
      result = this.folderInArchive(f.parent_id);
    }
    this.archived.set(id, result);
    return result;
  }

  /** Whether `id` is `ancestorId` or lies below it. */
  isWithin(id: string, ancestorId: string): boolean {
    return this.index.chain(id).some((f) => f.id === ancestorId);
  }

  /** The folder and every folder below it, parents before children. */
  subtree(id: string): string[] {
    const children = new Map<string, string[]>();
    for (const f of this.folders.values()) {
      if (f.parent_id === null) continue;
      const list = children.get(f.parent_id);
      if (list) list.push(f.id);
      else children.set(f.parent_id, [f.id]);
    }
    const out: string[] = [];
    const seen = new Set<string>();
    const stack = [id];
    while (stack.length > 0) {
      const cur = stack.pop()!;
      if (seen.has(cur)) continue;
      seen.add(cur);
      out.push(cur);
      for (const c of children.get(cur) ?? []) stack.push(c);
    }
    return out;
  }

  path(folderId: string): string {
    return this.index.path(folderId);
  }

  entryPath(folderId: string, name: string): string {
    return this.index.entryPath(folderId, name);
  }
}

/** The A flags of a permission set, as the wire lists them. */
export function allowList(perms: Perms): VaultPermission[] {
  return perms.toFlags().allow;
}
