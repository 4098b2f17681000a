import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compose, type Services } from '../compose.js';
import {
  DIALECTS,
  createTestDatabase,
  testConfig,
  type TestDatabase,
} from '../test-support/harness.js';
import { ManualClock } from '../shared/clock.js';
import { openFileSink } from './sink.js';

describe.each(DIALECTS)('audit sink (%s)', (dialect) => {
  let db: TestDatabase;
  let sinkFile: string;
  let services: Services | undefined;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    sinkFile = join(db.dataDir, 'audit.jsonl');
  });
  afterEach(async () => {
    await services?.close();
    services = undefined;
    await db.drop();
  });

  const actor = { userId: null, loginName: 'alice', ip: '10.1.2.3' };

  it('appends one JSON line per committed record, in chain order, to a 0600 file', async () => {
    const clock = new ManualClock(Date.UTC(2026, 1, 2, 3, 4, 5));
    services = await compose(testConfig(db, { auditSinkFile: sinkFile }), {
      clock,
      backgroundJobs: false,
    });
    await services.audit.record({
      event: 'Login',
      status: 'success',
      actor,
      details: { method: 'password' },
    });
    await services.audit.recordMany([
      { event: 'Offline Sync', status: 'success', actor, target: 'Root/A' },
      { event: 'Offline Sync', status: 'success', actor, target: 'Root/B' },
    ]);
    // A record in a transaction that rolls back never reaches the sink.
    await expect(
      services.store.transaction(async (trx) => {
        await services!.audit.record({ event: 'Entry Created', status: 'success', actor }, trx);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    // One that commits is delivered once its transaction has committed.
    await services.store.transaction(async (trx) => {
      await services!.audit.record(
        { event: 'Entry Created', status: 'success', actor, target: 'Root/C' },
        trx,
      );
    });
    await services.audit.record({ event: 'Logout', status: 'success', actor });
    await services.audit.flushSinks();

    expect(statSync(sinkFile).mode & 0o777).toBe(0o600);
    const lines = readFileSync(sinkFile, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => [r.event, r.target])).toEqual([
      ['Login', ''],
      ['Offline Sync', 'Root/A'],
      ['Offline Sync', 'Root/B'],
      ['Entry Created', 'Root/C'],
      ['Logout', ''],
    ]);
    expect(records[0]).toEqual({
      id: expect.any(String),
      time: '2026-02-02T03:04:05.000Z',
      user: 'alice',
      ip: '10.1.2.3',
      event: 'Login',
      status: 'success',
      target: '',
      details: { method: 'password' },
      offline: false,
      occurredAt: null,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // The lines carry the chain's hashes, so a SIEM copy can be compared with the database.
    const hashes = await services.store.db
      .selectFrom('audit_log')
      .select('hash')
      .orderBy('seq')
      .execute();
    expect(records.map((r) => r.hash)).toEqual(hashes.map((h) => h.hash));
  });

  it('appends to an existing file and skips switched-off events', async () => {
    writeFileSync(sinkFile, '{"earlier":true}\n', { mode: 0o640 });
    chmodSync(sinkFile, 0o640);
    services = await compose(testConfig(db, { auditSinkFile: sinkFile }), {
      backgroundJobs: false,
    });
    await services.auditLog.setConfig(['Logout'], actor);
    await services.audit.record({ event: 'Logout', status: 'success', actor });
    await services.audit.record({ event: 'Login', status: 'success', actor });
    await services.audit.flushSinks();
    const lines = readFileSync(sinkFile, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('{"earlier":true}');
    expect(lines.slice(1).map((l) => JSON.parse(l).event)).toEqual([
      'Audit Configuration Changed',
      'Login',
    ]);
    // An administrator's own permissions on an existing file are left alone.
    expect(statSync(sinkFile).mode & 0o777).toBe(0o640);
  });
});

describe('file sink', () => {
  it('reports a failing write once and never throws into the caller', async () => {
    const db = await createTestDatabase('sqlite');
    try {
      const errors: string[] = [];
      const sink = openFileSink(join(db.dataDir, 'sink.jsonl'), (e) => errors.push(e.message));
      sink.write({ a: 1 });
      // A value JSON can't encode makes the write fail without touching the file.
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(() => sink.write(cyclic)).not.toThrow();
      expect(() => sink.write(cyclic)).not.toThrow();
      expect(errors).toHaveLength(1);
      sink.write({ b: 2 });
      expect(() => sink.write(cyclic)).not.toThrow();
      expect(errors).toHaveLength(2);
      sink.close();
      sink.close();
      sink.write({ c: 3 });
      expect(readFileSync(join(db.dataDir, 'sink.jsonl'), 'utf8')).toBe('{"a":1}\n{"b":2}\n');
    } finally {
      await db.drop();
    }
  });
});
