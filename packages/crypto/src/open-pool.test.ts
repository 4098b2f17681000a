import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { EnvelopeError } from './envelope.js';
import { SecretSealer, newKeyMaterial } from './keyring.js';
import { OpenPool } from './open-pool.js';

/**
 * Bulk opening (`openMany`): on the worker thread (the compiled `dist/open-worker.js`, which
 * `npm test` builds first) and on the main thread it gives exactly what `openSecret` gives, in
 * order, and fails the same way.
 */
describe('SecretSealer.openMany', () => {
  const keys = new Map([
    ['dk-a', newKeyMaterial()],
    ['dk-b', newKeyMaterial()],
  ]);
  const old = new SecretSealer(new Map([['dk-a', keys.get('dk-a')!]]), 'dk-a');
  const offThread = new SecretSealer(keys, 'dk-b', { bulkOpenOffThread: true });
  const inThread = new SecretSealer(keys, 'dk-b');
  afterAll(() => offThread.close());

  // 300 values: text and binary, sealed under two data keys, each bound to its own context.
  const values = Array.from({ length: 300 }, (_, i) =>
    i % 7 === 0 ? randomBytes(1 + (i % 5) * 4000) : Buffer.from(`secret ${i} ✓ ${'x'.repeat(i)}`),
  );
  const requests = values.map((v, i) => ({
    envelope: (i % 2 === 0 ? old : offThread).sealSecret(v, `entries:${i}:password`),
    context: `entries:${i}:password`,
  }));

  it('the worker is built (npm test builds the packages first)', () => {
    expect(OpenPool.available()).toBe(true);
  });

  it('opens a large batch on the worker thread, in order, byte for byte', async () => {
    const opened = await offThread.openMany(requests);
    expect(opened).toHaveLength(values.length);
    opened.forEach((b, i) => expect(Buffer.compare(b, values[i]!)).toBe(0));
    // The same again (the worker is reused), and the same as on the main thread.
    const again = await offThread.openMany(requests);
    const main = await inThread.openMany(requests);
    again.forEach((b, i) => expect(Buffer.compare(b, main[i]!)).toBe(0));
  });

  it('concurrent batches each get their own results', async () => {
    const a = requests.slice(0, 150);
    const b = requests.slice(150);
    const [ra, rb] = await Promise.all([offThread.openMany(a), offThread.openMany(b)]);
    ra.forEach((x, i) => expect(Buffer.compare(x, values[i]!)).toBe(0));
    rb.forEach((x, i) => expect(Buffer.compare(x, values[150 + i]!)).toBe(0));
  });

  it('a value moved to another context fails the whole batch with EnvelopeError, off and on the main thread', async () => {
    const moved = requests.map((r, i) =>
      i === 123 ? { ...r, context: 'entries:999:password' } : r,
    );
    await expect(offThread.openMany(moved)).rejects.toThrow(EnvelopeError);
    await expect(inThread.openMany(moved)).rejects.toThrow(EnvelopeError);
    // The worker survives a failed batch.
    expect((await offThread.openMany(requests)).length).toBe(values.length);
  });

  it('a tampered or unknown-key envelope fails with EnvelopeError and names no secret', async () => {
    const tampered = Buffer.from(requests[10]!.envelope);
    tampered[tampered.length - 20]! ^= 1;
    const stranger = new SecretSealer(new Map([['dk-z', newKeyMaterial()]]), 'dk-z');
    const unknown = stranger.sealSecret('x', 'entries:5:password');
    for (const bad of [tampered, unknown]) {
      const batch = requests.map((r, i) => (i === 10 ? { ...r, envelope: bad } : r));
      const err = await offThread.openMany(batch).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvelopeError);
      expect(String((err as Error).message)).not.toContain('secret');
    }
  });

  it('after close, a new batch starts a new worker', async () => {
    await offThread.close();
    const opened = await offThread.openMany(requests);
    expect(Buffer.compare(opened[299]!, values[299]!)).toBe(0);
  });
});
