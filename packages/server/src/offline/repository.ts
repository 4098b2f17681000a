import { CompiledQuery, type Kysely, type Selectable } from 'kysely';
import type { Dialect } from '../db/migrator.js';
import type {
  Database,
  FolderTable,
  OfflineCacheTable,
  OfflineJournalTable,
} from '../db/schema.js';

export type Db = Kysely<Database>;
export type CacheRow = Selectable<OfflineCacheTable>;
export type JournalRow = Selectable<OfflineJournalTable>;
export type FolderRow = Selectable<FolderTable>;

/** An entry as offline mode needs to know it: where it is, what it is called, its version. */
export interface EntryRef {
  id: string;
  folder_id: string;
  name: string;
  /** The `entries` revision of the row's last change (migration 0004). */
  change_seq: number;
  archived_at: number | null;
}

/** A grant that never expires, as stored. */
export interface PermanentGrantRow {
  node_type: string;
  node_id: string;
  principal_type: string;
  principal_id: string;
  access_level_id: string;
}

/** Bind-parameter friendly slices of a long id list. */
function* chunks<T>(items: readonly T[], size = 500): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

// ---------------------------------------------------------------- vault state (read only)

/** Every folder (folders hold no secrets), ordered by id so derived digests are stable. */
export function allFolders(db: Db): Promise<FolderRow[]> {
  return db.selectFrom('folders').selectAll().orderBy('id').execute();
}

/** Every entry, archived ones included, without secrets, ordered by id. */
export async function allEntryRefs(db: Db): Promise<EntryRef[]> {
  const rows = await db
    .selectFrom('entries')
    .select(['id', 'folder_id', 'name', 'change_seq', 'archived_at'])
    .orderBy('id')
    .execute();
  return rows.map((r) => ({ ...r, change_seq: Number(r.change_seq) }));
}

/** Every grant without a remove-access-after time (all principals). */
export function permanentGrants(db: Db): Promise<PermanentGrantRow[]> {
  return db
    .selectFrom('grants')
    .select(['node_type', 'node_id', 'principal_type', 'principal_id', 'access_level_id'])
    .where('expires_at', 'is', null)
    .execute();
}

/** Counters that move when something that can take offline access away changes. */
export const ACCESS_COUNTERS = ['grants', 'principals', 'folders', 'access_levels'] as const;

/** The access counters as one comparable string (one indexed read). */
export async function accessCounters(db: Db): Promise<string> {
  const rows = await db
    .selectFrom('revisions')
    .select(['name', 'value'])
    .where('name', 'in', [...ACCESS_COUNTERS])
    .execute();
  const byName = new Map(rows.map((r) => [r.name, Number(r.value)]));
  return ACCESS_COUNTERS.map((n) => byName.get(n) ?? 0).join('.');
}

