import { randomBytes } from 'node:crypto';
import { EnvelopeError, KEY_LEN, envelopeKeyId, open, openWithKeyring, seal } from './envelope.js';

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
export class SecretSealer {
  readonly #keys: Map<string, Buffer>;
  readonly #activeId: string;

  constructor(keys: Map<string, Buffer>, activeId: string) {
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
}
