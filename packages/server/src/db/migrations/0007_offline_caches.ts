import { sql, type Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * Offline mode, server side (offline-mode §2, §4).
 * - `offline_caches`: every cache the server packaged (the inventory): owner, login name as
 *   stored, client label, usage comment, times (epoch ms), entry count, the owner's revision at
 *   packaging time, and the status ('active' | 'revoked' | 'cleared') with when, why and by whom
 *   it last changed. `user_id` has no foreign key on purpose: the inventory outlives the user
 *   (their caches are revoked, not forgotten).
 * - `offline_cache_entries`: which entries went into which cache, so a journal upload can be
 *   checked against what the cache really held.
 * - `offline_journal`: journal records already recorded, keyed by the client's record id, so an
 *   upload sent twice is recorded once.
 * - Two more revision counters kept by triggers (see 0003): `grants` (the grants table) and
 *   `principals` (role memberships, sub-roles, roles, deleted or disabled users). With the
 *   `folders` and `access_levels` counters they tell a server process, in one read, whether
 *   anything that can take offline access away has changed since it last checked.
 *
 * FROZEN: once landed, never edit this file; add a new migration instead.
 */
const WATCHED: Array<{ table: string; counter: string; ops: string[] }> = [
  { table: 'grants', counter: 'grants', ops: ['insert', 'update', 'delete'] },
  { table: 'role_members', counter: 'principals', ops: ['insert', 'update', 'delete'] },
  { table: 'role_children', counter: 'principals', ops: ['insert', 'update', 'delete'] },
  { table: 'roles', counter: 'principals', ops: ['insert', 'update', 'delete'] },
  { table: 'users', counter: 'principals', ops: ['update of enabled', 'delete'] },
];

export const m0007_offline_caches: Migration = {
  name: '0007_offline_caches',
  async up(db: Kysely<any>, dialect) {
    await db.schema
      .createTable('offline_caches')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('login_name', 'text', (c) => c.notNull())
      .addColumn('client_label', 'text')
      .addColumn('comment', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint')
      .addColumn('max_offline_until', 'bigint')
      .addColumn('entry_count', 'integer', (c) => c.notNull())
      .addColumn('revision', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('status_changed_at', 'bigint')
      .addColumn('status_reason', 'text')
      .addColumn('status_by', 'text')
      .execute();
    await db.schema
      .createIndex('offline_caches_user')
      .on('offline_caches')
      .columns(['user_id', 'status'])
      .execute();
    await db.schema
      .createIndex('offline_caches_status')
      .on('offline_caches')
      .columns(['status', 'created_at'])
      .execute();
    // 10,000 rows per cache are common: on SQLite one B-tree (the key) rather than two.
    let entries = db.schema
      .createTable('offline_cache_entries')
      .addColumn('cache_id', 'text', (c) =>
        c.notNull().references('offline_caches.id').onDelete('cascade'),
      )
      .addColumn('entry_id', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('offline_cache_entries_pk', ['cache_id', 'entry_id']);
    if (dialect === 'sqlite') entries = entries.modifyEnd(sql`without rowid`);
    await entries.execute();
    let journal = db.schema
      .createTable('offline_journal')
      .addColumn('cache_id', 'text', (c) =>
        c.notNull().references('offline_caches.id').onDelete('cascade'),
      )
      .addColumn('record_id', 'text', (c) => c.notNull())
      .addColumn('entry_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('occurred_at', 'bigint', (c) => c.notNull())
      .addColumn('recorded_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('offline_journal_pk', ['cache_id', 'record_id']);
    if (dialect === 'sqlite') journal = journal.modifyEnd(sql`without rowid`);
    await journal.execute();

    await db
      .insertInto('revisions')
      .values([
        { name: 'grants', value: 1 },
        { name: 'principals', value: 1 },
      ])
      .execute();
    for (const { table, counter, ops } of WATCHED) {
      const bump = `update revisions set value = value + 1 where name = '${counter}'`;
      if (dialect === 'postgres') {
        await sql
          .raw(
            `create function bump_offline_${table}() returns trigger language plpgsql as $$ begin ${bump}; return null; end $$`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger offline_revisions_${table} after ${ops.join(' or ')} on ${table} for each statement execute function bump_offline_${table}()`,
          )
          .execute(db);
      } else {
        for (const op of ops) {
          const suffix = op.split(' ')[0];
          await sql
            .raw(
              `create trigger offline_revisions_${table}_${suffix} after ${op} on ${table} begin ${bump}; end`,
            )
            .execute(db);
        }
      }
    }
  },
};
