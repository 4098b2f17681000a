import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../db/connect.js';
import { migrate } from '../db/migrator.js';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../test-support/harness.js';
import { RevisionCache, currentRevision } from './revision-cache.js';

const folder = (id: string, name: string) => ({
  id,
  parent_id: null,
  name,
  kind: 'folder',
  notes: '',
  tags: '[]',
  custom_fields: '{}',
  client_meta: '{}',
  block_inheritance: 0,
  owner_user_id: null,
  expires_at: null,
  created_at: 1,
  modified_at: 1,
  archived_at: null,
});

describe.each(DIALECTS)('revision counters and caches (%s)', (dialect) => {
  let tdb: TestDatabase;
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    await tdb.drop();
  });

  const open = async () => {
    const s = openStore({
      databaseUrl: tdb.databaseUrl,
      dataDir: tdb.dataDir,
      pgSchema: tdb.pgSchema,
    });
    stores.push(s);
    await migrate(s.db, s.dialect);
    return s;
  };

  const namesCache = () => {
    let loads = 0;
    const cache = new RevisionCache('folders', async (db) => {
      loads++;
      const rows = await db.selectFrom('folders').select('name').orderBy('name').execute();
      return rows.map((r) => r.name);
    });
    return { cache, loads: () => loads };
  };

  it('triggers bump the counters on insert, update and delete, whoever writes', async () => {
    tdb = await createTestDatabase(dialect);
    const s = await open();
    const f0 = await currentRevision(s.db, 'folders');
    const v0 = await currentRevision(s.db, 'vault');
    await s.db.insertInto('folders').values(folder('a', 'A')).execute();
    const f1 = await currentRevision(s.db, 'folders');
    await s.db.updateTable('folders').set({ name: 'A2' }).where('id', '=', 'a').execute();
    const f2 = await currentRevision(s.db, 'folders');
    await s.db.deleteFrom('folders').where('id', '=', 'a').execute();
    const f3 = await currentRevision(s.db, 'folders');
    expect(f1).toBeGreaterThan(f0);
    expect(f2).toBeGreaterThan(f1);
    expect(f3).toBeGreaterThan(f2);
    expect(await currentRevision(s.db, 'vault')).toBeGreaterThan(v0);
    // Other tables leave the folder counter alone.
    await s.db.insertInto('meta').values({ key: 'k', value: 'v' }).execute();
    expect(await currentRevision(s.db, 'folders')).toBe(f3);
  });

  it('reloads only when the revision moved, including after a change by another process', async () => {
    tdb = await createTestDatabase(dialect);
    const a = await open();
    const b = await open();
    const { cache, loads } = namesCache();
    expect(await cache.get(a.db)).toEqual([]);
    expect(await cache.get(a.db)).toEqual([]);
    expect(loads()).toBe(1);
    await b.db.insertInto('folders').values(folder('x', 'X')).execute();
    expect(await cache.get(a.db)).toEqual(['X']);
    expect(loads()).toBe(2);
  });

  it('never keeps what a rolled-back transaction saw', async () => {
    tdb = await createTestDatabase(dialect);
    const s = await open();
    const { cache } = namesCache();
    expect(await cache.get(s.db)).toEqual([]);
    await expect(
      s.transaction(async (trx) => {
        await trx.insertInto('folders').values(folder('ghost', 'Ghost')).execute();
        // Inside the transaction its own change is visible…
        expect(await cache.get(trx)).toEqual(['Ghost']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // …and after the rollback it is gone, even when another change brings the counter to the
    // same value the rolled-back transaction had.
    await s.db.insertInto('folders').values(folder('real', 'Real')).execute();
    expect(await cache.get(s.db)).toEqual(['Real']);
  });
});
