import { sql, type Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * `entries.change_seq`: the value of the `entries` revision counter (migration 0003) at the
 * entry's last insert or update, set by the database itself so every writer (any process, any
 * code path) is covered. A process that cached the entry list at revision R brings it up to date
 * by reading only the rows with `change_seq > R` (see vault/entry-list-cache.ts). Rows that
 * existed before this migration keep 0: a full load takes them.
 *
 * Ordering: on PostgreSQL the trigger bumps the counter row, whose row lock is held until the
 * transaction ends, so committed change_seq values are ordered like the commits; a snapshot that
 * shows the counter at R shows every committed change with change_seq <= R and none above.
 * SQLite has one writer at a time, which gives the same guarantee. The triggers of 0003 still
 * bump the counter too (on SQLite once more for the trigger's own update): extra bumps only move
 * the counter further, which is harmless.
 *
 * FROZEN: once landed, never edit this file; add a new migration instead.
 */
export const m0004_entry_change_seq: Migration = {
  name: '0004_entry_change_seq',
  async up(db: Kysely<any>, dialect) {
    await db.schema
      .alterTable('entries')
      .addColumn('change_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('entries_change_seq').on('entries').column('change_seq').execute();

    if (dialect === 'postgres') {
      await sql
        .raw(
          `create function set_entry_change_seq() returns trigger language plpgsql as $$
           declare v bigint;
           begin
             update revisions set value = value + 1 where name = 'entries' returning value into v;
             new.change_seq := v;
             return new;
           end $$`,
        )
        .execute(db);
      await sql
        .raw(
          `create trigger entries_change_seq before insert or update on entries
           for each row execute function set_entry_change_seq()`,
        )
        .execute(db);
      return;
    }

    // SQLite cannot assign NEW in a trigger: bump, then stamp the row. The stamping update
    // changes change_seq, so the update trigger's WHEN clause keeps it from firing again.
    const stamp = `update revisions set value = value + 1 where name = 'entries';
      update entries set change_seq = (select value from revisions where name = 'entries')
        where id = new.id;`;
    await sql
      .raw(`create trigger entries_change_seq_insert after insert on entries begin ${stamp} end`)
      .execute(db);
    await sql
      .raw(
        `create trigger entries_change_seq_update after update on entries
         when new.change_seq = old.change_seq begin ${stamp} end`,
      )
      .execute(db);
  },
};
