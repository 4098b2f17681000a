import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { inWriteTransaction } from '../db/connect.js';

export type RevisionName = 'folders' | 'entries' | 'access_levels' | 'vault';

/** The current value of a revision counter (one indexed read). */
export async function currentRevision(db: Kysely<Database>, name: RevisionName): Promise<number> {
  const row = await db
    .selectFrom('revisions')
    .select('value')
    .where('name', '=', name)
    .executeTakeFirst();
  return row ? Number(row.value) : 0;
}

/**
 * Data derived from whole tables, kept in this process and reloaded only when the table's
 * revision counter (bumped by database triggers, so by every process) has moved. The revision
 * is read before the data, so what is cached is never older than the revision it is filed
 * under. Inside a write transaction the counter includes that transaction's own changes; what
 * is loaded there is used but never cached, since the transaction may still roll back.
 * Cached values are frozen: callers must not mutate them.
 */
export class RevisionCache<T> {
  private cached: { revision: number; value: T } | undefined;
  private loading: { revision: number; promise: Promise<T> } | undefined;

  constructor(
    private readonly name: RevisionName,
    private readonly load: (db: Kysely<Database>) => Promise<T>,
  ) {}

  async get(db: Kysely<Database>): Promise<T> {
    const revision = await currentRevision(db, this.name);
    if (this.cached && this.cached.revision === revision) return this.cached.value;
    // A write transaction may hold changes that roll back later: read fresh, never file it.
    if (inWriteTransaction(db)) return this.load(db);
    if (this.loading && this.loading.revision === revision) return this.loading.promise;
    const promise = this.load(db).then((value) => {
      if (!this.cached || this.cached.revision <= revision) this.cached = { revision, value };
      return value;
    });
    this.loading = { revision, promise };
    try {
      return await promise;
    } finally {
      if (this.loading?.promise === promise) this.loading = undefined;
    }
  }
}
