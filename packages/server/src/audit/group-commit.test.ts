import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { verifyAuditChain } from './verify.js';

/** Records made outside a caller's transaction are appended by group commit. */
describe.each(DIALECTS)('audit group commit (%s)', (dialect) => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext(dialect);
  });
  afterAll(async () => {
    await ctx.close();
  });

  const actor = { userId: null, loginName: 'tester', ip: '127.0.0.1' };

  it('many concurrent records: each caller resolves once stored, fewer transactions, valid chain', async () => {
    const spy = vi.spyOn(ctx.services.store, 'transaction');
    const before = await ctx.services.store.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const targets = Array.from({ length: 200 }, (_, i) => `Root/e-${i}`);
    await Promise.all(
      targets.map(async (target) => {
        await ctx.services.audit.record({
          event: 'Password Fetched',
          status: 'success',
          actor,
          target,
        });
        // Resolved means stored: the record is there when the caller goes on.
        const row = await ctx.services.store.db
          .selectFrom('audit_log')
          .select('id')
          .where('target', '=', target)
          .executeTakeFirst();
        expect(row).toBeDefined();
      }),
    );
    const transactions = spy.mock.calls.length;
    spy.mockRestore();
    expect(transactions).toBeGreaterThan(0);
    expect(transactions).toBeLessThan(200);
    const after = await ctx.services.store.db
      .selectFrom('audit_log')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(200);
    expect((await verifyAuditChain(ctx.services.store)).ok).toBe(true);
  });

  it('a failed append rejects every caller of that group and the next group still works', async () => {
    const original = ctx.services.store.transaction;
    let fail = true;
    const spy = vi
      .spyOn(ctx.services.store, 'transaction')
      .mockImplementation((fn) => (fail ? Promise.reject(new Error('disk full')) : original(fn)));
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) =>
        ctx.services.audit.record({
          event: 'Password Fetched',
          status: 'success',
          actor,
          target: `Root/f-${i}`,
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    fail = false;
    await ctx.services.audit.record({
      event: 'Password Fetched',
      status: 'success',
      actor,
      target: 'Root/after',
    });
    spy.mockRestore();
    const rows = await ctx.services.store.db
      .selectFrom('audit_log')
      .select('target')
      .where('target', 'like', 'Root/f-%')
      .execute();
    expect(rows).toEqual([]);
    expect((await verifyAuditChain(ctx.services.store)).ok).toBe(true);
  });
});
