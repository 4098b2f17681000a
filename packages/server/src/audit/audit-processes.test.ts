import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { compose, type Services } from '../compose.js';
import {
  DIALECTS,
  createTestDatabase,
  testConfig,
  type TestDatabase,
} from '../test-support/harness.js';
import { verifyAuditChain } from './verify.js';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** A separate Node process that composes the built server and appends `n` records at once. */
function appendFromProcess(env: Record<string, string>, who: string, n: number): Promise<string> {
  const script = `
    const { loadConfig } = await import(${JSON.stringify(pathToFileURL(`${DIST}config/config.js`).href)});
    const { compose } = await import(${JSON.stringify(pathToFileURL(`${DIST}compose.js`).href)});
    const s = await compose(loadConfig(process.env), { createKeyFile: false, backgroundJobs: false });
    try {
      await Promise.all(Array.from({ length: ${n} }, (_, i) => s.audit.record({
        event: 'Password Fetched', status: 'success',
        actor: { userId: null, loginName: ${JSON.stringify(who)}, ip: '127.0.0.1' },
        target: 'Root/' + i,
      })));
    } finally {
      await s.close();
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`)),
    );
  });
}

describe.each(DIALECTS)('audit appends from several processes (%s)', (dialect) => {
  let db: TestDatabase;
  let services: Services;

  beforeAll(async () => {
    if (!existsSync(`${DIST}compose.js`)) throw new Error('run `npm run build` first');
    db = await createTestDatabase(dialect);
    services = await compose(testConfig(db), { backgroundJobs: false });
  });
  afterAll(async () => {
    await services.close();
    await db.drop();
  });

  it('three processes appending 50 records each at once leave one valid chain', async () => {
    const env: Record<string, string> = {
      STRONGROOM_DATA_DIR: db.dataDir,
      STRONGROOM_WRAPPING_KEY_FILE: services.config.wrappingKeyFile,
      STRONGROOM_LOG_LEVEL: 'warn',
      ...(db.databaseUrl ? { STRONGROOM_DATABASE_URL: db.databaseUrl } : {}),
      ...(db.pgSchema ? { STRONGROOM_PG_SCHEMA: db.pgSchema } : {}),
    };
    await Promise.all([
      appendFromProcess(env, 'p1', 50),
      appendFromProcess(env, 'p2', 50),
      appendFromProcess(env, 'p3', 50),
    ]);
    const counts = await services.store.db
      .selectFrom('audit_log')
      .select(['login_name', sql<number>`count(*)`.as('n')])
      .where('login_name', 'in', ['p1', 'p2', 'p3'])
      .groupBy('login_name')
      .orderBy('login_name')
      .execute();
    expect(counts.map((c) => [c.login_name, Number(c.n)])).toEqual([
      ['p1', 50],
      ['p2', 50],
      ['p3', 50],
    ]);
    const total = await services.store.db
      .selectFrom('audit_log')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(await verifyAuditChain(services.store)).toMatchObject({
      ok: true,
      records: Number(total.n),
    });
  });
});
