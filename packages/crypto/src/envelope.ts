import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Versioned envelope for secrets at rest (AES-256-GCM).
 *
 * Layout (binary):
 *   0..1   magic "SR"
 *   2      format version (1)
 *   3      key id length n (1..64)
 *   4..    key id (ASCII, n bytes)
 *   then   nonce (12 bytes) | ciphertext | tag (16 bytes)
 *
 * Additional authenticated data = the header (magic..key id) followed by the UTF-8 context string,
 * so a ciphertext moved to another row or column (another context) fails to open.
 */
export const ENVELOPE_VERSION = 1;
const MAGIC = Buffer.from('SR', 'ascii');
const NONCE_LEN = 12;
const TAG_LEN = 16;
export const KEY_LEN = 32;

export class EnvelopeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

function header(keyId: string): Buffer {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(keyId)) throw new EnvelopeError('invalid key id');
  const id = Buffer.from(keyId, 'ascii');
  return Buffer.concat([MAGIC, Buffer.from([ENVELOPE_VERSION, id.length]), id]);
}

/** Low-level seal with an explicit nonce. Exposed for known-answer tests only. */
export function sealWithNonce(
  key: Buffer,
  keyId: string,
  plaintext: Buffer,
  context: string,
  nonce: Buffer,
): Buffer {
  if (key.length !== KEY_LEN) throw new EnvelopeError('key must be 32 bytes');
  if (nonce.length !== NONCE_LEN) throw new EnvelopeError('nonce must be 12 bytes');
  const head = header(keyId);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
  cipher.setAAD(Buffer.concat([head, Buffer.from(context, 'utf8')]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([head, nonce, body, cipher.getAuthTag()]);
}

export function seal(key: Buffer, keyId: string, plaintext: Buffer, context: string): Buffer {
  return sealWithNonce(key, keyId, plaintext, context, randomBytes(NONCE_LEN));
}

const asBuffer = (envelope: Uint8Array): Buffer =>
  Buffer.isBuffer(envelope)
    ? envelope
    : Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);

/** Checks the fixed part of an envelope and returns the length of its header (magic..key id). */
function headerLength(buf: Buffer): number {
  if (buf.length < 4 || buf[0] !== MAGIC[0] || buf[1] !== MAGIC[1])
    throw new EnvelopeError('not an envelope');
  if (buf[2] !== ENVELOPE_VERSION)
    throw new EnvelopeError(`unsupported envelope version ${buf[2]}`);
  const n = buf[3] ?? 0;
  if (n < 1 || buf.length < 4 + n + NONCE_LEN + TAG_LEN)
    throw new EnvelopeError('truncated envelope');
  return 4 + n;
}

/** Reads the key id of an envelope without opening it. */
export function envelopeKeyId(envelope: Uint8Array): string {
  const buf = asBuffer(envelope);
  return buf.toString('ascii', 4, headerLength(buf));
}

export function open(key: Buffer, envelope: Uint8Array, context: string): Buffer {
  const buf = asBuffer(envelope);
  return openParsed(key, buf, headerLength(buf), context);
}

/**
 * Opens an envelope with the key its key id names (`keyFor` returns undefined for an unknown
 * id): the header is read once. For bulk reads such as exports.
 */
export function openWithKeyring(
  envelope: Uint8Array,
  context: string,
  keyFor: (keyId: string) => Buffer | undefined,
): Buffer {
  const buf = asBuffer(envelope);
  const headLen = headerLength(buf);
  const keyId = buf.toString('ascii', 4, headLen);
  const key = keyFor(keyId);
  if (!key) throw new EnvelopeError(`data key ${keyId} is not available`);
  return openParsed(key, buf, headLen, context);
}

function openParsed(key: Buffer, buf: Buffer, headLen: number, context: string): Buffer {
  const nonce = buf.subarray(headLen, headLen + NONCE_LEN);
  const tag = buf.subarray(buf.length - TAG_LEN);
  const body = buf.subarray(headLen + NONCE_LEN, buf.length - TAG_LEN);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
  // AAD = header followed by the UTF-8 context, built in one buffer.
  const aad = Buffer.allocUnsafe(headLen + Buffer.byteLength(context, 'utf8'));
  buf.copy(aad, 0, 0, headLen);
  aad.write(context, headLen, 'utf8');
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    const out = decipher.update(body);
    const rest = decipher.final(); // empty for GCM, which buffers nothing
    return rest.length === 0 ? out : Buffer.concat([out, rest]);
  } catch {
    throw new EnvelopeError('envelope failed authentication');
  }
}
