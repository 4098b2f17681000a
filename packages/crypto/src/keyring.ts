import { randomBytes } from 'node:crypto';
import { EnvelopeError, KEY_LEN, envelopeKeyId, open, openWithKeyring, seal } from './envelope.js';
import { OpenPool, type OpenRequest } from './open-pool.js';

/**
 * Two-level keys for data at rest:
 * - the *wrapping key* (key-encryption key) lives outside the database: a key file or an
 *   environment variable;
 * - *data keys* encrypt the secrets; they are stored in the database, wrapped (sealed) by the
 *   wrapping key. Rotating the wrapping key re-wraps the data keys only.
 */
export interface WrappedDataKey {
  id: string;
  wrapped: Buffer;
}

const WRAP_CONTEXT = (id: string) => `strongroom:data-key:${id}`;

export function newKeyMaterial(): Buffer {
  return randomBytes(KEY_LEN);
}

export function newKeyId(prefix: string): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}

export function parseWrappingKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_LEN) {
    throw new EnvelopeError(
      'the wrapping key must be 32 bytes, written as 64 hex or base64 characters',
    );
  }
  return key;
}

export function formatWrappingKey(key: Buffer): string {
  return key.toString('base64');
}

export function wrapDataKey(
  wrappingKey: Buffer,
  wrappingKeyId: string,
  id: string,
  key: Buffer,
): WrappedDataKey {
  return { id, wrapped: seal(wrappingKey, wrappingKeyId, key, WRAP_CONTEXT(id)) };
}

export function unwrapDataKey(wrappingKey: Buffer, dataKey: WrappedDataKey): Buffer {
  const key = open(wrappingKey, dataKey.wrapped, WRAP_CONTEXT(dataKey.id));
  if (key.length !== KEY_LEN) throw new EnvelopeError('unwrapped data key has the wrong length');
  return key;
}

/** Which wrapping key id sealed this data key (to tell which key file a database needs). */
export function wrappedBy(dataKey: WrappedDataKey): string {
  return envelopeKeyId(dataKey.wrapped);
}

/**
 * The data keys in memory. Seals with the active key; opens with whichever key the envelope
 * names. `context` names where the value is stored (table, row id, column) and is authenticated.
 */
/** Batches at least this large are opened on the worker thread (when it is built). */
const BULK_OPEN_MIN = 64;

export class SecretSealer {
  readonly #keys: Map<string, Buffer>;
  readonly #activeId: string;
  /** Started on the first large batch; null when the worker is not built. */
  #pool: OpenPool | null | undefined;

  /**
   * `bulkOpenOffThread`: open large batches (`openMany`) on a worker thread. Worth it when the
   * main thread also does the database work (SQLite); with a database server (PostgreSQL) that
   * work already runs in another process, and a worker would only compete for the cores.
   */
  constructor(
    keys: Map<string, Buffer>,
    activeId: string,
    private readonly options: { bulkOpenOffThread?: boolean } = {},
  ) {
    if (!keys.has(activeId)) throw new EnvelopeError('active data key missing');
    this.#keys = new Map(keys);
    this.#activeId = activeId;
  }

  get activeKeyId(): string {
    return this.#activeId;
  }

  sealSecret(plaintext: string | Buffer, context: string): Buffer {
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    return seal(this.#keys.get(this.#activeId)!, this.#activeId, data, context);
  }

  openSecret(envelope: Uint8Array, context: string): Buffer {
    return openWithKeyring(envelope, context, (id) => this.#keys.get(id));
  }

  openSecretText(envelope: Uint8Array, context: string): string {
    return this.openSecret(envelope, context).toString('utf8');
  }

  /**
   * Opens many envelopes, in order, with the same results and errors as `openSecret`. With
   * `bulkOpenOffThread`, large batches are opened on a worker thread, so the main thread does
   * its database work meanwhile (bulk exports such as the offline package).
   */
  async openMany(items: readonly OpenRequest[]): Promise<Buffer[]> {
    if (this.options.bulkOpenOffThread === true && items.length >= BULK_OPEN_MIN) {
      this.#pool ??= OpenPool.available() ? new OpenPool(this.#keys) : null;
      if (this.#pool) return this.#pool.open(items);
    }
    return items.map((i) => this.openSecret(i.envelope, i.context));
  }

  /** Stops the worker thread, if one was started. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }
}
