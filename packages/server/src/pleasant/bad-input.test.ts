import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { createUser, login } from '../test-support/identity.js';
import { PleasantClient, type Response } from './pleasant.support.js';

/**
 * Bad input on every route of the Pleasant-compatible API (every path of both versions and the
 * legacy aliases, taken from the route table), as an administrator with user access through the
 * API turned on (so neither permissions nor the setting hide validation): malformed JSON,
 * arrays, null, wrong types on every member the API reads, oversized bodies, bodies that are not
 * JSON, deep nesting, malformed and unknown ids, garbage query strings. Each must get a 4xx in
 * Pleasant's shape (`{"error_message"}`), never a 5xx, and change nothing.
 */
const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-000000000001';
const BAD_IDS = [
  'not-a-guid',
  '12345',
  '6f1c2a9e-0000-4000-8000-00000000000g',
  '%00',
  'x'.repeat(300),
];
const WRONG_TYPES = JSON.stringify({
  Name: 42,
  GroupId: [],
  ParentId: {},
  Id: 7,
  Username: false,
  Password: true,
  Url: 1,
  Notes: [],
  Tags: 'not-a-list',
  CustomUserFields: [1, 2],
  CustomApplicationFields: 'x',
  Expires: 12,
  Search: 7,
  Action: {},
  UserId: 5,
  RoleId: [],
  PermissionSetId: true,
  AccessExpiry: [],
  Comment: 9,
  Attachments: 'file',
  Item: 5,
});
const TABLES = [
  'users',
  'folders',
  'entries',
  'entry_versions',
  'attachments',
  'grants',
  'access_levels',
  'offline_caches',
  'sessions',
  'meta',
] as const;

