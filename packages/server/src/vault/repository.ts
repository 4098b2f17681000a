import { RevisionCache } from '../shared/revision-cache.js';
import { ENTRY_LIST_COLUMNS, EntryListCache } from './entry-list-cache.js';
import { FolderSnapshot } from './view.js';
import { loadLevels } from '../access/load.js';
import type { Perms } from '../access/permission-set.js';
import type { Kysely } from 'kysely';
import type { Dialect } from '../db/migrator.js';
import type {
  AttachmentTable,
  Database,
  EntryTable,
  EntryVersionTable,
  FolderTable,
} from '../db/schema.js';

export type FolderRow = FolderTable;
/** A whole entry row as the service uses it (`change_seq` is the database's own). */
export type EntryRow = Omit<EntryTable, 'change_seq'>;
export type AttachmentMeta = Omit<AttachmentTable, 'data_sealed'>;

/** Entry columns the tree needs: no secret, nothing to decrypt. */
export type EntryListRow = Pick<EntryTable, (typeof ENTRY_LIST_COLUMNS)[number]>;

export type EntrySearchRow = EntryListRow & Pick<EntryTable, 'notes_sealed'>;

export type EntryPlace = Pick<EntryTable, 'id' | 'folder_id' | 'name' | 'archived_at'>;

export interface VersionInfoRow {
  version: number;
  created_at: number;
  created_by: string | null;
  login_name: string | null;
}

/** Bind-parameter-safe chunk size for IN lists on both dialects. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

const LIST_COLUMNS = ENTRY_LIST_COLUMNS;

/** Kysely queries of the vault area. Row locks are taken on PostgreSQL only (SQLite transactions
 * already hold the database's write lock). */
export class VaultRepository {
  /** Whole-table reads of the hot paths, reloaded only when the table's revision moves. */
  private readonly folderCache = new RevisionCache('folders', (db) =>
    db
      .selectFrom('folders')
      .selectAll()
      .execute()
      .then((rows) => new FolderSnapshot(freezeRows(rows))),
  );
  /** The entry list, brought up to date incrementally (see EntryListCache). */
  private readonly entryListCache = new EntryListCache();
  private readonly levelCache = new RevisionCache('access_levels', loadLevels);

  constructor(private readonly dialect: Dialect) {}

  // ---------------------------------------------------------------- folders

  /** Brings the folder and level caches up to date (outside any transaction). */
  async warm(db: Kysely<Database>): Promise<void> {
    await Promise.all([this.folderCache.get(db), this.levelCache.get(db)]);
  }

  /** Every folder, indexed (cached per revision; the rows are frozen). */
  folderSnapshot(db: Kysely<Database>): Promise<FolderSnapshot> {
    return this.folderCache.get(db);
  }

  /** Every access level as permission masks (cached per revision). */
  levels(db: Kysely<Database>): Promise<ReadonlyMap<string, Perms>> {
    return this.levelCache.get(db);
  }

  async folder(
    db: Kysely<Database>,
    id: string,
    lock: 'update' | 'share' | null = null,
  ): Promise<FolderRow | undefined> {
    let q = db.selectFrom('folders').selectAll().where('id', '=', id);
    if (this.dialect === 'postgres' && lock === 'update') q = q.forUpdate();
    if (this.dialect === 'postgres' && lock === 'share') q = q.forShare();
    return q.executeTakeFirst();
  }

  /** Locks folder rows (PostgreSQL) so no entry or folder is added to them meanwhile. */
  async lockFolders(db: Kysely<Database>, ids: readonly string[]): Promise<void> {
    if (this.dialect !== 'postgres') return;
    for (const part of chunks(ids)) {
      await db.selectFrom('folders').select('id').where('id', 'in', part).forUpdate().execute();
    }
  }

  async insertFolder(db: Kysely<Database>, row: FolderRow): Promise<void> {
    await db.insertInto('folders').values(row).execute();
  }

  async updateFolder(
    db: Kysely<Database>,
    id: string,
    patch: Partial<Omit<FolderRow, 'id'>>,
  ): Promise<void> {
    await db.updateTable('folders').set(patch).where('id', '=', id).execute();
  }