/** Login name, display name and enabled flag of some users (missing ids: deleted users). */
export async function usersByIds(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, { id: string; login_name: string; display_name: string; enabled: number }>> {
  const out = new Map<
    string,
    { id: string; login_name: string; display_name: string; enabled: number }
  >();
  for (const part of chunks(ids)) {
    const rows = await db
      .selectFrom('users')
      .select(['id', 'login_name', 'display_name', 'enabled'])
      .where('id', 'in', part)
      .execute();
    for (const r of rows) out.set(r.id, r);
  }
  return out;
}

/** Direct role memberships of some users. */
export async function directRolesOf(
  db: Db,
  userIds: readonly string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const part of chunks(userIds)) {
    const rows = await db
      .selectFrom('role_members')
      .select(['user_id', 'role_id'])
      .where('user_id', 'in', part)
      .execute();
    for (const r of rows) {
      const list = out.get(r.user_id);
      if (list) list.push(r.role_id);
      else out.set(r.user_id, [r.role_id]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- caches

export async function insertCache(db: Db, row: CacheRow): Promise<void> {
  await db.insertInto('offline_caches').values(row).execute();
}

/**
 * Which entries went into the cache. Ten thousand rows are common, so the statements are written
 * out rather than built row by row: one statement with two array parameters on PostgreSQL,
 * multi-row inserts of a fixed shape (prepared once) on SQLite.
 */
export async function insertCacheEntries(
  db: Db,
  dialect: Dialect,
  cacheId: string,
  entryIds: readonly string[],
): Promise<void> {
  if (entryIds.length === 0) return;
  if (dialect === 'postgres') {
    await db.executeQuery(
      CompiledQuery.raw(
        'insert into offline_cache_entries (cache_id, entry_id) select $1, unnest($2::text[])',
        [cacheId, [...entryIds]],
      ),
    );
    return;
  }
  for (const part of chunks(entryIds, CACHE_ENTRY_ROWS)) {
    const params: string[] = [];
    for (const id of part) params.push(cacheId, id);
    await db.executeQuery(CompiledQuery.raw(cacheEntryInsert(part.length), params));
  }
}

const CACHE_ENTRY_ROWS = 1000;
const cacheEntryInserts = new Map<number, string>();
function cacheEntryInsert(rows: number): string {
  let text = cacheEntryInserts.get(rows);
  if (text === undefined) {
    text = `insert into offline_cache_entries (cache_id, entry_id) values ${Array.from({ length: rows }, () => '(?, ?)').join(', ')}`;
    cacheEntryInserts.set(rows, text);
  }
  return text;
}

export function findCache(db: Db, id: string): Promise<CacheRow | undefined> {
  return db.selectFrom('offline_caches').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Caches, newest first, with the total matching the filters. */
export async function listCaches(
  db: Db,
  opts: { userId?: string | undefined; status?: string | undefined; limit: number; offset: number },
): Promise<{ rows: CacheRow[]; total: number }> {
  let q = db.selectFrom('offline_caches');
  if (opts.userId !== undefined) q = q.where('user_id', '=', opts.userId);
  if (opts.status !== undefined) q = q.where('status', '=', opts.status);
  const [rows, count] = await Promise.all([
    q
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst(),
  ]);
  return { rows, total: Number(count?.n ?? 0) };
}

/** Every active cache. */
export function activeCaches(db: Db): Promise<CacheRow[]> {
  return db.selectFrom('offline_caches').selectAll().where('status', '=', 'active').execute();
}

export async function cachesByIds(db: Db, ids: readonly string[]): Promise<CacheRow[]> {
  const out: CacheRow[] = [];
  for (const part of chunks(ids)) {
    out.push(
      ...(await db.selectFrom('offline_caches').selectAll().where('id', 'in', part).execute()),
    );
  }
  return out;
}

export function activeCachesOf(db: Db, userId: string): Promise<CacheRow[]> {
  return db
    .selectFrom('offline_caches')
    .selectAll()
    .where('user_id', '=', userId)
    .where('status', '=', 'active')
    .orderBy('created_at')
    .execute();
}

/** Active caches of the user with this client label. */
export function activeCachesLabelled(
  db: Db,
  userId: string,
  clientLabel: string,
): Promise<CacheRow[]> {
  return db
    .selectFrom('offline_caches')
    .selectAll()
    .where('user_id', '=', userId)
    .where('client_label', '=', clientLabel)
    .where('status', '=', 'active')
    .execute();
}

/**
 * Changes the status of those of these caches that are still active; returns the ids changed
 * (a cache another transaction changed first is left alone).
 */
export async function setStatus(
  db: Db,
  ids: readonly string[],
  change: { status: 'revoked' | 'cleared'; at: number; reason: string; by: string },
): Promise<string[]> {
  const changed: string[] = [];
  for (const part of chunks(ids)) {
    const rows = await db
      .updateTable('offline_caches')
      .set({
        status: change.status,
        status_changed_at: change.at,
        status_reason: change.reason,
        status_by: change.by,
      })
      .where('id', 'in', part)
      .where('status', '=', 'active')
      .returning('id')
      .execute();
    changed.push(...rows.map((r) => r.id));
  }
  return changed;
}

// ---------------------------------------------------------------- journal

/** Which of these entries were in the cache. */
export async function entriesInCache(
  db: Db,
  cacheId: string,
  entryIds: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of chunks(entryIds)) {
    const rows = await db
      .selectFrom('offline_cache_entries')
      .select('entry_id')
      .where('cache_id', '=', cacheId)
      .where('entry_id', 'in', part)
      .execute();
    for (const r of rows) out.add(r.entry_id);
  }
  return out;
}

/** Which of these journal record ids were recorded already for the cache. */
export async function recordedJournalIds(
  db: Db,
  cacheId: string,
  recordIds: readonly string[],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of chunks(recordIds)) {
    const rows = await db
      .selectFrom('offline_journal')
      .select('record_id')
      .where('cache_id', '=', cacheId)
      .where('record_id', 'in', part)
      .execute();
    for (const r of rows) out.add(r.record_id);
  }
  return out;
}

export async function insertJournal(db: Db, rows: readonly JournalRow[]): Promise<void> {
  for (const part of chunks(rows, 500)) {
    await db.insertInto('offline_journal').values(part).execute();
  }
}
