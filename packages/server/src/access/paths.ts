import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { FolderShape } from './engine.js';

/** What the access area needs to know of a folder: its place in the tree, name and state. */
export interface FolderNode {
  id: string;
  parentId: string | null;
  name: string;
  kind: string;
  blockInheritance: boolean;
  archivedAt: number | null;
}

/**
 * The whole folder tree in memory, from one query: full paths (`Root/A/B`), ancestor chains and
 * the shapes the permission engine needs. A corrupt tree (a cycle) never loops: a walk stops at
 * the first folder it has already seen.
 */
export class FolderIndex {
  private readonly byId: ReadonlyMap<string, FolderNode>;
  private readonly paths = new Map<string, string>();

  constructor(folders: Iterable<FolderNode>) {
    this.byId = new Map([...folders].map((f) => [f.id, f]));
  }

  get(id: string): FolderNode | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The folder and its ancestors, nearest first, up to the root. */
  chain(id: string): FolderNode[] {
    const out: FolderNode[] = [];
    const seen = new Set<string>();
    let cur = this.byId.get(id);
    while (cur && !seen.has(cur.id)) {
      out.push(cur);
      seen.add(cur.id);
      cur = cur.parentId === null ? undefined : this.byId.get(cur.parentId);
    }
    return out;
  }

  /**
   * The folders whose grants count on `id`: the folder itself, then its ancestors up to and
   * including the nearest folder that blocks inheritance (spec §3).
   */
  inheritanceChain(id: string): FolderNode[] {
    const out: FolderNode[] = [];
    for (const f of this.chain(id)) {
      out.push(f);
      if (f.blockInheritance) break;
    }
    return out;
  }

  /** Full path of a folder, `Root/A/B` ('' for an unknown folder). */
  path(id: string): string {
    const cached = this.paths.get(id);
    if (cached !== undefined) return cached;
    const names = this.chain(id)
      .map((f) => f.name)
      .reverse();
    const path = names.join('/');
    this.paths.set(id, path);
    return path;
  }

  /** Full path of an entry named `name` in folder `folderId`: `Root/A/Entry`. */
  entryPath(folderId: string, name: string): string {
    const folder = this.path(folderId);
    return folder === '' ? name : `${folder}/${name}`;
  }

  /** Whether the folder or one of its ancestors is in the Archive. */
  isArchived(id: string): boolean {
    return this.chain(id).some((f) => f.archivedAt !== null);
  }

  /** The shapes the permission engine computes on. */
  shapes(): Map<string, FolderShape> {
    const out = new Map<string, FolderShape>();
    for (const f of this.byId.values()) {
      out.set(f.id, { id: f.id, parentId: f.parentId, blockInheritance: f.blockInheritance });
    }
    return out;
  }
}

/** The whole folder tree, archived folders included (one query). */
export async function loadFolderIndex(db: Kysely<Database>): Promise<FolderIndex> {
  const rows = await db
    .selectFrom('folders')
    .select(['id', 'parent_id', 'name', 'kind', 'block_inheritance', 'archived_at'])
    .execute();
  return new FolderIndex(
    rows.map((r) => ({
      id: r.id,
      parentId: r.parent_id,
      name: r.name,
      kind: r.kind,
      blockInheritance: r.block_inheritance === 1,
      archivedAt: r.archived_at,
    })),
  );
}

/** Full path of a folder (one query). '' when the folder does not exist. */
export async function folderPath(db: Kysely<Database>, folderId: string): Promise<string> {
  return (await loadFolderIndex(db)).path(folderId);
}

/** Full path of an entry (two queries). '' when the entry does not exist. */
export async function entryPath(db: Kysely<Database>, entryId: string): Promise<string> {
  const entry = await db
    .selectFrom('entries')
    .select(['folder_id', 'name'])
    .where('id', '=', entryId)
    .executeTakeFirst();
  if (!entry) return '';
  return (await loadFolderIndex(db)).entryPath(entry.folder_id, entry.name);
}