describe.each(DIALECTS)('bad input on every Pleasant-compatible route (%s)', (dialect) => {
  let ctx: TestContext;
  let p: PleasantClient;
  let token: string;
  let routes: Array<{ method: string; url: string }>;

  async function snapshot(): Promise<string> {
    const out: Record<string, unknown> = {};
    for (const t of TABLES) {
      out[t] = await ctx.services.store.db.selectFrom(t).selectAll().execute();
    }
    // Sessions move only by use (last_used_at at most once a minute): their ids are what counts.
    out.sessions = (out.sessions as Array<{ id: string }>).map((s) => s.id).sort();
    return JSON.stringify(out);
  }

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { config: { bodyLimitBytes: 256 * 1024 } });
    p = new PleasantClient(ctx, '');
    const admin = await createUser(ctx.services, {
      loginName: 'bad-input-admin',
      administrator: true,
    });
    token = await p.token(admin.loginName, admin.password);
    const nativeToken = await login(ctx.app, admin.loginName, admin.password);
    const res = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/v1/settings/pleasant-api',
      headers: { authorization: `Bearer ${nativeToken}` },
      payload: { userAccessEnabled: true },
    });
    expect(res.statusCode).toBe(200);
    // Something to change, so "nothing changed" means something.
    const folder = await ctx.services.vault.createFolder(
      { ...(await actorOf(nativeToken)) },
      { parentId: ctx.services.vault.rootId, name: 'Existing' },
    );
    await ctx.services.vault.createEntry(await actorOf(nativeToken), {
      folderId: folder.id,
      name: 'existing',
      password: 'existing-password',
    });
    routes = ctx.app.routeTable
      .filter((r) => /^\/api\/v[56]\/rest\//.test(r.url))
      .map((r) => ({ method: r.method, url: r.url }));
    expect(routes.length).toBeGreaterThan(80);
  });
  afterAll(async () => {
    await ctx.close();
  });

  async function actorOf(nativeToken: string) {
    return (await ctx.services.authenticator.authenticate(nativeToken, '127.0.0.1'))!;
  }

  const withIds = (url: string, id: string) => url.replace(/:[A-Za-z]+/g, id);
  const isBodyMethod = (m: string) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(m);

  /** A 4xx with exactly `{"error_message"}`; else a line for the failure list. */
  function judge(label: string, res: Response): string | null {
    let keys: string[] = [];
    try {
      keys = Object.keys(res.json() as object);
    } catch {
      keys = ['(not JSON)'];
    }
    const ok = res.statusCode >= 400 && res.statusCode < 500 && keys.join() === 'error_message';
    return ok ? null : `${label} → ${res.statusCode} ${res.body.slice(0, 160)}`;
  }

  it('malformed JSON, wrong types, null, oversized and non-JSON bodies get a 4xx and change nothing', async () => {
    const before = await snapshot();
    const failures: string[] = [];
    const cases: Array<[string, string, string?]> = [
      ['malformed JSON', '{"Name": '],
      ['array instead of object', '[1,2,3]'],
      ['a bare string', '"text"'],
      ['a number', '42'],
      ['wrong types', WRONG_TYPES],
      ['wrong types inside Item', JSON.stringify({ Item: JSON.parse(WRONG_TYPES) })],
      ['null body', 'null'],
      ['oversized body', JSON.stringify({ Name: 'x'.repeat(300 * 1024) })],
      ['not JSON at all', 'Name=x&GroupId=y', 'application/x-www-form-urlencoded'],
      ['binary', '\u0000\u0001\u0002\u00ff', 'application/octet-stream'],
      ['deeply nested', `${'['.repeat(5000)}${']'.repeat(5000)}`],
      ['huge member names', JSON.stringify({ ['N'.repeat(100_000)]: 1 })],
    ];
    for (const r of routes.filter((x) => isBodyMethod(x.method))) {
      const url = withIds(r.url, UNKNOWN_ID);
      for (const [label, body, type] of cases) {
        const res = await p.call(token, r.method as 'POST', url, {
          payload: body,
          contentType: type ?? 'application/json',
        });
        // A route that ignores its body may answer a well-formed body of any shape as it would
        // without one (a 4xx here, since every id is unknown or the caller has nothing offline).
        const failure = judge(`${r.method} ${r.url} [${label}]`, res);
        if (failure) failures.push(failure);
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('malformed ids get 400 and unknown ids 404 (or 400, 403), never a 5xx, on every route', async () => {
    const before = await snapshot();
    const failures: string[] = [];
    for (const r of routes.filter((x) => x.url.includes(':'))) {
      for (const id of [...BAD_IDS, UNKNOWN_ID, UNKNOWN_ID.toUpperCase()]) {
        const res = await p.call(token, r.method as 'GET', withIds(r.url, encodeURIComponent(id)), {
          ...(isBodyMethod(r.method) ? { payload: {} } : {}),
        });
        const label = `${r.method} ${r.url} [${id.slice(0, 20)}]`;
        if (id.length > 100) {
          // Longer than any path segment the router matches: no such resource (404 {"Message"}).
          if (res.statusCode !== 404 || Object.keys(res.json()).join() !== 'Message') {
            failures.push(`${label} → ${res.statusCode} ${res.body.slice(0, 160)}`);
          }
          continue;
        }
        const failure = judge(label, res);
        if (failure) failures.push(failure);
        else if (id !== UNKNOWN_ID && id !== UNKNOWN_ID.toUpperCase() && res.statusCode !== 400) {
          failures.push(`${r.method} ${r.url} [${id.slice(0, 20)}] → ${res.statusCode}, not 400`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('garbage query strings never get a 5xx', async () => {
    const failures: string[] = [];
    for (const r of routes.filter((x) => x.method === 'GET')) {
      const url = `${withIds(r.url, UNKNOWN_ID)}?recurseLevel=-1&recurseLevel=abc&q=${'x'.repeat(5000)}&%zz=1`;
      const res = await p.call(token, 'GET', url);
      if (res.statusCode >= 500) failures.push(`${r.method} ${r.url} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
  });

  it('the token endpoint answers garbage with an OAuth2 error, never a 5xx', async () => {
    const bodies = [
      '',
      '{',
      '[]',
      'null',
      '%E0%A4%A',
      'grant_type=password&username=&password=',
      `grant_type=password&username=a&password=${'p'.repeat(300 * 1024)}`,
      '\u0000\u0000',
    ];
    for (const method of ['GET', 'POST'] as const) {
      for (const body of bodies) {
        const res = await p.tokenRequest({ method, body, contentType: 'application/json' });
        expect({
          body: body.slice(0, 30),
          status: res.statusCode >= 400 && res.statusCode < 500,
        }).toEqual({
          body: body.slice(0, 30),
          status: true,
        });
        expect(Object.keys(res.json()).sort()).toEqual(['error', 'error_description']);
      }
    }
  });
});
