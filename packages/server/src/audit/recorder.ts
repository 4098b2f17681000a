import { CompiledQuery, sql, type Kysely } from 'kysely';
import { newUuid, sha256Hex } from '@strongroom/crypto';
import type { Database } from '../db/schema.js';
import { inWriteTransaction, type Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import { ALWAYS_ON_EVENTS, type AuditEventName } from './events.js';

export interface AuditActor {
  userId: string | null;
  loginName: string;
  ip: string;
}

export interface AuditInput {
  event: AuditEventName;
  status: 'success' | 'denied';
  actor: AuditActor;
  /** Full path of the folder or entry, or the name of the user / role / level concerned. */
  target?: string;
  /** Never secrets. */
  details?: Record<string, unknown>;
  offline?: boolean;
  occurredAt?: number | null;
}

export const GENESIS_HASH = '0'.repeat(64);

/** The fields covered by a record's hash, in a fixed order. */
export interface ChainedFields {
  id: string;
  at: number;
  user_id: string | null;
  login_name: string;
  ip: string;
  event: string;
  status: string;
  target: string;
  details: string;
  offline: number;
  occurred_at: number | null;
}

export function recordHash(prevHash: string, f: ChainedFields): string {
  const canonical = JSON.stringify([
    f.id,
    f.at,
    f.user_id,
    f.login_name,
    f.ip,
    f.event,
    f.status,
    f.target,
    f.details,
    f.offline,
    f.occurred_at,
  ]);
  return sha256Hex(`${prevHash}\n${canonical}`);
}

/** Settings key under `meta` listing switched-off event names (JSON array). */
export const DISABLED_EVENTS_KEY = 'audit.disabled_events';

/**
 * Appends records to the hash-chained audit log. Appends are serialised by a lock shared by all
 * server processes; when called with a transaction the record commits or rolls back with the
 * change it describes.
 */
export class AuditRecorder {
  private disabled: ReadonlySet<string> = new Set();
  private disabledLoadedAt = 0;
  private sinks: Array<(line: Record<string, unknown>) => void> = [];
  /** Records waiting for the next group commit. */
  private pending: Array<{
    inputs: AuditInput[];
    resolve: () => void;
    reject: (err: unknown) => void;
  }> = [];
  private flushing = false;
  /** Sink deliveries waiting for their transaction to end, delivered in chain order. */
  private pendingDeliveries = 0;
  private deliveries: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  addSink(sink: (line: Record<string, unknown>) => void): void {
    this.sinks.push(sink);
  }

  /** Re-reads switched-off events at most every few seconds (other processes may change them). */
  private async disabledEvents(db: Kysely<Database>): Promise<ReadonlySet<string>> {
    const now = Date.now();
    if (now - this.disabledLoadedAt > 5_000) {
      const row = await db
        .selectFrom('meta')
        .select('value')
        .where('key', '=', DISABLED_EVENTS_KEY)
        .executeTakeFirst();
      this.disabled = new Set(row ? (JSON.parse(row.value) as string[]) : []);
      this.disabledLoadedAt = now;
    }
    return this.disabled;
  }

  invalidateSettings(): void {
    this.disabledLoadedAt = 0;
  }

  async record(input: AuditInput, trx?: Kysely<Database>): Promise<void> {
    await this.recordMany([input], trx);
  }

  async recordMany(inputs: AuditInput[], trx?: Kysely<Database>): Promise<void> {
    if (inputs.length === 0) return;
    // Appends need a transaction (the chain lock is transaction-scoped): without the caller's,
    // they join the next group commit.
    if (trx === undefined || !inWriteTransaction(trx)) return this.grouped(inputs);
    const written = await this.append(trx, inputs);
    if (written && this.sinks.length > 0) {
      // With sinks on PostgreSQL, the id of the caller's transaction tells later whether it
      // committed; the caller's transaction may still roll back.
      let txid: string | null = null;
      if (this.store.dialect === 'postgres') {
        const r = await sql<{ txid: string }>`select txid_current()::text as txid`.execute(trx);
        txid = r.rows[0]?.txid ?? null;
      }
      this.deliver(written, this.committed(written[0]!.id, txid));
    }
  }

  /**
   * Group commit: records not tied to a caller's transaction are appended together, one
   * transaction for all that arrived while the previous one was being written. Each caller's
   * promise settles when its records are committed (or the append failed).
   */
  private grouped(inputs: AuditInput[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ inputs, resolve, reject });
      if (!this.flushing) {
        // Start after the requests already in this turn of the event loop have queued theirs.
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0);
        try {
          const written = await this.store.transaction((db) =>
            this.append(
              db,
              batch.flatMap((b) => b.inputs),
            ),
          );
          if (written && this.sinks.length > 0) this.deliver(written, true);
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Appends records to the chain inside `db`'s transaction; returns the rows written. */
  private async append(
    db: Kysely<Database>,
    inputs: AuditInput[],
  ): Promise<Array<ChainedFields & { prev_hash: string; hash: string }> | undefined> {
    const disabled = await this.disabledEvents(db);
    const kept = inputs.filter((i) => ALWAYS_ON_EVENTS.has(i.event) || !disabled.has(i.event));
    if (kept.length === 0) return undefined;
    await this.lockChain(db);
    const last = await db
      .selectFrom('audit_log')
      .select('hash')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    let prev = last?.hash ?? GENESIS_HASH;
    const at = this.clock.now();
    const rows = kept.map((i) => {
      const f: ChainedFields = {
        id: newUuid(),
        at,
        user_id: i.actor.userId,
        login_name: i.actor.loginName,
        ip: i.actor.ip,
        event: i.event,
        status: i.status,
        target: i.target ?? '',
        details: JSON.stringify(i.details ?? {}),
        offline: i.offline ? 1 : 0,
        occurred_at: i.occurredAt ?? null,
      };
      const hash = recordHash(prev, f);
      const row = { ...f, prev_hash: prev, hash };
      prev = hash;
      return row;
    });
    await insertRows(db, this.store.dialect, rows);
    return rows;
  }

  /** Resolves once every record written so far has been handed to the sinks (or dropped). */
  async flushSinks(): Promise<void> {
    await this.deliveries;
  }

  private emit(rows: Array<ChainedFields & { hash: string }>): void {
    for (const row of rows) {
      const line = toPublicRecord(row);
      for (const sink of this.sinks) {
        try {
          sink(line);
        } catch {
          // A sink never fails the change the record belongs to (it has committed).
        }
      }
    }
  }

  /**
   * Hands records to the sinks once their transaction has committed, never those of one that
   * rolled back, in chain order (a later append waited for the earlier transaction's lock).
   */
  private deliver(
    rows: Array<ChainedFields & { hash: string }>,
    committed: true | Promise<boolean>,
  ): void {
    if (committed === true && this.pendingDeliveries === 0) {
      this.emit(rows);
      return;
    }
    // If the outcome can't be read (the database went away), nothing is delivered.
    const outcome = committed === true ? true : committed.catch(() => false);
    this.pendingDeliveries++;
    this.deliveries = this.deliveries.then(async () => {
      try {
        if (await outcome) this.emit(rows);
      } finally {
        this.pendingDeliveries--;
      }
    });
  }

  /** Whether the caller's transaction that wrote record `id` committed; waits until it ends. */
  private async committed(id: string, txid: string | null): Promise<boolean> {
    const exists = async () =>
      (await this.store.db
        .selectFrom('audit_log')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst()) !== undefined;
    // SQLite: the store has one connection, so this query runs after that transaction ended.
    if (this.store.dialect !== 'postgres' || txid === null) return exists();
    for (let wait = 5; ; wait = Math.min(wait * 2, 500)) {
      const r = await sql<{
        status: string | null;
      }>`select txid_status(${txid}::bigint) as status`.execute(this.store.db);
      const status = r.rows[0]?.status ?? null;
      if (status === 'committed') return true;
      if (status === 'aborted') return false;
      if (status === null) return exists();
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private async lockChain(db: Kysely<Database>): Promise<void> {
    if (this.store.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(${0x41554454})`.execute(db);
    }
  }
}

/** The columns of an appended record, in insert order. */
const COLUMNS = [
  'id',
  'at',
  'user_id',
  'login_name',
  'ip',
  'event',
  'status',
  'target',
  'details',
  'offline',
  'occurred_at',
  'prev_hash',
  'hash',
] as const;
const PG_TYPES: Partial<Record<(typeof COLUMNS)[number], string>> = {
  at: 'bigint',
  offline: 'integer',
  occurred_at: 'bigint',
};
/** Rows in array order (the chain's order): `seq` is drawn as they are inserted. */
const PG_INSERT = `insert into audit_log (${COLUMNS.join(', ')}) select ${COLUMNS.join(', ')} from rows from (json_to_recordset($1::json) as (${COLUMNS.map((c) => `${c} ${PG_TYPES[c] ?? 'text'}`).join(', ')})) with ordinality as r(${COLUMNS.join(', ')}, n) order by n`;
/** SQLite: rows per statement (13 parameters each, well under the bind-parameter limit). */
const SQLITE_ROWS = 500;
const sqliteInserts = new Map<number, string>();

/**
 * Inserts appended rows with statements written out once rather than built row by row (an
 * offline sync appends 10,000 at once): on PostgreSQL one statement whatever the number of rows
 * (the rows as one JSON parameter), on SQLite multi-row inserts of up to 500 rows.
 */
async function insertRows(
  db: Kysely<Database>,
  dialect: Store['dialect'],
  rows: ReadonlyArray<ChainedFields & { prev_hash: string; hash: string }>,
): Promise<void> {
  if (dialect === 'postgres') {
    // The rows travel as one JSON text: building one array literal per column in the driver
    // (quoting every element) cost this process about twice the CPU time.
    await db.executeQuery(CompiledQuery.raw(PG_INSERT, [JSON.stringify(rows, COLUMNS as never)]));
    return;
  }
  for (let i = 0; i < rows.length; i += SQLITE_ROWS) {
    const part = rows.slice(i, i + SQLITE_ROWS);
    let text = sqliteInserts.get(part.length);
    if (text === undefined) {
      const row = `(${COLUMNS.map(() => '?').join(', ')})`;
      text = `insert into audit_log (${COLUMNS.join(', ')}) values ${Array.from({ length: part.length }, () => row).join(', ')}`;
      sqliteInserts.set(part.length, text);
    }
    const params: unknown[] = [];
    for (const r of part) for (const c of COLUMNS) params.push(r[c]);
    await db.executeQuery(CompiledQuery.raw(text, params));
  }
}

export function toPublicRecord(row: ChainedFields & { hash?: string }): Record<string, unknown> {
  return {
    id: row.id,
    time: new Date(row.at).toISOString(),
    user: row.login_name,
    ip: row.ip,
    event: row.event,
    status: row.status,
    target: row.target,
    details: JSON.parse(row.details) as unknown,
    offline: row.offline === 1,
    occurredAt: row.occurred_at === null ? null : new Date(row.occurred_at).toISOString(),
    ...(row.hash ? { hash: row.hash } : {}),
  };
}
