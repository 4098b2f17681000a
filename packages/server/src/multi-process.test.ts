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
import { createRole, createUser } from './test-support/identity.js';

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
  const carolPassword = testSecret('carol');
  const adminPassword = testSecret('admin');
  let contractors: string;

  beforeAll(async () => {
    tdb = await createTestDatabase('postgres');
    const env = {
      STRONGROOM_DATABASE_URL: tdb.databaseUrl,
      STRONGROOM_PG_SCHEMA: tdb.pgSchema,
      STRONGROOM_WRAPPING_KEY: wrappingKey,
      STRONGROOM_ARGON2_MEMORY_KIB: '64',
      STRONGROOM_ARGON2_ITERATIONS: '1',
      STRONGROOM_LOGIN_RATE_ATTEMPTS: '100',
    };
    const services = await compose(testConfig(tdb, { wrappingKey }), { backgroundJobs: false });
    await createUser(services, { loginName: 'alice@corp.example', password: alicePassword });
    contractors = await createRole(services, 'Contractors');
    await createUser(services, { loginName: 'bob', password: bobPassword, roles: [contractors] });
    await createUser(services, { loginName: 'carol', password: carolPassword });
    await createUser(services, { loginName: 'root', password: adminPassword, administrator: true });
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

  const call = (
    server: ServerProcess,
    token: string,
    method: string,
    path: string,
    body: unknown,
  ) =>
    fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('a lockout counted across both processes holds on both, at the threshold of the policy', async () => {
    // An administrator on process A gives the Contractors role a strict policy (3 failures, 10
    // minutes); everyone else keeps the Default Policy (5 failures).
    const adminLogin = await login(a, 'root', adminPassword);
    expect(adminLogin.status).toBe(200);
    const { token } = (await adminLogin.json()) as { token: string };
    const created = await call(a, token, 'POST', '/policies', {
      name: 'Contractors',
      settings: { lockout: { threshold: 3, durationMinutes: 10 } },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const assigned = await call(a, token, 'PUT', `/roles/${contractors}/policy`, { policyId: id });
    expect(assigned.status).toBe(200);

    expect((await login(a, 'bob', 'wrong-1')).status).toBe(401);
    expect((await login(b, 'bob', 'wrong-2')).status).toBe(401);
    expect((await login(a, 'bob', 'wrong-3')).status).toBe(401);
    // Third failure reached the threshold: the right password is refused on both processes.
    const onB = await login(b, 'bob', bobPassword);
    expect(onB.status).toBe(403);
    const body = (await onB.json()) as { error: { code: string; retryAfterSeconds: number } };
    expect(body.error.code).toBe('account_locked');
    expect(body.error.retryAfterSeconds).toBeGreaterThan(590);
    const onA = await login(a, 'bob', bobPassword);
    expect(onA.status).toBe(403);

    // Carol is under the Default Policy: three failures don't lock her, five do.
    for (const [i, server] of [a, b, a].entries()) {
      expect((await login(server, 'carol', `wrong-${i}`)).status).toBe(401);
    }
    expect((await login(b, 'carol', carolPassword)).status).toBe(200);
    for (const [i, server] of [a, b, a, b, a].entries()) {
      expect((await login(server, 'carol', `wrong-${i}`)).status).toBe(401);
    }
    expect((await login(b, 'carol', carolPassword)).status).toBe(403);
  });

  it('both processes report the same server identity', async () => {
    const [ha, hb] = await Promise.all([
      fetch(`${a.url}/api/v1/health`).then((r) => r.json() as Promise<{ serverId: string }>),
      fetch(`${b.url}/api/v1/health`).then((r) => r.json() as Promise<{ serverId: string }>),
    ]);
    expect(ha.serverId).toBe(hb.serverId);
  });
});
