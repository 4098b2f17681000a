import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { inWriteTransaction } from '../db/connect.js';
import { currentRevision } from '../shared/revision-cache.js';
import type { EntryListRow } from './repository.js';

/** Entry columns the tree needs: no secret, nothing to decrypt. */
export const ENTRY_LIST_COLUMNS = [
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

interface State {
  /** The `entries` revision the rows are exact for. */
  revision: number;
  rows: Map<string, EntryListRow>;
  /** `rows` as the frozen array handed to callers (a new one after every change). */
  list: readonly EntryListRow[];
}

/** How the cache has been filled so far (diagnostics and tests). */
export interface EntryListCacheStats {
  /** Whole-table loads: the first one, and after a row went away (permanent deletion). */
  full: number;
  /** Refreshes that read only the rows changed since the cached revision. */
  incremental: number;
}

/**
 * Every entry that is not archived itself (list columns only), kept in this process and brought
 * up to date incrementally when the `entries` revision moves: database triggers stamp each
 * inserted or updated row with the revision of its change (`change_seq`, migration 0004), so
 * only rows with `change_seq` above the cached revision are read. Deleted rows leave no trace;
 * comparing the number of live rows with the cache's size finds them, and then the whole list
 * is reloaded.
 *
 * A refresh reads the revision, the changed rows and the count in one statement (one snapshot;
 * a full load reads the revision and the rows in one REPEATABLE READ transaction), so the result
 * is exact for that revision whatever other processes commit meanwhile. Inside a write transaction the cache is
 * used only when its revision is current and never filled (the transaction may roll back).
 *
 * Returned arrays and rows are frozen and shared: unchanged rows keep their object identity
 * across refreshes, so per-row derived data (SummaryMapper's summaries) stays reusable.
 */
export class EntryListCache {
  private state: State | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly counts: EntryListCacheStats = { full: 0, incremental: 0 };

  get stats(): Readonly<EntryListCacheStats> {
    return { ...this.counts };
  }

  async get(db: Kysely<Database>): Promise<readonly EntryListRow[]> {
    const revision = await currentRevision(db, 'entries');
    if (this.state && this.state.revision === revision) return this.state.list;
    // A write transaction may hold changes that roll back later: read fresh, never file it.
    if (inWriteTransaction(db) || db.isTransaction) return Object.freeze(await loadLive(db));
    for (;;) {
      // Newer than the revision read above is as good: it holds every change made before.
      if (this.state && this.state.revision >= revision) return this.state.list;
      this.refreshing ??= this.refresh(db).finally(() => {
        this.refreshing = undefined;
      });
      await this.refreshing;
    }
  }

  private async refresh(db: Kysely<Database>): Promise<void> {
    const s = this.state;
    if (s) {
      const delta = await readChanges(db, s.revision);
      if (delta.revision === s.revision) return;
      if (delta.revision > s.revision && this.applyChanges(s, delta)) {
        this.counts.incremental++;
        return;
      }
    }
    // The revision and the rows from one snapshot, so the rows are exact for that revision.
    await db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        const revision = await currentRevision(trx, 'entries');
        this.replace(revision, await loadLive(trx));
        this.counts.full++;
      });
  }

  /**
   * Applies the changed rows if that leaves exactly `live` rows; otherwise (some row was
   * deleted) changes nothing and answers false.
   */
  private applyChanges(s: State, { revision, changed, live }: Delta): boolean {
    let size = s.rows.size;
    for (const c of changed) {
      const had = s.rows.has(c.id);
      if (c.archived_at === null && !had) size++;
      if (c.archived_at !== null && had) size--;
    }
    if (size !== live) return false;
    for (const { archived_at, ...row } of changed) {
      if (archived_at !== null) s.rows.delete(row.id);
      else s.rows.set(row.id, reuse(s.rows.get(row.id), row));
    }
    this.state = { revision, rows: s.rows, list: Object.freeze([...s.rows.values()]) };
    return true;
  }

  private replace(revision: number, loaded: EntryListRow[]): void {
    const old = this.state?.rows;
    const rows = new Map<string, EntryListRow>();
    for (const r of loaded) rows.set(r.id, reuse(old?.get(r.id), r));
    this.state = { revision, rows, list: Object.freeze([...rows.values()]) };
  }
}

async function loadLive(db: Kysely<Database>): Promise<EntryListRow[]> {
  const rows = await db
    .selectFrom('entries')
    .select(ENTRY_LIST_COLUMNS)
    .where('archived_at', 'is', null)
    .execute();
  for (const r of rows) Object.freeze(r);
  return rows;
}

interface Delta {
  /** The `entries` revision the delta was read at. */
  revision: number;
  /** Every row inserted or updated since the cached revision, archived ones included. */
  changed: (EntryListRow & { archived_at: number | null })[];
  /** How many rows are live (not archived) at that revision. */
  live: number;
}

/**
 * The revision, the rows changed after `since` and the number of live rows, in ONE statement:
 * one snapshot on both dialects (so the three agree whatever other processes commit) and one
 * round trip. The outer join yields a single all-null entry row when nothing changed.
 */
async function readChanges(db: Kysely<Database>, since: number): Promise<Delta> {
  const result = await db
    .selectFrom('revisions as r')
    .leftJoin('entries as e', (join) => join.on((eb) => eb('e.change_seq', '>', since)))
    .select([
      'r.value as revision',
      'e.id',
      'e.folder_id',
      'e.name',
      'e.username',
      'e.url',
      'e.tags',
      'e.client_meta',
      'e.expires_at',
      'e.created_at',
      'e.modified_at',
      'e.archived_at',
    ])
    .select((eb) =>
      eb
        .selectFrom('entries')
        .select(eb.fn.countAll().as('n'))
        .where('archived_at', 'is', null)
        .as('live'),
    )
    .where('r.name', '=', 'entries')
    .execute();
  const first = result[0];
  if (!first) return { revision: 0, changed: [], live: 0 };
  const changed: Delta['changed'] = [];
  for (const r of result) {
    if (r.id === null) continue;
    changed.push({
      id: r.id,
      folder_id: r.folder_id!,
      name: r.name!,
      username: r.username!,
      url: r.url!,
      tags: r.tags!,
      client_meta: r.client_meta!,
      expires_at: r.expires_at,
      created_at: r.created_at!,
      modified_at: r.modified_at!,
      archived_at: r.archived_at,
    });
  }
  return { revision: Number(first.revision), changed, live: Number(first.live) };
}

/** The cached row when nothing listed changed (e.g. only the password did), else `next` frozen. */
function reuse(prev: EntryListRow | undefined, next: EntryListRow): EntryListRow {
  if (prev && ENTRY_LIST_COLUMNS.every((c) => prev[c] === next[c])) return prev;
  return Object.freeze(next);
}
