import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import type { Dialect } from './migrator.js';

// int8 (counts, epoch-millisecond times) as JS numbers: every value we store fits in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /**
   * Runs fn in a write transaction. On SQLite it starts with BEGIN IMMEDIATE (the write lock is
   * taken at once, so a read-then-write never fails on a stale snapshot).
   */
  transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Runs fn in a transaction that holds a named exclusive lock across every server process. */
  exclusive<T>(lockName: string, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** PostgreSQL connection URL; when absent, SQLite in `dataDir`. */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** PostgreSQL schema to use (tests run each suite in its own). */
  pgSchema?: string | undefined;
  pgPoolSize?: number;
}

/** Kysely handles of open write transactions (see `inWriteTransaction`). */
const transactionHandles = new WeakSet<object>();

/**
 * Whether `db` is the handle of a write transaction opened by a Store: it may see changes that
 * are not committed yet (and may roll back), so nothing read through it may be cached.
 */
export function inWriteTransaction(db: object): boolean {
  return transactionHandles.has(db);
}

function track<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  transactionHandles.add(db);
  return fn(db);
}

/**
 * better-sqlite3 with prepared statements reused by SQL text (Kysely prepares on every query,
 * which costs more than running most of ours). A statement still busy (an open iterator of a
 * streamed query) is never handed out again: that call gets a fresh one.
 */
function cachedStatements(database: BetterSqlite3.Database): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => database.close(),
    prepare: (text: string) => {
      const hit = cache.get(text);
      if (hit && !hit.busy) return hit;
      const stmt = database.prepare(text);
      if (!hit) {
        // Queries with long IN lists differ by length: keep the cache bounded.
        if (cache.size >= 500) cache.clear();
        cache.set(text, stmt);
      }
      return stmt;
    },
  };
}

function lockKey(name: string): number {
  let h = 0;
  for (const ch of name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) | 0;
  return h;
}

export function openStore(opts: StoreOptions): Store {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.pgPoolSize ?? 10,
      ...(opts.pgSchema ? { options: `-c search_path=${opts.pgSchema}` } : {}),
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: 'postgres',
      transaction: (fn) => db.transaction().execute((trx) => track(trx, fn)),
      exclusive: (name, fn) =>
        db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(${lockKey(name)})`.execute(trx);
          return track(trx, fn);
        }),
      close: () => db.destroy(),
    };
  }
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const file = join(opts.dataDir, 'strongroom.db');
  const database = new BetterSqlite3(file);
  // The database holds sealed secrets and hashes: readable by the server's user only.
  chmodSync(file, 0o600);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 10000');
  // 64 MiB page cache (the default is 2 MiB): the hot tables of a large vault stay in memory.
  database.pragma('cache_size = -65536');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: cachedStatements(database) }),
  });
  // One connection per process: Kysely serialises its use, so a transaction is exclusive within
  // the process; BEGIN IMMEDIATE takes SQLite's write lock at once, which covers other processes
  // (the admin command line) without a stale-snapshot failure later in the transaction.
  const immediate = <T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> =>
    db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const result = await track(conn, fn);
        await sql`commit`.execute(conn);
        return result;
      } catch (err) {
        await sql`rollback`.execute(conn).catch(() => undefined);
        throw err;
      }
    });
  return {
    db,
    dialect: 'sqlite',
    transaction: immediate,
    exclusive: (_name, fn) => immediate(fn),
    close: () => db.destroy(),
  };
}
