import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppPermission, AuditRecord } from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { testActor } from '../test-support/actors.js';
import type { Actor } from '../http/auth.js';
import type { AuditEventName } from './events.js';

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  expect(quoted).toBe(false);
  expect(cell).toBe('');
  expect(row).toEqual([]);
  return rows;
}

/**
 * Callers are resolved by a test authenticator: these suites are about the audit routes, not
 * about logging in; the permission rules they declare are still enforced by the central hook.
 */
function useTestActors(ctx: TestContext): (token: string, actor: Actor) => void {
  const actors = new Map<string, Actor>();
  const real = ctx.services.authenticator;
  ctx.services.authenticator = {
    authenticate: async (token, ip) => actors.get(token) ?? real.authenticate(token, ip),
  };
  return (token, actor) => actors.set(token, actor);
}

const ADMIN = 'audit-admin-token';
const VIEWER = 'audit-viewer-token';
const CONFIGURER = 'audit-configurer-token';
const NOBODY = 'audit-nobody-token';

interface Seed {
  event: AuditEventName;
  user: string;
  target: string;
  status: 'success' | 'denied';
  details?: Record<string, unknown>;
}

const SEEDS: Seed[] = [
  { event: 'Login', user: 'alice@corp.example', target: '', status: 'success' },
  { event: 'Login Failed', user: 'Mallory', target: '', status: 'denied' },
  {
    event: 'Password Fetched',
    user: 'alice@corp.example',
    target: 'Root/Servers/DB Prod',
    status: 'success',
  },
  { event: 'Password Fetched', user: 'bob', target: 'Root/Servers/db staging', status: 'success' },
  { event: 'Password Fetched', user: 'bob', target: 'Root/Finance/Bank', status: 'denied' },
  {
    event: 'Entry Created',
    user: 'ALICE@corp.example',
    target: 'Root/Servers/Web',
    status: 'success',
  },
  // Hostile text: formula starts, quotes, commas and line breaks must survive a CSV round trip.
  {
    event: 'Entry Updated',
    user: '=cmd|calc',
    target: '+SUM(A1:A9), "quoted"\r\nnext line',
    status: 'success',
    details: { note: '@risk, "x"' },
  },
  { event: 'Folder Created', user: '-minus', target: '@at/Root/Ünïcode', status: 'success' },
  { event: 'Logout', user: 'bob', target: '', status: 'success' },
  { event: 'Password Fetched', user: 'carol', target: 'Root/Servers/DB Prod', status: 'success' },
];

