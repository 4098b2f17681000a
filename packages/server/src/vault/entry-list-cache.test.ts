import { afterEach, describe, expect, it } from 'vitest';
import { newUuid } from '@strongroom/crypto';
import { openStore, type Store } from '../db/connect.js';
import { migrate } from '../db/migrator.js';
import { currentRevision } from '../shared/revision-cache.js';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../test-support/harness.js';
import { EntryListCache } from './entry-list-cache.js';
import type { EntryListRow } from './repository.js';

const NOW = 1_700_000_000_000;

describe.each(DIALECTS)('entry list cache on %s', (dialect) => {
  let tdb: TestDatabase | undefined;
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await tdb?.drop();
    tdb = undefined;
  });

  /** A migrated database with a root folder, and a store on it. */
  async function setup(): Promise<{ store: Store; folderId: string }> {
    tdb = await createTestDatabase(dialect);
    const store = open();
    await migrate(store.db, store.dialect);
    const folderId = newUuid();
    await store.db
      .insertInto('folders')
      .values({
        id: folderId,
        parent_id: null,
        name: 'Root',
        kind: 'root',
        notes: '',
        tags: '[]',
        custom_fields: '[]',
        client_meta: '{}',
        block_inheritance: 0,
        created_at: NOW,
        modified_at: NOW,
      })
      .execute();
    return { store, folderId };
  }

  /** Another store on the same database (on PostgreSQL its own pool, as another process has). */
  function open(): Store {
    const t = tdb!;
    const s = openStore({ databaseUrl: t.databaseUrl, dataDir: t.dataDir, pgSchema: t.pgSchema });
    stores.push(s);
    return s;
  }

  async function insert(store: Store, folderId: string, name: string): Promise<string> {
    const id = newUuid();
    await store.db
      .insertInto('entries')
      .values({
        id,
        folder_id: folderId,
        name,
        username: '',
        url: '',
        tags: '[]',
        client_meta: '{}',
        created_at: NOW,
        modified_at: NOW,
        version: 1,
      })
      .execute();
    return id;
  }

  const byId = (list: readonly EntryListRow[]) => new Map(list.map((r) => [r.id, r]));
  const names = (list: readonly EntryListRow[]) => list.map((r) => r.name).sort();

  it('stamps every inserted and updated row with a revision above the one before', async () => {
    const { store, folderId } = await setup();
    const seq = async (id: string) =>
      Number(
        (
          await store.db
            .selectFrom('entries')
            .select('change_seq')
            .where('id', '=', id)
            .executeTakeFirstOrThrow()
        ).change_seq,
      );
    const r0 = await currentRevision(store.db, 'entries');
    const a = await insert(store, folderId, 'a');
    const sa = await seq(a);
    expect(sa).toBeGreaterThan(r0);
    expect(sa).toBeLessThanOrEqual(await currentRevision(store.db, 'entries'));
    const r1 = await currentRevision(store.db, 'entries');
    await store.db
      .updateTable('entries')
      .set({ url: 'https://a.example' })
      .where('id', '=', a)
      .execute();
    expect(await seq(a)).toBeGreaterThan(r1);
    expect(await seq(a)).toBeLessThanOrEqual(await currentRevision(store.db, 'entries'));
  });

  it('shows inserts, updates, archiving, restoring and deletion, reading only changed rows', async () => {
    const { store, folderId } = await setup();
    const cache = new EntryListCache();
    const a = await insert(store, folderId, 'a');
    const b = await insert(store, folderId, 'b');
    const first = await cache.get(store.db);
    expect(names(first)).toEqual(['a', 'b']);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.every((r) => Object.isFrozen(r))).toBe(true);
    expect(cache.stats).toEqual({ full: 1, incremental: 0 });
    // Unchanged: the very same array.
    expect(await cache.get(store.db)).toBe(first);

    const c = await insert(store, folderId, 'c');
    const second = await cache.get(store.db);
    expect(names(second)).toEqual(['a', 'b', 'c']);
    expect(byId(second).get(a)).toBe(byId(first).get(a));
    expect(byId(second).get(b)).toBe(byId(first).get(b));

    await store.db.updateTable('entries').set({ name: 'b2' }).where('id', '=', b).execute();
    const third = await cache.get(store.db);
    expect(names(third)).toEqual(['a', 'b2', 'c']);
    expect(byId(third).get(a)).toBe(byId(first).get(a));
    expect(byId(third).get(c)).toBe(byId(second).get(c));
    expect(byId(third).get(b)).not.toBe(byId(first).get(b));

    // A change to a column the list does not show (the password) keeps the row object.
    await store.db
      .updateTable('entries')
      .set({ password_sealed: Buffer.from([1, 2, 3]) })
      .where('id', '=', a)
      .execute();
    const fourth = await cache.get(store.db);
    expect(byId(fourth).get(a)).toBe(byId(first).get(a));

    await store.db.updateTable('entries').set({ archived_at: NOW }).where('id', '=', a).execute();
    expect(names(await cache.get(store.db))).toEqual(['b2', 'c']);
    await store.db.updateTable('entries').set({ archived_at: null }).where('id', '=', a).execute();
    expect(names(await cache.get(store.db))).toEqual(['a', 'b2', 'c']);
    expect(cache.stats).toEqual({ full: 1, incremental: 5 });

    await store.db.deleteFrom('entries').where('id', '=', c).execute();
    const afterDelete = await cache.get(store.db);
    expect(names(afterDelete)).toEqual(['a', 'b2']);
    expect(cache.stats.full).toBe(2);
    // The reload still hands out the unchanged row objects.
    expect(byId(afterDelete).get(b)).toBe(byId(third).get(b));
  });

  it('reloads everything when a deletion hides behind an insert (the count differs)', async () => {
    const { store, folderId } = await setup();
    const cache = new EntryListCache();
    const a = await insert(store, folderId, 'a');
    await insert(store, folderId, 'b');
    await cache.get(store.db);
    await store.transaction(async (trx) => {
      await trx.deleteFrom('entries').where('id', '=', a).execute();
      await trx
        .insertInto('entries')
        .values({
          id: newUuid(),
          folder_id: folderId,
          name: 'c',
          username: '',
          url: '',
          tags: '[]',
          client_meta: '{}',
          created_at: NOW,
          modified_at: NOW,
          version: 1,
        })
        .execute();
    });
    expect(names(await cache.get(store.db))).toEqual(['b', 'c']);
    expect(cache.stats).toEqual({ full: 2, incremental: 0 });
  });

  it('sees changes committed through another store on the same database', async () => {
    const { store, folderId } = await setup();
    const other = open();
    const cache = new EntryListCache();
    const a = await insert(store, folderId, 'a');
    const first = await cache.get(store.db);

    const b = await insert(other, folderId, 'b');
    await other.db.updateTable('entries').set({ username: 'u' }).where('id', '=', a).execute();
    const second = await cache.get(store.db);
    expect(names(second)).toEqual(['a', 'b']);
    expect(byId(second).get(a)?.username).toBe('u');

    await other.db.updateTable('entries').set({ archived_at: NOW }).where('id', '=', b).execute();
    expect(names(await cache.get(store.db))).toEqual(['a']);
    await other.db.deleteFrom('entries').where('id', '=', a).execute();
    expect(await cache.get(store.db)).toEqual([]);
    expect(first).toHaveLength(1);
  });

  it('picks up a change that was still uncommitted during a refresh once it commits', async () => {
    const { store, folderId } = await setup();
    const other = open();
    const cache = new EntryListCache();
    await insert(store, folderId, 'a');
    await cache.get(store.db);
    // Committed before the other transaction starts, so the next get refreshes while the other
    // transaction's change is still uncommitted.
    await insert(store, folderId, 'b');

    let inserted!: () => void;
    let release!: () => void;
    const insertedP = new Promise<void>((r) => (inserted = r));
    const releaseP = new Promise<void>((r) => (release = r));
    const writer = other.transaction(async (trx) => {
      await trx
        .insertInto('entries')
        .values({
          id: newUuid(),
          folder_id: folderId,
          name: 'late',
          username: '',
          url: '',
          tags: '[]',
          client_meta: '{}',
          created_at: NOW,
          modified_at: NOW,
          version: 1,
        })
        .execute();
      inserted();
      await releaseP;
    });
    await insertedP;
    expect(names(await cache.get(store.db))).toEqual(['a', 'b']);
    expect(cache.stats).toEqual({ full: 1, incremental: 1 });
    release();
    await writer;
    expect(names(await cache.get(store.db))).toEqual(['a', 'b', 'late']);
    expect(cache.stats).toEqual({ full: 1, incremental: 2 });
  });

  it('never shows a rolled-back change, nor files what a write transaction read', async () => {
    const { store, folderId } = await setup();
    const cache = new EntryListCache();
    await insert(store, folderId, 'a');
    const before = await cache.get(store.db);

    await expect(
      store.transaction(async (trx) => {
        await trx
          .insertInto('entries')
          .values({
            id: newUuid(),
            folder_id: folderId,
            name: 'ghost',
            username: '',
            url: '',
            tags: '[]',
            client_meta: '{}',
            created_at: NOW,
            modified_at: NOW,
            version: 1,
          })
          .execute();
        // The transaction itself sees its own change...
        expect(names(await cache.get(trx))).toEqual(['a', 'ghost']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // ...but nobody after it does, and the cache was left as it was.
    expect(await cache.get(store.db)).toBe(before);
    expect(cache.stats).toEqual({ full: 1, incremental: 0 });

    await insert(store, folderId, 'b');
    expect(names(await cache.get(store.db))).toEqual(['a', 'b']);
  });

  it('shares one refresh between concurrent readers', async () => {
    const { store, folderId } = await setup();
    const cache = new EntryListCache();
    await insert(store, folderId, 'a');
    await cache.get(store.db);
    await insert(store, folderId, 'b');
    const [x, y, z] = await Promise.all([
      cache.get(store.db),
      cache.get(store.db),
      cache.get(store.db),
    ]);
    expect(names(x)).toEqual(['a', 'b']);
    expect(y).toBe(x);
    expect(z).toBe(x);
    expect(cache.stats).toEqual({ full: 1, incremental: 1 });
  });
});
