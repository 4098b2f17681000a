import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuditLogTable, Database } from '../db/schema.js';
import type { Dialect } from '../db/migrator.js';
import { DISABLED_EVENTS_KEY } from './recorder.js';

export type AuditRow = Selectable<AuditLogTable>;

/** Filters of the audit view and export, already parsed. */
export interface AuditFilter {
  /** Inclusive, epoch ms. */
  from?: number;
  /** Exclusive, epoch ms. */
  to?: number;
  /** Login name, matched whole without regard to case. */
  user?: string;
  event?: string;
  /** Substring of the target, without regard to case. */
  target?: string;
  status?: 'success' | 'denied';
}

export class AuditRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  private filtered(f: AuditFilter, db: Kysely<Database> = this.db) {
    let q = db.selectFrom('audit_log').selectAll();
    if (f.from !== undefined) q = q.where('at', '>=', f.from);
    if (f.to !== undefined) q = q.where('at', '<', f.to);
    if (f.user !== undefined) {
      q = q.where(sql<boolean>`lower(login_name) = lower(${f.user})`);
    }
    if (f.event !== undefined) q = q.where('event', '=', f.event);
    if (f.status !== undefined) q = q.where('status', '=', f.status);
    if (f.target !== undefined) {
      // Plain substring search (no LIKE wildcards to escape); the same lower() on both sides.
      q = q.where(
        this.dialect === 'postgres'
          ? sql<boolean>`strpos(lower(target), lower(${f.target})) > 0`
          : sql<boolean>`instr(lower(target), lower(${f.target})) > 0`,
      );
    }
    return q;
  }

  /** Newest first: records with seq below `beforeSeq` (a cursor), after skipping `offset`. */
  async listNewestFirst(
    f: AuditFilter,
    page: { limit: number; beforeSeq?: number; offset?: number },
  ): Promise<AuditRow[]> {
    let q = this.filtered(f);
    if (page.beforeSeq !== undefined) q = q.where('seq', '<', page.beforeSeq);
    q = q.orderBy('seq', 'desc').limit(page.limit);
    if (page.offset) q = q.offset(page.offset);
    return q.execute();
  }

  /** Oldest first, seq in (afterSeq, upToSeq]: the export and the chain check page with this. */
  async pageOldestFirst(
    f: AuditFilter,
    afterSeq: number,
    upToSeq: number | null,
    limit: number,
  ): Promise<AuditRow[]> {
    let q = this.filtered(f).where('seq', '>', afterSeq);
    if (upToSeq !== null) q = q.where('seq', '<=', upToSeq);
    return q.orderBy('seq', 'asc').limit(limit).execute();
  }

  async lastSeq(): Promise<number | null> {
    const row = await this.db
      .selectFrom('audit_log')
      .select('seq')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? Number(row.seq) : null;
  }

  async disabledEvents(db: Kysely<Database> = this.db): Promise<string[]> {
    const row = await db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', DISABLED_EVENTS_KEY)
      .executeTakeFirst();
    if (!row) return [];
    try {
      const parsed = JSON.parse(row.value) as unknown;
      return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
    } catch {
      return [];
    }
  }

  async setDisabledEvents(db: Kysely<Database>, events: string[]): Promise<void> {
    const value = JSON.stringify(events);
    await db
      .insertInto('meta')
      .values({ key: DISABLED_EVENTS_KEY, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}
