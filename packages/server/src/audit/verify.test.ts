import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { compose, type Services } from '../compose.js';
import { newUuid } from '@strongroom/crypto';
import {
  DIALECTS,
  createTestDatabase,
  testConfig,
  type TestDatabase,
} from '../test-support/harness.js';
import { ManualClock } from '../shared/clock.js';
import { GENESIS_HASH, recordHash, type ChainedFields } from './recorder.js';
import { verifyAuditChain } from './verify.js';

describe.each(DIALECTS)('audit chain verification (%s)', (dialect) => {
  let db: TestDatabase;
  let services: Services;
  const clock = new ManualClock();

  const seqs = async (): Promise<number[]> =>
    (await services.store.db.selectFrom('audit_log').select('seq').orderBy('seq').execute()).map(
      (r) => Number(r.seq),
    );

  const write = async (n: number, prefix = 'r') => {
    for (let i = 0; i < n; i++) {
      clock.advance(1000);
      await services.audit.record({
        event: 'Password Fetched',
        status: 'success',
        actor: { userId: null, loginName: `user${i % 3}`, ip: '127.0.0.1' },
        target: `Root/${prefix}/${i}`,
        details: { i },
      });
    }
  };

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    services = await compose(testConfig(db), { clock, backgroundJobs: false });
  });
  afterEach(async () => {
    await services.close();
    await db.drop();
  });

  it('accepts an empty log and an intact one, across many pages', async () => {
    expect(await verifyAuditChain(services.store)).toEqual({
      ok: true,
      records: 0,
      lastSeq: null,
      lastHash: null,
    });
    await write(23);
    const all = await seqs();
    const head = await services.store.db
      .selectFrom('audit_log')
      .select('hash')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    for (const pageSize of [1, 5, 23, 5000]) {
      expect(await verifyAuditChain(services.store, { pageSize })).toEqual({
        ok: true,
        records: 23,
        lastSeq: all[22],
        lastHash: head.hash,
      });
    }
  });

  it('finds an edited field in any column the hash covers', async () => {
    await write(12);
    const all = await seqs();
    const edits: Array<[string, (seq: number) => Promise<unknown>]> = [
      [
        'target',
        (s) =>
          sql`update audit_log set target = 'Root/elsewhere' where seq = ${s}`.execute(
            services.store.db,
          ),
      ],
      [
        'login_name',
        (s) =>
          sql`update audit_log set login_name = 'someone' where seq = ${s}`.execute(
            services.store.db,
          ),
      ],
      [
        'status',
        (s) =>
          sql`update audit_log set status = 'denied' where seq = ${s}`.execute(services.store.db),
      ],
      [
        'at',
        (s) => sql`update audit_log set at = at + 1 where seq = ${s}`.execute(services.store.db),
      ],
      [
        'details',
        (s) =>
          sql`update audit_log set details = '{"i":99}' where seq = ${s}`.execute(
            services.store.db,
          ),
      ],
      [
        'event',
        (s) =>
          sql`update audit_log set event = 'Login' where seq = ${s}`.execute(services.store.db),
      ],
      [
        'ip',
        (s) =>
          sql`update audit_log set ip = '10.9.9.9' where seq = ${s}`.execute(services.store.db),
      ],
    ];
    for (const [column, edit] of edits) {
      const seq = all[7]!;
      const original = await services.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('seq', '=', seq)
        .executeTakeFirstOrThrow();
      await edit(seq);
      const result = await verifyAuditChain(services.store, { pageSize: 4 });
      expect({ column, ok: result.ok, firstBadSeq: result.firstBadSeq }).toEqual({
        column,
        ok: false,
        firstBadSeq: seq,
      });
      expect(result.reason).toMatch(/changed/);
      // Put it back: the chain is whole again.
      const { seq: _s, ...fields } = original;
      await services.store.db.updateTable('audit_log').set(fields).where('seq', '=', seq).execute();
      expect((await verifyAuditChain(services.store)).ok).toBe(true);
    }
  });

  it('finds a deleted record (at the start and in the middle)', async () => {
    await write(10);
    const all = await seqs();
    await sql`delete from audit_log where seq = ${all[4]!}`.execute(services.store.db);
    const middle = await verifyAuditChain(services.store, { pageSize: 3 });
    expect(middle).toMatchObject({ ok: false, firstBadSeq: all[5], records: 5 });
    expect(middle.reason).toMatch(/deleted, inserted or moved/);

    await sql`delete from audit_log where seq = ${all[0]!}`.execute(services.store.db);
    const start = await verifyAuditChain(services.store);
    expect(start).toMatchObject({ ok: false, firstBadSeq: all[1], records: 1 });
    expect(start.reason).toMatch(/earlier records were deleted/);
  });

  it('finds two records swapped', async () => {
    await write(10);
    const all = await seqs();
    const [a, b] = [all[3]!, all[6]!];
    const store = services.store.db;
    await sql`update audit_log set seq = -1 where seq = ${a}`.execute(store);
    await sql`update audit_log set seq = ${a} where seq = ${b}`.execute(store);
    await sql`update audit_log set seq = ${b} where seq = -1`.execute(store);
    expect(await verifyAuditChain(services.store)).toMatchObject({ ok: false, firstBadSeq: a });
  });

  it('finds a forged record inserted with a valid hash of its own', async () => {
    await write(8);
    const all = await seqs();
    const store = services.store.db;
    // Make room after the 4th record, then insert a well-formed record chained to it.
    await sql`update audit_log set seq = seq + 1000 where seq > ${all[3]!}`.execute(store);
    const prev = await store
      .selectFrom('audit_log')
      .select('hash')
      .where('seq', '=', all[3]!)
      .executeTakeFirstOrThrow();
    const forged: ChainedFields = {
      id: newUuid(),
      at: clock.now(),
      user_id: null,
      login_name: 'mallory',
      ip: '127.0.0.1',
      event: 'Login',
      status: 'success',
      target: '',
      details: '{}',
      offline: 0,
      occurred_at: null,
    };
    await store
      .insertInto('audit_log')
      .values({
        ...forged,
        seq: all[3]! + 1,
        prev_hash: prev.hash,
        hash: recordHash(prev.hash, forged),
      })
      .execute();
    expect(await verifyAuditChain(services.store)).toMatchObject({
      ok: false,
      firstBadSeq: all[4]! + 1000,
      records: 6,
    });
  });

  it('finds a record whose hash was recomputed after an edit, at the record after it', async () => {
    await write(6);
    const all = await seqs();
    const store = services.store.db;
    const row = await store
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '=', all[2]!)
      .executeTakeFirstOrThrow();
    const edited: ChainedFields = { ...row, target: 'Root/cover-up' };
    await store
      .updateTable('audit_log')
      .set({ target: edited.target, hash: recordHash(row.prev_hash, edited) })
      .where('seq', '=', row.seq)
      .execute();
    expect(await verifyAuditChain(services.store)).toMatchObject({
      ok: false,
      firstBadSeq: all[3],
    });
  });

  it('starts the chain at the genesis hash', async () => {
    await write(1);
    const first = await services.store.db
      .selectFrom('audit_log')
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(first.prev_hash).toBe(GENESIS_HASH);
    await sql`update audit_log set prev_hash = ${'f'.repeat(64)}`.execute(services.store.db);
    expect(await verifyAuditChain(services.store)).toMatchObject({
      ok: false,
      firstBadSeq: Number(first.seq),
    });
  });

  it('keeps one valid chain when two server processes append at once', async () => {
    // A second composition opens its own Store (its own pool / connection), like another process.
    const other = await compose(testConfig(db), { clock, backgroundJobs: false });
    try {
      const record = (s: Services, who: string, i: number) =>
        s.audit.record({
          event: 'Password Fetched',
          status: 'success',
          actor: { userId: null, loginName: who, ip: '127.0.0.1' },
          target: `Root/${who}/${i}`,
        });
      if (dialect === 'postgres') {
        await Promise.all(
          Array.from({ length: 50 }, (_, i) => [
            record(services, 'one', i),
            record(other, 'two', i),
          ]).flat(),
        );
      } else {
        // better-sqlite3 is synchronous: two connections in one thread would block each other, so
        // here each appends a concurrent batch in turn (each must continue the other's chain);
        // audit-processes.test.ts runs real processes at once.
        await Promise.all(Array.from({ length: 50 }, (_, i) => record(services, 'one', i)));
        await Promise.all(Array.from({ length: 50 }, (_, i) => record(other, 'two', i)));
      }
    } finally {
      await other.close();
    }
    const result = await verifyAuditChain(services.store);
    expect(result).toMatchObject({ ok: true, records: 100 });
    const counts = await services.store.db
      .selectFrom('audit_log')
      .select(['login_name', sql<number>`count(*)`.as('n')])
      .groupBy('login_name')
      .orderBy('login_name')
      .execute();
    expect(counts.map((c) => [c.login_name, Number(c.n)])).toEqual([
      ['one', 50],
      ['two', 50],
    ]);
  });
});
