import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditRecorder } from '../audit/recorder.js';
import { openStore } from '../db/connect.js';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { createRole, createUser } from '../test-support/identity.js';
import { sweepExpiredGrants } from './service.js';
import {
  auditRecords,
  insertEntry,
  insertFolder,
  insertGrant,
  rootFolderId,
} from './test-fixture.js';

describe.each(DIALECTS)('expired-grant sweep (%s)', (dialect) => {
  let ctx: TestContext;
  let root: string;
  let user: { id: string; loginName: string };
  let role: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    root = await rootFolderId(ctx.services);
    user = await createUser(ctx.services, { loginName: 'sw-user', displayName: 'Sweep User' });
    role = await createRole(ctx.services, 'Contractors');
  });
  afterAll(async () => {
    await ctx.close();
  });

  const grantIds = async () =>
    (await ctx.services.store.db.selectFrom('grants').select('id').execute()).map((g) => g.id);

  it('deletes exactly the grants whose time has come, with one audit record each', async () => {
    const folder = await insertFolder(ctx.services, root, 'Projects');
    const entry = await insertEntry(ctx.services, folder, 'Build Server');
    const now = ctx.clock.now();
    const past = await insertGrant(ctx.services, {
      node: { folder },
      user: user.id,
      level: 'full',
      expiresAt: now - 60_000,
    });
    const exact = await insertGrant(ctx.services, {
      node: { entry },
      role,
      level: 'read-only',
      expiresAt: now,
    });
    const future = await insertGrant(ctx.services, {
      node: { folder },
      role,
      level: 'full',
      expiresAt: now + 1,
    });
    const permanent = await insertGrant(ctx.services, {
      node: { folder: root },
      user: user.id,
      level: 'read-only',
    });

    expect(await sweepExpiredGrants(ctx.services)).toBe(2);
    const left = await grantIds();
    expect(left).toEqual(expect.arrayContaining([future, permanent]));
    expect(left).not.toContain(past);
    expect(left).not.toContain(exact);

    const records = await auditRecords(ctx.services, 'Expired Access Deleted');
    expect(records).toHaveLength(2);
    const byGrant = new Map(records.map((r) => [r.details.grantId, r]));
    expect(byGrant.get(past)).toMatchObject({
      status: 'success',
      target: 'Root/Projects',
      user_id: null,
    });
    expect(byGrant.get(past)!.details).toMatchObject({
      principalType: 'user',
      principalId: user.id,
      principal: 'Sweep User',
      accessLevel: 'Full',
      expiresAt: new Date(now - 60_000).toISOString(),
    });
    expect(byGrant.get(exact)).toMatchObject({ target: 'Root/Projects/Build Server' });
    expect(byGrant.get(exact)!.details).toMatchObject({
      principalType: 'role',
      principal: 'Contractors',
      accessLevel: 'Read-Only',
    });

    // Nothing more to do until time moves on.
    expect(await sweepExpiredGrants(ctx.services)).toBe(0);
    expect(await auditRecords(ctx.services, 'Expired Access Deleted')).toHaveLength(2);
    ctx.clock.advance(1);
    expect(await sweepExpiredGrants(ctx.services)).toBe(1);
    expect(await grantIds()).toContain(permanent);
    expect(await grantIds()).not.toContain(future);
  });

  it('sweeps running at once on several processes delete and record each grant once', async () => {
    const folder = await insertFolder(ctx.services, root, 'Temporary');
    const now = ctx.clock.now();
    const expired: string[] = [];
    for (let i = 0; i < 12; i++) {
      expired.push(
        await insertGrant(ctx.services, {
          node: { folder },
          user: user.id,
          level: 'read-only',
          expiresAt: now - i,
        }),
      );
    }
    const recordsBefore = (await auditRecords(ctx.services, 'Expired Access Deleted')).length;
    // PostgreSQL: a second pool stands in for a second server process. SQLite is one server
    // process (docs/decisions.md), so there the sweeps race on the one store.
    const cfg = ctx.services.config;
    const otherStore =
      dialect === 'postgres'
        ? openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, pgSchema: cfg.pgSchema })
        : ctx.services.store;
    const other = {
      store: otherStore,
      clock: ctx.clock,
      audit: new AuditRecorder(otherStore, ctx.clock),
    };
    try {
      const counts = await Promise.all([
        sweepExpiredGrants(ctx.services),
        sweepExpiredGrants(other),
        sweepExpiredGrants(other),
        sweepExpiredGrants(ctx.services),
      ]);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(expired.length);
    } finally {
      if (otherStore !== ctx.services.store) await otherStore.close();
    }
    const left = await grantIds();
    for (const id of expired) expect(left).not.toContain(id);
    const records = (await auditRecords(ctx.services, 'Expired Access Deleted')).slice(
      recordsBefore,
    );
    expect(records.map((r) => r.details.grantId).sort()).toEqual([...expired].sort());
    // The audit chain stays intact after concurrent appends.
    expect((await ctx.services.auditLog.verify()).ok).toBe(true);
  });
});

describe('background sweep', () => {
  it('runs on its interval when background jobs are on', async () => {
    const ctx = await createTestContext('sqlite', {
      backgroundJobs: true,
      config: { sweepIntervalMs: 20 },
    });
    try {
      const root = await rootFolderId(ctx.services);
      const u = await createUser(ctx.services, { loginName: 'bg-user' });
      const g = await insertGrant(ctx.services, {
        node: { folder: root },
        user: u.id,
        level: 'full',
        expiresAt: ctx.clock.now() + 1000,
      });
      ctx.clock.advance(1000);
      await vi.waitFor(
        async () => {
          const rows = await ctx.services.store.db
            .selectFrom('grants')
            .select('id')
            .where('id', '=', g)
            .execute();
          expect(rows).toEqual([]);
        },
        { timeout: 20_000, interval: 20 },
      );
      expect(await auditRecords(ctx.services, 'Expired Access Deleted')).toHaveLength(1);
    } finally {
      await ctx.close();
    }
  });
});
