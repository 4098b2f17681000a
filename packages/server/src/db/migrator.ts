import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { m0001_initial } from './migrations/0001_initial.js';
import { m0002_audit_user_index } from './migrations/0002_audit_user_index.js';
import { m0003_revisions } from './migrations/0003_revisions.js';
import { m0004_entry_change_seq } from './migrations/0004_entry_change_seq.js';
import { m0005_client_configuration } from './migrations/0005_client_configuration.js';
import { m0006_policies_two_factor } from './migrations/0006_policies_two_factor.js';
import { m0007_offline_caches } from './migrations/0007_offline_caches.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  name: string;
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

/** Every migration, in order. Landed migrations are frozen: append, never edit. */
export const MIGRATIONS: readonly Migration[] = [
  m0001_initial,
  m0002_audit_user_index,
  m0003_revisions,
  m0004_entry_change_seq,
  m0005_client_configuration,
  m0006_policies_two_factor,
  m0007_offline_caches,
];

/** PostgreSQL advisory lock key for migrations ("strongroom.migrate"). */
const PG_MIGRATION_LOCK = 0x5354524d;

/**
 * Applies pending migrations in one transaction under an exclusive lock, so two processes that
 * start at once never both migrate: on PostgreSQL a transaction-scoped advisory lock, on SQLite
 * `BEGIN IMMEDIATE` (the second process waits on the write lock, then sees the work done).
 * Returns the names applied by this call.
 */
export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  return db.connection().execute(async (conn) => {
    await sql.raw(dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(conn);
    try {
      if (dialect === 'postgres') {
        await sql`select pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`.execute(conn);
      }
      await conn.schema
        .createTable('schema_migrations')
        .ifNotExists()
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('applied_at', 'bigint', (c) => c.notNull())
        .execute();
      const done = new Set(
        (await conn.selectFrom('schema_migrations').select('name').execute()).map((r) => r.name),
      );
      const applied: string[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.name)) continue;
        await m.up(conn, dialect);
        await conn
          .insertInto('schema_migrations')
          .values({ name: m.name, applied_at: Date.now() })
          .execute();
        applied.push(m.name);
      }
      await sql`commit`.execute(conn);
      return applied;
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
