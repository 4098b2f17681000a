/**
 * The offline journal (offline-mode §2, decision 46): every password shown or copied while
 * offline, kept locally until the server confirms the upload. One blob, sealed with AES-256-GCM
 * under a key the host derives from the machine key; inside, each record carries the hash of
 * the one before it, and the blob keeps the count and the hash of the last record.
 *
 * Blob: "SRJ1" ‖ u16 length ‖ cache id (UTF-8) ‖ 12-byte IV ‖ AES-GCM(JSON), with everything
 * before the sealed part as additional data.
 */
// Run-time import from the schema-free entry only (the full one loads the schema library).
import { UUID_PATTERN } from '@strongroom/protocol/lite';
import { ByteReader, ByteWriter, concat, fromUtf8, toHex, utf8 } from './bytes.js';
import { cryptoOf, type OfflineCrypto, type OfflineEnv } from './env.js';
import { OfflineJournalError } from './errors.js';

export interface JournalRecord {
  /** UUID v4, chosen here: the server records a record sent twice once. */
  id: string;
  entryId: string;
  action: 'viewed' | 'copied';
  occurredAt: string;
}

/** Where the sealed journal lives; the host provides it (a file, IndexedDB…). */
export interface BlobStore {
  read(): Promise<Uint8Array | null>;
  /** Replaces the blob atomically (a crash leaves the old or the new one). */
  write(bytes: Uint8Array): Promise<void>;
  /** Overwrites, then removes the blob. */
  erase(): Promise<void>;
  /**
   * Runs `fn` while no other writer of this blob runs, in this process or another (a lock file,
   * Web Locks…). Every read-change-write of the journal runs inside it, so two clients appending
   * at once both keep their record. Without it the host promises a single writer.
   */
  exclusive?<T>(fn: () => Promise<T>): Promise<T>;
}

export interface Journal {
  append(r: Omit<JournalRecord, 'id'>): Promise<JournalRecord>;
  /** Oldest first; verifies the seal and the chain (throws `journal_tampered`). */
  records(): Promise<JournalRecord[]>;
  /**
   * Removes these records (the ones the server confirmed) and keeps any appended since they were
   * read, chained anew; erases the journal when none is left. Returns how many are left.
   */
  remove(ids: readonly string[]): Promise<number>;
  clear(): Promise<void>;
}

interface ChainedRecord extends JournalRecord {
  /** Hash of the record before (hex); the first record's is the journal's genesis hash. */
  prev: string;
}

interface Body {
  v: 1;
  records: ChainedRecord[];
  count: number;
  head: string;
}

const MAGIC = utf8('SRJ1');
const GENESIS_LABEL = 'strongroom offline journal v1\n';

async function genesis(c: OfflineCrypto, cacheId: string): Promise<string> {
  return toHex(await c.sha256(utf8(GENESIS_LABEL + cacheId)));
}

async function link(c: OfflineCrypto, prev: string, r: JournalRecord): Promise<string> {
  return toHex(await c.sha256(utf8([prev, r.id, r.entryId, r.action, r.occurredAt].join('\n'))));
}