  privateFolderOf(db: Kysely<Database>, userId: string): Promise<{ id: string } | undefined> {
    return db
      .selectFrom('folders')
      .select('id')
      .where('kind', '=', 'private')
      .where('owner_user_id', '=', userId)
      .executeTakeFirst();
  }

  // ---------------------------------------------------------------- entries

  async entry(db: Kysely<Database>, id: string, lock = false): Promise<EntryRow | undefined> {
    let q = db.selectFrom('entries').selectAll().where('id', '=', id);
    if (lock && this.dialect === 'postgres') q = q.forUpdate();
    return q.executeTakeFirst();
  }

  /** Whole entry rows (secrets sealed) by id. */
  async entriesByIds(db: Kysely<Database>, ids: readonly string[]): Promise<EntryRow[]> {
    const out: EntryRow[] = [];
    for (const part of chunks(ids)) {
      out.push(...(await db.selectFrom('entries').selectAll().where('id', 'in', part).execute()));
    }
    return out;
  }

  /** Every entry that is not archived itself, without secrets (the tree; cached, kept up to
   * date incrementally; the rows are frozen). */
  liveEntries(db: Kysely<Database>): Promise<readonly EntryListRow[]> {
    return this.entryListCache.get(db);
  }

  /** Live entries of some folders, without secrets (a folder view). */
  async liveEntriesIn(db: Kysely<Database>, folderIds: readonly string[]): Promise<EntryListRow[]> {
    const out: EntryListRow[] = [];
    for (const part of chunks(folderIds)) {
      out.push(
        ...(await db
          .selectFrom('entries')
          .select(LIST_COLUMNS)
          .where('archived_at', 'is', null)
          .where('folder_id', 'in', part)
          .execute()),
      );
    }
    return out;
  }

  /** Every entry that is not archived itself, with sealed notes (search). */
  searchableEntries(db: Kysely<Database>): Promise<EntrySearchRow[]> {
    return db
      .selectFrom('entries')
      .select([...LIST_COLUMNS, 'notes_sealed'])
      .where('archived_at', 'is', null)
      .execute();
  }

  /** Entries archived on their own (the Archive listing). */
  archivedEntries(db: Kysely<Database>): Promise<EntryPlace[]> {
    return db
      .selectFrom('entries')
      .select(['id', 'folder_id', 'name', 'archived_at'])
      .where('archived_at', 'is not', null)
      .execute();
  }

  async entriesIn(db: Kysely<Database>, folderIds: readonly string[]): Promise<EntryPlace[]> {
    const out: EntryPlace[] = [];
    for (const part of chunks(folderIds)) {
      out.push(
        ...(await db
          .selectFrom('entries')
          .select(['id', 'folder_id', 'name', 'archived_at'])
          .where('folder_id', 'in', part)
          .execute()),
      );
    }
    return out;
  }

  async insertEntry(db: Kysely<Database>, row: EntryRow): Promise<void> {
    await db.insertInto('entries').values(row).execute();
  }

  async updateEntry(
    db: Kysely<Database>,
    id: string,
    patch: Partial<Omit<EntryRow, 'id'>>,
  ): Promise<void> {
    await db.updateTable('entries').set(patch).where('id', '=', id).execute();
  }

  // ---------------------------------------------------------------- history

  async insertVersion(db: Kysely<Database>, row: EntryVersionTable): Promise<void> {
    await db.insertInto('entry_versions').values(row).execute();
  }

  versions(db: Kysely<Database>, entryId: string): Promise<VersionInfoRow[]> {
    return db
      .selectFrom('entry_versions as v')
      .leftJoin('users as u', 'u.id', 'v.created_by')
      .select(['v.version', 'v.created_at', 'v.created_by', 'u.login_name'])
      .where('v.entry_id', '=', entryId)
      .orderBy('v.version', 'desc')
      .execute();
  }

