import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openStore } from './connect.js';
import { MIGRATIONS, migrate } from './migrator.js';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../test-support/harness.js';

describe.each(DIALECTS)('migrations on %s', (dialect) => {
  let tdb: TestDatabase | undefined;
  afterEach(async () => {
    await tdb?.drop();
    tdb = undefined;
  });

  const open = (t: TestDatabase) =>
    openStore({ databaseUrl: t.databaseUrl, dataDir: t.dataDir, pgSchema: t.pgSchema });

  it('applies every migration once and is a no-op the second time', async () => {
    tdb = await createTestDatabase(dialect);
    const store = open(tdb);
    expect(await migrate(store.db, store.dialect)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await migrate(store.db, store.dialect)).toEqual([]);
    const users = await store.db.selectFrom('users').selectAll().execute();
    expect(users).toEqual([]);
    await store.close();
  });

  it('two processes starting at once: exactly one migrates, both end up with the schema', async () => {
    tdb = await createTestDatabase(dialect);
    const t = tdb;
    // Real processes running the built server code, as two servers starting together would.
    const dist = fileURLToPath(new URL('../../dist/db/', import.meta.url));
    const script = `
      const { openStore } = await import(${JSON.stringify(`${dist}connect.js`)});
      const { migrate } = await import(${JSON.stringify(`${dist}migrator.js`)});
      const s = openStore(JSON.parse(process.env.STORE));
      console.log(JSON.stringify(await migrate(s.db, s.dialect)));
      await s.close();`;
    const run = () =>
      promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: {
          ...process.env,
          STORE: JSON.stringify({
            databaseUrl: t.databaseUrl,
            dataDir: t.dataDir,
            pgSchema: t.pgSchema,
          }),
        },
      }).then((r) => JSON.parse(r.stdout) as string[]);
    const [ra, rb] = await Promise.all([run(), run()]);
    expect([...ra, ...rb].sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());
    const store = open(t);
    const count = await sql<{ n: number }>`select count(*) as n from schema_migrations`.execute(
      store.db,
    );
    expect(Number(count.rows[0]!.n)).toBe(MIGRATIONS.length);
    await store.close();
  });

  it('rolls back a failed migration completely', async () => {
    tdb = await createTestDatabase(dialect);
    const store = open(tdb);
    await migrate(store.db, store.dialect);
    const failing = {
      name: '9999_failing',
      up: async (db: any) => {
        await db.schema.createTable('half_done').addColumn('x', 'integer').execute();
        throw new Error('boom');
      },
    };
    (MIGRATIONS as any[]).push(failing);
    try {
      await expect(migrate(store.db, store.dialect)).rejects.toThrow('boom');
    } finally {
      (MIGRATIONS as any[]).pop();
    }
    await expect(sql`select * from half_done`.execute(store.db)).rejects.toThrow();
    await store.close();
  });
});
