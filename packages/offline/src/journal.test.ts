import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { deriveJournalKey, nodeOfflineCrypto } from '@strongroom/crypto';
import { Value } from 'typebox/value';
import { OfflineJournalRecordSchema } from '@strongroom/protocol';
import {
  OfflineJournalError,
  journalCacheId,
  openJournal,
  type BlobStore,
  type JournalRecord,
} from './index.js';
import { machineKey, nodeEnv } from './offline.support.js';

class MemoryStore implements BlobStore {
  blob: Uint8Array | null = null;
  erased = 0;
  async read() {
    return this.blob ? this.blob.slice() : null;
  }
  async write(bytes: Uint8Array) {
    this.blob = bytes.slice();
  }
  async erase() {
    this.blob = null;
    this.erased++;
  }
}

const env = nodeEnv();

async function expectJournalCode(p: Promise<unknown>, code: string) {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OfflineJournalError);
  expect((e as OfflineJournalError).code).toBe(code);
}

/** Opens the sealed body with the key, lets `edit` change it, seals it again (a key holder's edit). */
async function reseal(
  store: MemoryStore,
  key: Uint8Array,
  edit: (body: { records: Record<string, string>[]; count: number; head: string }) => void,
) {
  const blob = store.blob!;
  const idLen = new DataView(blob.buffer, blob.byteOffset).getUint16(4, true);
  const aadLen = 6 + idLen;
  const aad = blob.subarray(0, aadLen);
  const iv = blob.subarray(aadLen, aadLen + 12);
  const plain = await nodeOfflineCrypto.aesGcmOpen(key, iv, blob.subarray(aadLen + 12), aad);
  const body = JSON.parse(new TextDecoder().decode(plain!));
  edit(body);
  const sealed = await nodeOfflineCrypto.aesGcmSeal(
    key,
    iv,
    new TextEncoder().encode(JSON.stringify(body)),
    aad,
  );
  store.blob = new Uint8Array([...aad, ...iv, ...sealed]);
}

/** A store whose writer lock is a promise chain (what a lock file does across processes). */
class LockingStore extends MemoryStore {
  #tail: Promise<unknown> = Promise.resolve();
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

const record = (i: number) => ({
  entryId: randomUUID(),
  action: 'viewed' as const,
  occurredAt: new Date(Date.UTC(2026, 3, 1, 10, i)).toISOString(),
});

async function journalWith(n: number) {
  const store = new MemoryStore();
  const key = deriveJournalKey(machineKey());
  const cacheId = randomUUID();
  const j = await openJournal(env, store, key, cacheId);
  const appended: JournalRecord[] = [];
  for (let i = 0; i < n; i++) {
    appended.push(
      await j.append({
        entryId: randomUUID(),
        action: i % 2 ? 'copied' : 'viewed',
        occurredAt: new Date(Date.UTC(2026, 3, 1, 10, i)).toISOString(),
      }),
    );
  }
  return { store, key, cacheId, j, appended };
}

describe('offline journal', () => {
  it('appends records that read back in order and fit the server upload schema', async () => {
    const { j, appended, store, cacheId } = await journalWith(3);
    const records = await j.records();
    expect(records).toEqual(appended);
    for (const r of records) {
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(Value.Check(OfflineJournalRecordSchema, r)).toBe(true);
    }
    expect(new Set(records.map((r) => r.id)).size).toBe(3);
    expect(await journalCacheId(store)).toBe(cacheId);
  });

  it('keeps entry ids and times out of the stored bytes (sealed)', async () => {
    const { store, appended } = await journalWith(2);
    const text = Buffer.from(store.blob!).toString('latin1');
    for (const r of appended) {
      expect(text).not.toContain(r.entryId);
      expect(text).not.toContain(r.occurredAt);
    }
  });

  it('an empty journal has no records', async () => {
    const j = await openJournal(env, new MemoryStore(), deriveJournalKey(machineKey()), 'c');
    expect(await j.records()).toEqual([]);
  });

  it('a modified record breaks the chain, even when sealed again with the key', async () => {
    const { j, store, key } = await journalWith(3);
    await reseal(store, key, (b) => {
      b.records[1]!.occurredAt = '2026-01-01T00:00:00.000Z';
    });
    await expectJournalCode(j.records(), 'journal_tampered');
    await expectJournalCode(
      j.append({ entryId: randomUUID(), action: 'viewed', occurredAt: new Date().toISOString() }),
      'journal_tampered',
    );
  });

  it('a removed record (middle or last) breaks the chain', async () => {
    for (const at of [1, 2]) {
      const { j, store, key } = await journalWith(3);
      await reseal(store, key, (b) => {
        b.records.splice(at, 1);
        b.count = b.records.length;
      });
      await expectJournalCode(j.records(), 'journal_tampered');
    }
  });

  it('reordered records break the chain', async () => {
    const { j, store, key } = await journalWith(3);
    await reseal(store, key, (b) => {
      b.records.reverse();
    });
    await expectJournalCode(j.records(), 'journal_tampered');
  });

  it('a flipped bit in the stored blob fails the seal', async () => {
    const { j, store } = await journalWith(2);
    store.blob![store.blob!.length - 5]! ^= 1;
    await expectJournalCode(j.records(), 'journal_tampered');
  });

  it('does not open with another key', async () => {
    const { store, cacheId } = await journalWith(2);
    const other = await openJournal(env, store, deriveJournalKey(machineKey()), cacheId);
    await expectJournalCode(other.records(), 'journal_tampered');
  });

  it('says when the stored journal belongs to another cache', async () => {
    const { store, key } = await journalWith(1);
    const other = await openJournal(env, store, key, randomUUID());
    await expectJournalCode(other.records(), 'journal_other_cache');
  });

  it('refuses records the server would refuse, and stores nothing for them', async () => {
    const { j, store } = await journalWith(1);
    const before = store.blob;
    const ok = {
      entryId: randomUUID(),
      action: 'viewed' as const,
      occurredAt: new Date().toISOString(),
    };
    for (const bad of [
      { ...ok, entryId: 'not-a-guid' },
      { ...ok, entryId: ok.entryId.toUpperCase() }, // the server takes lower-case GUIDs only
      { ...ok, occurredAt: 'yesterday' },
      { ...ok, occurredAt: '2026-02-30T10:00:00Z' },
      { ...ok, occurredAt: '2026-02-28T24:00:00Z' },
      { ...ok, action: 'deleted' as never },
    ]) {
      await expect(j.append(bad)).rejects.toThrow(RangeError);
    }
    expect(store.blob).toBe(before);
    expect(await j.records()).toHaveLength(1);
    await j.append({ ...ok, occurredAt: '2028-02-29T23:59:59.5+02:00' }); // a leap day exists
    expect(await j.records()).toHaveLength(2);
  });

  it('clear erases the stored journal', async () => {
    const { j, store } = await journalWith(2);
    await j.clear();
    expect(store.erased).toBe(1);
    expect(store.blob).toBeNull();
    expect(await j.records()).toEqual([]);
  });

  it('appends from two writers at once keep every record when the store serialises writers', async () => {
    const store = new LockingStore();
    const key = deriveJournalKey(machineKey());
    // Two clients of the same cache (two processes, each with its own journal object).
    const a = await openJournal(env, store, key, 'cache-1');
    const b = await openJournal(env, store, key, 'cache-1');
    const written = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append(record(i))),
    );
    const ids = (await a.records()).map((r) => r.id).sort();
    expect(ids).toEqual(written.map((r) => r.id).sort());
  });