describe.each(DIALECTS)('audit log routes (%s)', (dialect) => {
  let ctx: TestContext;
  let t0: number;
  /** Time of each seed record. */
  const times: number[] = [];

  const get = (url: string, token = ADMIN) =>
    ctx.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const put = (url: string, payload: unknown, token = ADMIN) =>
    ctx.app.inject({
      method: 'PUT',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  const list = async (query: string, token = ADMIN) => {
    const res = await get(`/api/v1/audit/events?${query}`, token);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { items: AuditRecord[]; nextCursor: string | null };
  };
  const all = async (query = '') => (await list(`limit=1000&${query}`)).items;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    const actor = useTestActors(ctx);
    actor(ADMIN, testActor({ userId: 'u-admin', loginName: 'admin', isAdministrator: true }));
    actor(
      VIEWER,
      testActor({
        userId: 'u-viewer',
        loginName: 'viewer',
        appPermissions: new Set<AppPermission>(['viewAuditLog']),
      }),
    );
    actor(
      CONFIGURER,
      testActor({
        userId: 'u-conf',
        loginName: 'configurer',
        appPermissions: new Set<AppPermission>(['configureAuditLog']),
      }),
    );
    actor(NOBODY, testActor({ userId: 'u-nobody', loginName: 'nobody' }));
    t0 = ctx.clock.now();
    for (const s of SEEDS) {
      ctx.clock.advance(60_000);
      times.push(ctx.clock.now());
      await ctx.services.audit.record({
        event: s.event,
        status: s.status,
        actor: { userId: null, loginName: s.user, ip: '10.0.0.7' },
        target: s.target,
        details: s.details ?? { n: times.length },
      });
    }
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('lists records newest first with every field', async () => {
    const items = await all(`from=${new Date(times[0]!).toISOString()}`);
    expect(items.map((r) => r.event)).toEqual([...SEEDS].reverse().map((s) => s.event));
    const seqs = items.map((r) => r.seq);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    const first = items[items.length - 1]!;
    expect(first).toEqual({
      seq: first.seq,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      time: new Date(times[0]!).toISOString(),
      user: 'alice@corp.example',
      ip: '10.0.0.7',
      event: 'Login',
      status: 'success',
      target: '',
      details: { n: 1 },
      offline: false,
      occurredAt: null,
    });
  });

  it('filters by time range (from inclusive, to exclusive)', async () => {
    const from = new Date(times[2]!).toISOString();
    const to = new Date(times[5]!).toISOString();
    const items = await all(`from=${from}&to=${to}`);
    expect(items.map((r) => r.time)).toEqual(
      [times[4], times[3], times[2]].map((t) => new Date(t!).toISOString()),
    );
    expect(await all(`to=${new Date(t0).toISOString()}`)).toEqual([]);
  });

  it('filters by user login name regardless of case', async () => {
    const items = await all('user=Alice%40Corp.Example');
    expect(items.map((r) => r.event)).toEqual(['Entry Created', 'Password Fetched', 'Login']);
    // Whole name only, not a part of it.
    expect(await all('user=alice')).toEqual([]);
  });

  it('filters by event, status and target substring, and combines filters', async () => {
    const fetched = await all(`event=${encodeURIComponent('Password Fetched')}`);
    expect(fetched.map((r) => r.user)).toEqual(['carol', 'bob', 'bob', 'alice@corp.example']);
    const denied = await all('status=denied');
    expect(denied.map((r) => r.event)).toEqual(['Password Fetched', 'Login Failed']);
    const db = await all('target=db%20');
    expect(db.map((r) => r.target)).toEqual([
      'Root/Servers/DB Prod',
      'Root/Servers/db staging',
      'Root/Servers/DB Prod',
    ]);
    // LIKE wildcards are plain characters here.
    expect(await all('target=%25')).toEqual([]);
    expect(await all('target=_')).toEqual([]);
    const combined = await all(
      `event=${encodeURIComponent('Password Fetched')}&status=success&target=servers&user=bob`,
    );
    expect(combined.map((r) => r.target)).toEqual(['Root/Servers/db staging']);
  });

  it('pages with a cursor and with an offset, newest first, without gaps or repeats', async () => {
    const everything = (await all()).map((r) => r.seq);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((r) => r.seq));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(everything);
    expect(pages).toBe(Math.ceil(everything.length / 3));
    const offsetPage = await list('limit=4&offset=4');
    expect(offsetPage.items.map((r) => r.seq)).toEqual(everything.slice(4, 8));
    const filtered = await list(`limit=1&event=${encodeURIComponent('Password Fetched')}`);
    expect(filtered.items).toHaveLength(1);
    const next = await list(
      `limit=10&event=${encodeURIComponent('Password Fetched')}&cursor=${filtered.nextCursor}`,
    );
    expect(next.items.map((r) => r.user)).toEqual(['bob', 'bob', 'alice@corp.example']);
    expect(next.nextCursor).toBeNull();
  });

  it('refuses bad query input with 400 and the field', async () => {
    const cases: Array<[string, string]> = [
      ['limit=0', '/limit'],
      ['limit=1001', '/limit'],
      ['limit=ten', '/limit'],
      ['cursor=abc', '/cursor'],
      ['cursor=0', '/cursor'],
      ['offset=-1', '/offset'],
      ['cursor=5&offset=1', '/offset'],
      ['from=yesterday', '/from'],
      ['to=2026-13-45T00:00:00Z', '/to'],
      [`from=${new Date(times[5]!).toISOString()}&to=${new Date(times[1]!).toISOString()}`, '/to'],
      ['event=Nope', '/event'],
      ['status=maybe', '/status'],
      [`target=${'x'.repeat(1001)}`, '/target'],
      ['sort=asc', '/sort'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`/api/v1/audit/events?${query}`);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
      expect({ query, field: res.json().error.field }).toEqual({ query, field });
      expect(res.json().error.code).toBe('validation_failed');
    }
  });

  it('needs viewAuditLog to view and export, configureAuditLog to configure and verify', async () => {
    expect((await get('/api/v1/audit/events', NOBODY)).statusCode).toBe(403);
    expect((await get('/api/v1/audit/export?format=csv', NOBODY)).statusCode).toBe(403);
    expect((await get('/api/v1/audit/events', CONFIGURER)).statusCode).toBe(403);
    expect((await get('/api/v1/audit/events', VIEWER)).statusCode).toBe(200);
    expect((await get('/api/v1/audit/config', VIEWER)).statusCode).toBe(403);
    expect((await put('/api/v1/audit/config', { disabledEvents: [] }, VIEWER)).statusCode).toBe(
      403,
    );
    expect((await get('/api/v1/audit/verify', VIEWER)).statusCode).toBe(403);
    expect((await get('/api/v1/audit/config', CONFIGURER)).statusCode).toBe(200);
    expect((await get('/api/v1/audit/verify', CONFIGURER)).statusCode).toBe(200);
    expect((await get('/api/v1/audit/events')).statusCode).toBe(200);
    const anonymous = await ctx.app.inject({ method: 'GET', url: '/api/v1/audit/events' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('exports CSV that parses back to the same records, with formulas defused', async () => {
    const expected = (await all()).reverse();
    const res = await get('/api/v1/audit/export?format=csv', VIEWER);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="strongroom-audit-\d{8}-\d{6}\.csv"$/,
    );
    const rows = parseCsv(res.body);
    expect(rows[0]).toEqual([
      'seq',
      'time',
      'user',
      'ip',
      'event',
      'status',
      'target',
      'details',
      'offline',
      'occurredAt',
      'hash',
    ]);
    const body = rows.slice(1);
    // The export holds what existed when it was asked for, oldest first.
    expect(body.map((r) => Number(r[0]))).toEqual(expected.map((r) => r.seq));
    const defuse = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
    body.forEach((r, i) => {
      const rec = expected[i]!;
      expect(r.slice(1, 10)).toEqual([
        rec.time,
        defuse(rec.user),
        rec.ip,
        rec.event,
        rec.status,
        defuse(rec.target),
        JSON.stringify(rec.details),
        'false',
        '',
      ]);
      expect(r[10]).toMatch(/^[0-9a-f]{64}$/);
    });
    const hostile = body.find((r) => r[4] === 'Entry Updated')!;
    expect(hostile[2]).toBe("'=cmd|calc");
    expect(hostile[6]).toBe(`'+SUM(A1:A9), "quoted"\r\nnext line`);
    expect(body.find((r) => r[4] === 'Folder Created')![2]).toBe("'-minus");
    expect(body.find((r) => r[4] === 'Folder Created')![6]).toBe("'@at/Root/Ünïcode");
    // Every cell a spreadsheet sees starts with something other than a formula character.
    for (const r of body) for (const cell of r) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('exports JSON lines with the same filters, and records each export', async () => {
    const expected = (await all('status=success&target=servers')).reverse();
    const res = await get(
      '/api/v1/audit/export?format=jsonl&status=success&target=servers',
      VIEWER,
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = res.body.split('\n');
    expect(lines.pop()).toBe('');
    const parsed = lines.map((l) => JSON.parse(l) as AuditRecord & { hash: string });
    expect(parsed.map(({ hash: _h, ...rest }) => rest)).toEqual(expected);
    parsed.forEach((p) => expect(p.hash).toMatch(/^[0-9a-f]{64}$/));

    const exports = await all(`event=${encodeURIComponent('Audit Exported')}`);
    expect(exports[0]).toMatchObject({
      user: 'viewer',
      status: 'success',
      details: { format: 'jsonl', filters: { status: 'success', target: 'servers' } },
    });
    expect(exports.find((e) => e.details.format === 'csv')).toBeDefined();
  });

  it('exports pages through a log larger than one read', async () => {
    const before = (await all()).length;
    const many = Array.from({ length: 2100 }, (_, i) => ({
      event: 'Offline Sync' as const,
      status: 'success' as const,
      actor: { userId: null, loginName: 'bulk', ip: '127.0.0.1' },
      // Characters that need quoting in any bulk encoding: quotes, backslashes, commas,
      // braces, non-ASCII, a JSON-looking string.
      target: `Root/Bulk/${i} "q" \\ ,{a,b} ü 密 \u2028 null`,
      details: { n: i, note: 'tab\there "x"' },
    }));
    await ctx.services.audit.recordMany(many);
    const res = await get('/api/v1/audit/export?format=csv&user=bulk');
    const rows = parseCsv(res.body).slice(1);
    expect(rows).toHaveLength(2100);
    expect(rows.map((r) => r[6])).toEqual(many.map((m) => m.target));
    const jsonl = await get('/api/v1/audit/export?format=jsonl');
    expect(jsonl.body.trim().split('\n').length).toBeGreaterThanOrEqual(before + 2100);
  });

  it('refuses bad export input with 400 and the field', async () => {
    const cases: Array<[string, string]> = [
      ['', '/format'],
      ['format=xlsx', '/format'],
      ['format=csv&limit=5', '/limit'],
      ['format=csv&event=Nope', '/event'],
      ['format=csv&from=2026-01-01', '/from'],
    ];
    for (const [query, field] of cases) {
      const res = await get(`/api/v1/audit/export?${query}`);
      expect({ query, status: res.statusCode, field: res.json().error?.field }).toEqual({
        query,
        status: 400,
        field,
      });
    }
  });

  it('switches event types off and on, recording every change', async () => {
    const initial = await get('/api/v1/audit/config');
    expect(initial.json()).toMatchObject({ disabledEvents: [] });
    expect(initial.json().events).toContain('Password Fetched');
    expect(initial.json().alwaysOnEvents).toEqual([
      'Audit Configuration Changed',
      'Wrapping Key Rotated',
    ]);

    const off = await put(
      '/api/v1/audit/config',
      { disabledEvents: ['Logout', 'Password Fetched', 'Logout'] },
      CONFIGURER,
    );
    expect(off.statusCode, off.body).toBe(200);
    expect(off.json().disabledEvents).toEqual(['Logout', 'Password Fetched']);

    const countOf = async (event: string) =>
      (await all(`event=${encodeURIComponent(event)}`)).length;
    const fetchedBefore = await countOf('Password Fetched');
    const loginsBefore = await countOf('Login');
    const actor = { userId: null, loginName: 'bob', ip: '10.0.0.8' };
    await ctx.services.audit.record({ event: 'Password Fetched', status: 'success', actor });
    await ctx.services.audit.record({ event: 'Login', status: 'success', actor });
    expect(await countOf('Password Fetched')).toBe(fetchedBefore);
    expect(await countOf('Login')).toBe(loginsBefore + 1);

    const changes = await all(`event=${encodeURIComponent('Audit Configuration Changed')}`);
    expect(changes[0]).toMatchObject({
      user: 'configurer',
      details: {
        disabledEvents: ['Logout', 'Password Fetched'],
        switchedOff: ['Logout', 'Password Fetched'],
        switchedOn: [],
      },
    });

    const on = await put('/api/v1/audit/config', { disabledEvents: ['Logout'] });
    expect(on.json().disabledEvents).toEqual(['Logout']);
    await ctx.services.audit.record({ event: 'Password Fetched', status: 'success', actor });
    expect(await countOf('Password Fetched')).toBe(fetchedBefore + 1);
    const latest = (await all(`event=${encodeURIComponent('Audit Configuration Changed')}`))[0]!;
    expect(latest.details).toMatchObject({ switchedOff: [], switchedOn: ['Password Fetched'] });
    expect((await get('/api/v1/audit/config')).json().disabledEvents).toEqual(['Logout']);
    await put('/api/v1/audit/config', { disabledEvents: [] });
  });

  it('never switches off the audit configuration events', async () => {
    const before = (await get('/api/v1/audit/config')).json().disabledEvents;
    for (const name of ['Audit Configuration Changed', 'Wrapping Key Rotated']) {
      const res = await put('/api/v1/audit/config', { disabledEvents: ['Logout', name] });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({
        code: 'validation_failed',
        field: '/disabledEvents/1',
      });
    }
    expect((await get('/api/v1/audit/config')).json().disabledEvents).toEqual(before);
  });

  it('refuses bad configuration bodies with 400 and the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, '/disabledEvents'],
      [{ disabledEvents: 'Logout' }, '/disabledEvents'],
      [{ disabledEvents: [42] }, '/disabledEvents/0'],
      [{ disabledEvents: ['Logout', 'No Such Event'] }, '/disabledEvents/1'],
      [{ disabledEvents: [''] }, '/disabledEvents/0'],
      [{ disabledEvents: [], extra: true }, '/extra'],
      [{ disabledEvents: Array.from({ length: 201 }, () => 'Logout') }, '/disabledEvents'],
    ];
    for (const [body, field] of cases) {
      const res = await put('/api/v1/audit/config', body);
      expect({ body, status: res.statusCode, field: res.json().error?.field }).toEqual({
        body,
        status: 400,
        field,
      });
    }
    const malformed = await put('/api/v1/audit/config', '{"disabledEvents": [');
    expect(malformed.statusCode).toBe(400);
  });

  it('verifies the chain over HTTP', async () => {
    const res = await get('/api/v1/audit/verify', CONFIGURER);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.ok).toBe(true);
    expect(body.records).toBeGreaterThan(SEEDS.length + 2100);
    expect(body.lastHash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.firstBadSeq).toBeUndefined();
  });
});
