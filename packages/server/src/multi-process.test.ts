import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatWrappingKey, newKeyMaterial } from '@strongroom/crypto';
import { compose } from './compose.js';
import {
  createTestDatabase,
  testConfig,
  testSecret,
  type TestDatabase,
} from './test-support/harness.js';
import { startServerProcess, type ServerProcess } from './shared/server-process.js';
import { createUser } from './test-support/identity.js';

/**
 * Two server processes on one PostgreSQL database behave as one server (spec §8): nothing another
 * process needs lives only in one process's memory.
 */
describe('two server processes on one PostgreSQL', () => {
  let tdb: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  const wrappingKey = formatWrappingKey(newKeyMaterial());
  const alicePassword = testSecret('alice');
  const bobPassword = testSecret('bob');

  beforeAll(async () => {
    tdb = await createTestDatabase('postgres');
    const env = {
      STRONGROOM_DATABASE_URL: tdb.databaseUrl,
      STRONGROOM_PG_SCHEMA: tdb.pgSchema,
      STRONGROOM_WRAPPING_KEY: wrappingKey,
      STRONGROOM_ARGON2_MEMORY_KIB: '64',
      STRONGROOM_ARGON2_ITERATIONS: '1',
      STRONGROOM_LOCKOUT_THRESHOLD: '3',
      STRONGROOM_LOCKOUT_MINUTES: '10',
      STRONGROOM_LOGIN_RATE_ATTEMPTS: '100',
    };
    const services = await compose(testConfig(tdb, { wrappingKey }), { backgroundJobs: false });
    await createUser(services, { loginName: 'alice@corp.example', password: alicePassword });
    await createUser(services, { loginName: 'bob', password: bobPassword });
    await services.close();
    // Start both at once: they race on migrations and first-start seeding.
    [a, b] = await Promise.all([
      startServerProcess({ ...env, STRONGROOM_DATA_DIR: `${tdb.dataDir}/a` }),
      startServerProcess({ ...env, STRONGROOM_DATA_DIR: `${tdb.dataDir}/b` }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await tdb?.drop();
  });

  const login = (server: ServerProcess, loginName: string, password: string) =>
    fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ loginName, password }),
    });

  it('a session made on one process works on the other, and logout on the other ends it', async () => {
    const res = await login(a, 'alice@corp.example', alicePassword);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const me = await fetch(`${b.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { loginName: string }).loginName).toBe('alice@corp.example');

    const out = await fetch(`${b.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(out.status).toBeLessThan(300);
    const after = await fetch(`${a.url}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(after.status).toBe(401);
  });

  it('a lockout counted across both processes holds on both', async () => {
    expect((await login(a, 'bob', 'wrong-1')).status).toBe(401);
    expect((await login(b, 'bob', 'wrong-2')).status).toBe(401);
    expect((await login(a, 'bob', 'wrong-3')).status).toBe(401);
    // Third failure reached the threshold: the right password is refused on both processes.
    const onB = await login(b, 'bob', bobPassword);
    expect(onB.status).toBe(403);
    expect(((await onB.json()) as { error: { code: string } }).error.code).toBe('account_locked');
    const onA = await login(a, 'bob', bobPassword);
    expect(onA.status).toBe(403);
  });

  it('both processes report the same server identity', async () => {
    const [ha, hb] = await Promise.all([
      fetch(`${a.url}/api/v1/health`).then((r) => r.json() as Promise<{ serverId: string }>),
      fetch(`${b.url}/api/v1/health`).then((r) => r.json() as Promise<{ serverId: string }>),
    ]);
    expect(ha.serverId).toBe(hb.serverId);
  });
});