  it('without a writer lock, interleaved appends lose records (why the host provides one)', async () => {
    const store = new MemoryStore();
    const key = deriveJournalKey(machineKey());
    const a = await openJournal(env, store, key, 'cache-1');
    const b = await openJournal(env, store, key, 'cache-1');
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).append(record(i))));
    expect((await a.records()).length).toBeLessThan(20);
  });

  it('remove drops the uploaded records and keeps, chained anew, those appended since', async () => {
    const { j, store, key, cacheId, appended } = await journalWith(3);
    const uploaded = (await j.records()).map((r) => r.id);
    const later = await j.append(record(9)); // shown while the upload was on its way
    expect(await j.remove(uploaded)).toBe(1);
    expect(await j.records()).toEqual([later]);
    // The rest verifies from the start of the chain, in a journal opened afresh too.
    const again = await openJournal(env, store, key, cacheId);
    expect(await again.records()).toEqual([later]);
    expect(appended.map((r) => r.id)).toEqual(uploaded);
    // Removing everything erases the journal.
    expect(await j.remove([later.id])).toBe(0);
    expect(store.blob).toBeNull();
  });

  it('remove of nothing keeps the records; of an empty journal, erases it', async () => {
    const { j, store } = await journalWith(2);
    expect(await j.remove([])).toBe(2);
    expect(store.blob).not.toBeNull();
    const empty = new MemoryStore();
    const e = await openJournal(env, empty, deriveJournalKey(machineKey()), 'cache-2');
    expect(await e.remove([])).toBe(0);
    expect(empty.erased).toBe(1);
  });

  it('works on WebCrypto as well, and the two implementations read each other', async () => {
    const store = new MemoryStore();
    const key = deriveJournalKey(machineKey());
    const web = await openJournal(nodeEnv({ webCrypto: true }), store, key, 'cache-1');
    const r = await web.append({
      entryId: randomUUID(),
      action: 'copied',
      occurredAt: new Date().toISOString(),
    });
    const node = await openJournal(env, store, key, 'cache-1');
    expect(await node.records()).toEqual([r]);
  });
});
