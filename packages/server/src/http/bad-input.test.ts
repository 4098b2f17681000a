import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { adminToken } from '../test-support/identity.js';

/**
 * Bad input on every route of the route table, as an administrator (so permission checks don't
 * hide validation): malformed JSON, wrong types, oversized bodies, malformed and unknown ids.
 * Each must get a clear 4xx with a stable error code — never a 5xx — and change nothing.
 */
const TABLES = [
  'users',
  'roles',
  'role_members',
  'role_children',
  'role_permissions',
  'folders',
  'entries',
  'entry_versions',
  'attachments',
  'access_levels',
  'grants',
  'meta',
  'data_keys',
] as const;

async function snapshot(ctx: TestContext): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(t)}`.execute(
      ctx.services.store.db,
    );
    out[t] = Number(r.rows[0]!.n);
  }
  // Content too, not only counts: a hash of every row of the tables that can be edited in place.
  for (const t of ['users', 'folders', 'entries', 'access_levels', 'grants', 'roles'] as const) {
    const rows = await ctx.services.store.db.selectFrom(t).selectAll().execute();
    out[`${t}:content`] = JSON.stringify(
      rows
        .map((r) => JSON.stringify(r, (_k, v) => (v && v.type === 'Buffer' ? v.data.length : v)))
        .sort(),
    ).length;
  }
  return out;
}

const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-000000000001';
const BAD_ID = 'not-an-id';

describe.each(DIALECTS)('bad input on every route (%s)', (dialect) => {
  let ctx: TestContext;
  let token: string;
  let routes: Array<{ method: string; url: string }>;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { config: { bodyLimitBytes: 256 * 1024 } });
    token = await adminToken(ctx);
    routes = ctx.app.routeTable
      .filter((r) => r.auth !== 'public' && r.url.startsWith('/api/v1/'))
      .map((r) => ({ method: r.method, url: r.url }));
  });
  afterAll(async () => {
    await ctx.close();
  });

  const call = (method: string, url: string, payload?: string, contentType = 'application/json') =>
    ctx.app.inject({
      method: method as 'GET',
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload !== undefined ? { 'content-type': contentType } : {}),
      },
      ...(payload !== undefined ? { payload } : {}),
    });

  const withIds = (url: string, id: string) => url.replace(/:[A-Za-z]+/g, id);
  const isBodyMethod = (m: string) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m);

  it('malformed JSON, wrong types and oversized bodies get a 4xx and change nothing', async () => {
    const before = await snapshot(ctx);
    const failures: string[] = [];
    for (const r of routes.filter((x) => isBodyMethod(x.method))) {
      const url = withIds(r.url, UNKNOWN_ID);
      const cases: Array<[string, string | undefined, string?]> = [
        ['malformed JSON', '{"name": '],
        ['array instead of object', '[1,2,3]'],
        [
          'wrong types',
          JSON.stringify({ name: 42, loginName: [], password: {}, parentId: 7, folderId: true }),
        ],
        ['null body', 'null'],
        ['oversized body', JSON.stringify({ name: 'x'.repeat(300 * 1024) })],
        ['not JSON at all', 'name=x', 'text/plain'],
      ];
      for (const [label, body, type] of cases) {
        const res = await call(r.method, url, body, type);
        const ok = res.statusCode >= 400 && res.statusCode < 500;
        const coded = ok && typeof res.json().error?.code === 'string';
        if (!ok || !coded)
          failures.push(
            `${r.method} ${r.url} [${label}] → ${res.statusCode} ${res.body.slice(0, 120)}`,
          );
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot(ctx)).toEqual(before);
  });

  it('malformed ids get 400 and unknown ids 404 (or 400), never a 5xx, on every route', async () => {
    const before = await snapshot(ctx);
    const failures: string[] = [];
    for (const r of routes.filter((x) => x.url.includes(':'))) {
      for (const [label, id, expected] of [
        ['malformed id', BAD_ID, [400, 404]],
        ['unknown id', UNKNOWN_ID, [400, 404]],
      ] as const) {
        const res = await call(
          r.method,
          withIds(r.url, id),
          isBodyMethod(r.method) ? '{}' : undefined,
        );
        if (!(expected as readonly number[]).includes(res.statusCode)) {
          failures.push(
            `${r.method} ${r.url} [${label}] → ${res.statusCode} ${res.body.slice(0, 120)}`,
          );
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot(ctx)).toEqual(before);
  });

  it('query strings of the wrong type get a 400, never a 5xx', async () => {
    const failures: string[] = [];
    for (const r of routes.filter((x) => x.method === 'GET')) {
      const url = `${withIds(r.url, UNKNOWN_ID)}?limit=abc&offset=-5&from=yesterday&q=${'x'.repeat(5000)}&format=exe`;
      const res = await call('GET', url);
      if (res.statusCode >= 500) failures.push(`${r.method} ${r.url} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
  });
});
