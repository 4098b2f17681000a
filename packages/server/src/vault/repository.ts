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
export type EntryRow = EntryTable;
export type AttachmentMeta = Omit<AttachmentTable, 'data_sealed'>;

/** Entry columns the tree needs: no secret, nothing to decrypt. */
export type EntryListRow = Pick<
  EntryTable,
  | 'id'
  | 'folder_id'
  | 'name'
  | 'username'
  | 'url'
  | 'tags'
  | 'client_meta'
  | 'expires_at'
  | 'created_at'
  | 'modified_at'
>;

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

const LIST_COLUMNS = [
  'id',
  'folder_id',
  'name',
  'username',
  'url',
  'tags',
  'client_meta',
  'expires_at',
  'created_at',
  'modified_at',
] as const;

/** Kysely queries of the vault area. Row locks are taken on PostgreSQL only (SQLite transactions
 * already hold the database's write lock). */
export class VaultRepository {
  constructor(private readonly dialect: Dialect) {}

  // ---------------------------------------------------------------- folders

  allFolders(db: Kysely<Database>): Promise<FolderRow[]> {
    return db.selectFrom('folders').selectAll().execute();
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

  /** Every entry that is not archived itself, without secrets (the tree). */
  liveEntries(db: Kysely<Database>): Promise<EntryListRow[]> {
    return db.selectFrom('entries').select(LIST_COLUMNS).where('archived_at', 'is', null).execute();
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