function uuidV4(random: (n: number) => Uint8Array): string {
  const b = random(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

interface Envelope {
  cacheId: string;
  aad: Uint8Array;
  iv: Uint8Array;
  sealed: Uint8Array;
}

function parseEnvelope(blob: Uint8Array): Envelope {
  try {
    const r = new ByteReader(blob);
    const magic = r.bytes(4);
    if (magic.some((x, i) => x !== MAGIC[i])) throw new Error('magic');
    const cacheId = fromUtf8(r.bytes(r.u16()));
    const aad = blob.subarray(0, r.pos);
    const iv = r.bytes(12);
    const sealed = r.bytes(r.remaining);
    return { cacheId, aad, iv, sealed };
  } catch {
    throw new OfflineJournalError('journal_tampered');
  }
}

/** The cache a stored journal belongs to (readable without the key), or null if none is stored. */
export async function journalCacheId(store: BlobStore): Promise<string | null> {
  const blob = await store.read();
  return blob ? parseEnvelope(blob).cacheId : null;
}

/** The server's id pattern (lower-case GUID): an id it would refuse must not be stored. */
const UUID = new RegExp(UUID_PATTERN);
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** An RFC 3339 date and time that exists on the calendar (no 30 February, no hour 24). */
function isIsoTime(s: string): boolean {
  const m = ISO_TIME.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec, oh = '0', om = '0'] = m.slice(1).map((x) => x ?? '0');
  const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  return (
    Number(mo) >= 1 &&
    Number(mo) <= 12 &&
    Number(d) >= 1 &&
    Number(d) <= days &&
    Number(h) <= 23 &&
    Number(mi) <= 59 &&
    Number(sec) <= 59 &&
    Number(oh) <= 23 &&
    Number(om) <= 59
  );
}

/** A chained record's keys, sorted and joined, to compare with a stored record's. */
const RECORD_KEYS = ['id', 'entryId', 'action', 'occurredAt', 'prev'].sort().join(',');

export async function openJournal(
  env: OfflineEnv,
  store: BlobStore,
  key: Uint8Array,
  cacheId: string,
): Promise<Journal> {
  if (key.length !== 32) throw new RangeError('A journal key is 32 bytes.');
  const c = cryptoOf(env);
  const idBytes = utf8(cacheId);
  if (idBytes.length > 0xffff) throw new RangeError('cache id too long');
  const aad = new ByteWriter().bytes(MAGIC).u16(idBytes.length).bytes(idBytes).result();
  const start = await genesis(c, cacheId);

  const load = async (): Promise<Body> => {
    const blob = await store.read();
    if (!blob) return { v: 1, records: [], count: 0, head: start };
    const env_ = parseEnvelope(blob);
    if (env_.cacheId !== cacheId) throw new OfflineJournalError('journal_other_cache');
    const plain = await c.aesGcmOpen(key, env_.iv, env_.sealed, env_.aad);
    if (!plain) throw new OfflineJournalError('journal_tampered');
    let body: Body;
    try {
      body = JSON.parse(fromUtf8(plain)) as Body;
    } catch {
      throw new OfflineJournalError('journal_tampered');
    }
    await verify(body);
    return body;
  };

  const verify = async (body: Body): Promise<void> => {
    if (body?.v !== 1 || !Array.isArray(body.records) || body.count !== body.records.length) {
      throw new OfflineJournalError('journal_tampered');
    }
    let h = start;
    for (const r of body.records) {
      if (
        typeof r !== 'object' ||
        r === null ||
        Object.keys(r).sort().join(',') !== RECORD_KEYS ||
        r.prev !== h
      ) {
        throw new OfflineJournalError('journal_tampered');
      }
      h = await link(c, h, r);
    }
    if (h !== body.head) throw new OfflineJournalError('journal_tampered');
  };

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> =>
    store.exclusive ? store.exclusive(fn) : fn();

  const save = async (body: Body): Promise<void> => {
    const iv = env.randomBytes(12);
    const sealed = await c.aesGcmSeal(key, iv, utf8(JSON.stringify(body)), aad);
    await store.write(concat(aad, iv, sealed));
  };

  return {
    async append(r) {
      // Refuse here what the server's upload would refuse, or one bad record would block every
      // later upload of this journal.
      if (r.action !== 'viewed' && r.action !== 'copied') {
        throw new RangeError('A journal action is "viewed" or "copied".');
      }
      if (!UUID.test(r.entryId)) throw new RangeError('A journal entry id is a GUID.');
      if (!isIsoTime(r.occurredAt)) {
        throw new RangeError('A journal time is an ISO 8601 date and time.');
      }
      return exclusive(async () => {
        const body = await load();
        const record: JournalRecord = {
          id: uuidV4((n) => env.randomBytes(n)),
          entryId: r.entryId,
          action: r.action,
          occurredAt: r.occurredAt,
        };
        body.records.push({ ...record, prev: body.head });
        body.head = await link(c, body.head, record);
        body.count = body.records.length;
        await save(body);
        return record;
      });
    },
    async records() {
      const body = await load();
      return body.records.map(({ id, entryId, action, occurredAt }) => ({
        id,
        entryId,
        action,
        occurredAt,
      }));
    },
    async remove(ids) {
      const gone = new Set(ids);
      return exclusive(async () => {
        const body = await load();
        const kept = body.records.filter((r) => !gone.has(r.id));
        if (kept.length === 0) {
          await store.erase();
          return 0;
        }
        if (kept.length === body.records.length) return kept.length;
        let head = start;
        const records: ChainedRecord[] = [];
        for (const { id, entryId, action, occurredAt } of kept) {
          const record = { id, entryId, action, occurredAt };
          records.push({ ...record, prev: head });
          head = await link(c, head, record);
        }
        await save({ v: 1, records, count: records.length, head });
        return records.length;
      });
    },
    async clear() {
      await exclusive(() => store.erase());
    },
  };
}
