import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineJournalRecord, OfflineJournalResult } from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { OfflineWorld, type MadeEntry, type MadeUser } from './offline.support.js';

const MINUTE = 60_000;
const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000bb';

describe.each(DIALECTS)('offline journal upload (%s)', (dialect) => {
  let ctx: TestContext;
  let w: OfflineWorld;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    w = await OfflineWorld.create(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** A user with a cache of two entries, and one entry of the vault that is not in it. */
  const setup = async (): Promise<{
    user: MadeUser;
    cacheId: string;
    createdAt: number;
    cached: MadeEntry[];
    outside: MadeEntry;
  }> => {
    const user = await w.user();
    const folder = await w.folder(null);
    const cached = [await w.entry(folder), await w.entry(folder)];
    const other = await w.folder(null);
    const outside = await w.entry(other);
    await w.grant({ folder, user: user.id, level: 'full-offline' });
    await w.grant({ folder: other, user: user.id, level: 'read-only' });
    const createdAt = ctx.clock.now();
    const pkg = await w.package(user.token);
    return { user, cacheId: pkg.cacheId, createdAt, cached, outside };
  };

  const record = (entryId: string, at: number, action: 'viewed' | 'copied' = 'viewed') =>
    ({
      id: randomUUID(),
      entryId,
      action,
      occurredAt: new Date(at).toISOString(),
    }) satisfies OfflineJournalRecord;

  const upload = (token: string, cacheId: string, records: unknown) =>
    w.api(token, 'POST', `/offline/caches/${cacheId}/journal`, { records });

  const viewedOf = async (cacheId: string) =>
    (await w.audit('Offline Password Viewed')).filter((r) => r.details.cacheId === cacheId);

  it('records one Offline Password Viewed per record, flagged offline, with the time of use and the time recorded; a journal sent twice is recorded once', async () => {
    const { user, cacheId, createdAt, cached } = await setup();
    ctx.clock.advance(10 * MINUTE); // offline for a while…
    const t1 = createdAt + 2 * MINUTE;
    const t2 = createdAt + 5 * MINUTE;
    const records = [
      record(cached[0]!.id, t1, 'viewed'),
      record(cached[1]!.id, t2, 'copied'),
      record(cached[0]!.id, t2, 'copied'),
    ];
    const recordedAt = ctx.clock.now();
    const res = await upload(user.token, cacheId, records);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ accepted: 3, duplicates: 0 } satisfies OfflineJournalResult);

    const audit = await viewedOf(cacheId);
    expect(audit).toHaveLength(3);
    for (const [i, r] of audit.entries()) {
      const sent = records[i]!;
      const entry = cached.find((e) => e.id === sent.entryId)!;
      expect(r).toMatchObject({
        login_name: user.loginName,
        status: 'success',
        target: entry.path,
        offline: 1,
        occurred_at: Date.parse(sent.occurredAt),
        at: recordedAt,
      });
      expect(r.details).toEqual({
        offline: true,
        occurredAt: sent.occurredAt,
        action: sent.action,
        cacheId,
        entryId: sent.entryId,
        recordId: sent.id,
      });
    }
    // The public view of the log says so too.
    const log = await w.api(
      w.admin.token,
      'GET',
      '/audit/events?event=Offline%20Password%20Viewed',
    );
    expect(log.statusCode, log.body).toBe(200);
    const mine = (log.json() as { items: Array<Record<string, unknown>> }).items.filter(
      (i) => (i.details as { cacheId?: string }).cacheId === cacheId,
    );
    expect(mine).toHaveLength(3);
    expect(mine.every((i) => i.offline === true && typeof i.occurredAt === 'string')).toBe(true);

    // The same journal again (a retry after a lost answer), plus one new record.
    ctx.clock.advance(MINUTE);
    const more = [...records, record(cached[1]!.id, t2 + MINUTE)];
    const again = await upload(user.token, cacheId, more);
    expect(again.json()).toEqual({ accepted: 1, duplicates: 3 });
    expect(await viewedOf(cacheId)).toHaveLength(4);
    // A record repeated inside one upload counts once.
    const twice = record(cached[0]!.id, t2);
    expect((await upload(user.token, cacheId, [twice, twice])).json()).toEqual({
      accepted: 1,
      duplicates: 1,
    });
    expect(await viewedOf(cacheId)).toHaveLength(5);
  });

  it('refuses the whole upload, naming the record, when an entry was not in the cache or a time is out of range', async () => {
    const { user, cacheId, createdAt, cached, outside } = await setup();
    ctx.clock.advance(MINUTE);
    const now = ctx.clock.now();
    const good = record(cached[0]!.id, createdAt + 30_000);
    const cases: Array<[unknown[], string]> = [
      [[good, record(outside.id, now)], '/records/1/entryId'],
      [[good, record(UNKNOWN_ID, now)], '/records/1/entryId'],
      [[record(cached[0]!.id, now + 60 * MINUTE)], '/records/0/occurredAt'],
      [[good, good, record(cached[1]!.id, createdAt - 60 * MINUTE)], '/records/2/occurredAt'],
    ];
    for (const [records, field] of cases) {
      const res = await upload(user.token, cacheId, records);
      expect(res.statusCode, field).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'validation_failed', field });
    }
    expect(await viewedOf(cacheId)).toHaveLength(0);
    // Small clock skew is tolerated both ways.
    const skewed = [
      record(cached[0]!.id, now + 2 * MINUTE),
      record(cached[1]!.id, createdAt - 2 * MINUTE),
    ];
    expect((await upload(user.token, cacheId, skewed)).json()).toEqual({
      accepted: 2,
      duplicates: 0,
    });
    // The good record was not recorded by the refused uploads.
    expect((await upload(user.token, cacheId, [good])).json()).toEqual({
      accepted: 1,
      duplicates: 0,
    });
  });

  it('is accepted for a revoked or cleared cache, refused for a cache of someone else', async () => {
    const a = await setup();
    const b = await setup();
    const revoke = await w.api(w.admin.token, 'POST', `/offline/caches/${a.cacheId}/revoke`);
    expect(revoke.statusCode).toBe(200);
    const clear = await w.api(b.user.token, 'DELETE', `/offline/caches/${b.cacheId}`);
    expect(clear.statusCode).toBe(204);
    const now = ctx.clock.now();
    expect((await upload(a.user.token, a.cacheId, [record(a.cached[0]!.id, now)])).json()).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    expect((await upload(b.user.token, b.cacheId, [record(b.cached[0]!.id, now)])).json()).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    const foreign = await upload(b.user.token, a.cacheId, [record(a.cached[0]!.id, now)]);
    expect(foreign.statusCode).toBe(404);
    const admin = await upload(w.admin.token, a.cacheId, [record(a.cached[0]!.id, now)]);
    expect(admin.statusCode).toBe(404);
    expect(await viewedOf(a.cacheId)).toHaveLength(1);
  });

  it('bad bodies get 400 and record nothing', async () => {
    const { user, cacheId, cached } = await setup();
    const now = ctx.clock.now();
    const ok = record(cached[0]!.id, now);
    const bodies: unknown[] = [
      {},
      { records: 'x' },
      { records: [{ ...ok, action: 'printed' }] },
      { records: [{ ...ok, id: 'not-a-uuid' }] },
      { records: [{ ...ok, entryId: 7 }] },
      { records: [{ ...ok, occurredAt: 'yesterday' }] },
      { records: [{ ...ok, extra: 1 }] },
      { records: [ok], more: true },
      { records: Array.from({ length: 10_001 }, () => ok) },
    ];
    for (const body of bodies) {
      const res = await w.api(user.token, 'POST', `/offline/caches/${cacheId}/journal`, body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
    }
    expect(await viewedOf(cacheId)).toHaveLength(0);
  });

  it('records 10,000 records in one upload', async () => {
    const { user, cacheId, createdAt, cached } = await setup();
    const records = Array.from({ length: 10_000 }, (_, i) =>
      record(cached[i % 2]!.id, createdAt + i, i % 3 === 0 ? 'copied' : 'viewed'),
    );
    ctx.clock.advance(MINUTE);
    const res = await upload(user.token, cacheId, records);
    expect(res.statusCode, res.body.slice(0, 200)).toBe(200);
    expect(res.json()).toEqual({ accepted: 10_000, duplicates: 0 });
    expect(await viewedOf(cacheId)).toHaveLength(10_000);
    expect((await upload(user.token, cacheId, records)).json()).toEqual({
      accepted: 0,
      duplicates: 10_000,
    });
  });
});
