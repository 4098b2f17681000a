import { sql, type Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * Revision counters kept by the database itself: triggers bump them on every change of the
 * tables they watch, whatever code (or process) made the change. Server processes cache derived
 * data (the folder tree, access levels, the entry list) and reload it only when the counter has
 * moved; clients use the `vault` counter to tell whether what they hold is stale.
 *
 * FROZEN: once landed, never edit this file; add a new migration instead.
 */
const WATCHED: Record<string, string[]> = {
  folders: ['folders'],
  entries: ['entries'],
  access_levels: ['access_levels'],
  vault: ['folders', 'entries', 'attachments', 'grants', 'access_levels'],
};

export const m0003_revisions: Migration = {
  name: '0003_revisions',
  async up(db: Kysely<any>, dialect) {
    await db.schema
      .createTable('revisions')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'bigint', (c) => c.notNull())
      .execute();
    await db
      .insertInto('revisions')
      .values(Object.keys(WATCHED).map((name) => ({ name, value: 1 })))
      .execute();

    const byTable = new Map<string, string[]>();
    for (const [counter, tables] of Object.entries(WATCHED)) {
      for (const t of tables) byTable.set(t, [...(byTable.get(t) ?? []), counter]);
    }
    for (const [table, counters] of byTable) {
      const list = counters.map((c) => `'${c}'`).join(', ');
      const bump = `update revisions set value = value + 1 where name in (${list})`;
      if (dialect === 'postgres') {
        await sql
          .raw(
            `create function bump_revisions_${table}() returns trigger language plpgsql as $$ begin ${bump}; return null; end $$`,
          )
          .execute(db);
        await sql
          .raw(
            `create trigger revisions_${table} after insert or update or delete on ${table} for each statement execute function bump_revisions_${table}()`,
          )
          .execute(db);
      } else {
        for (const op of ['insert', 'update', 'delete']) {
          await sql
            .raw(
              `create trigger revisions_${table}_${op} after ${op} on ${table} begin ${bump}; end`,
            )
            .execute(db);
        }
      }
    }
  },
};