  version(
    db: Kysely<Database>,
    entryId: string,
    version: number,
  ): Promise<EntryVersionTable | undefined> {
    return db
      .selectFrom('entry_versions')
      .selectAll()
      .where('entry_id', '=', entryId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  async loginName(db: Kysely<Database>, userId: string | null): Promise<string | null> {
    if (userId === null) return null;
    const row = await db
      .selectFrom('users')
      .select('login_name')
      .where('id', '=', userId)
      .executeTakeFirst();
    return row?.login_name ?? null;
  }

  // ---------------------------------------------------------------- attachments

  /** Attachment metadata of an entry: the current ones, or all (removed ones included). */
  attachments(
    db: Kysely<Database>,
    entryId: string,
    includeRemoved = false,
  ): Promise<AttachmentMeta[]> {
    let q = db
      .selectFrom('attachments')
      .select(['id', 'entry_id', 'file_name', 'size', 'created_at', 'removed_at'])
      .where('entry_id', '=', entryId);
    if (!includeRemoved) q = q.where('removed_at', 'is', null);
    return q.orderBy('created_at').orderBy('id').execute();
  }

  /** Current attachment metadata of some entries (no bytes). */
  async attachmentsOf(
    db: Kysely<Database>,
    entryIds: readonly string[],
  ): Promise<AttachmentMeta[]> {
    const out: AttachmentMeta[] = [];
    for (const part of chunks(entryIds)) {
      out.push(
        ...(await db
          .selectFrom('attachments')
          .select(['id', 'entry_id', 'file_name', 'size', 'created_at', 'removed_at'])
          .where('entry_id', 'in', part)
          .where('removed_at', 'is', null)
          .orderBy('created_at')
          .orderBy('id')
          .execute()),
      );
    }
    return out;
  }

  attachment(
    db: Kysely<Database>,
    entryId: string,
    id: string,
  ): Promise<AttachmentTable | undefined> {
    return db
      .selectFrom('attachments')
      .selectAll()
      .where('entry_id', '=', entryId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The current attachments of some entries, with their sealed bytes. */
  async currentAttachmentsOf(
    db: Kysely<Database>,
    entryIds: readonly string[],
  ): Promise<AttachmentTable[]> {
    const out: AttachmentTable[] = [];
    for (const part of chunks(entryIds)) {
      out.push(
        ...(await db
          .selectFrom('attachments')
          .selectAll()
          .where('entry_id', 'in', part)
          .where('removed_at', 'is', null)
          .orderBy('created_at')
          .orderBy('id')
          .execute()),
      );
    }
    return out;
  }

  async insertAttachment(db: Kysely<Database>, row: AttachmentTable): Promise<void> {
    await db.insertInto('attachments').values(row).execute();
  }

  async setAttachmentsRemoved(
    db: Kysely<Database>,
    entryId: string,
    ids: readonly string[],
    removedAt: number | null,
  ): Promise<void> {
    for (const part of chunks(ids)) {
      await db
        .updateTable('attachments')
        .set({ removed_at: removedAt })
        .where('entry_id', '=', entryId)
        .where('id', 'in', part)
        .execute();
    }
  }

  // ---------------------------------------------------------------- permanent deletion

  /**
   * Deletes entries with their attachments, versions and grants, then the folders (deepest
   * first) with their grants.
   */
  async deleteNodes(
    db: Kysely<Database>,
    entryIds: readonly string[],
    foldersDeepestFirst: readonly string[],
  ): Promise<void> {
    for (const part of chunks(entryIds)) {
      await db.deleteFrom('attachments').where('entry_id', 'in', part).execute();
      await db.deleteFrom('entry_versions').where('entry_id', 'in', part).execute();
      await db
        .deleteFrom('grants')
        .where('node_type', '=', 'entry')
        .where('node_id', 'in', part)
        .execute();
      await db.deleteFrom('entries').where('id', 'in', part).execute();
    }
    for (const part of chunks(foldersDeepestFirst)) {
      await db
        .deleteFrom('grants')
        .where('node_type', '=', 'folder')
        .where('node_id', 'in', part)
        .execute();
      await db.deleteFrom('folders').where('id', 'in', part).execute();
    }
  }

  // ---------------------------------------------------------------- users and grants

  user(db: Kysely<Database>, id: string): Promise<{ id: string; login_name: string } | undefined> {
    return db
      .selectFrom('users')
      .select(['id', 'login_name'])
      .where('id', '=', id)
      .executeTakeFirst();
  }
}

function freezeRows<T extends object>(rows: T[]): readonly T[] {
  for (const r of rows) Object.freeze(r);
  return Object.freeze(rows);
}
