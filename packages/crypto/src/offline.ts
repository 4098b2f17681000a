import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes as nodeRandomBytes,
} from 'node:crypto';
import { hashRaw } from '@node-rs/argon2';
import { ARGON2ID, V0X13 } from './argon2-ids.js';
import { hmacSha256 } from './tokens.js';

/**
 * What the offline cache needs from Node (offline-mode §3): raw Argon2id for the KDBX key
 * derivation, the machine key that binds a cache to this machine and client directory, the
 * journal key, and the hashes/HMAC/AES-GCM of `@strongroom/offline`'s `OfflineCrypto` on
 * node:crypto.
 */

/** A Buffer as a plain Uint8Array view (no copy). */
const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

export interface Argon2idRawParams {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  /** Output length in bytes. */
  length: number;
  /** Argon2's secret value K (optional). */
  secret?: Uint8Array;
  /** Argon2's associated data X: not supported by the binding; refused if not empty. */
  ad?: Uint8Array;
}

/** Argon2id (version 0x13), raw output. Runs on libuv's thread pool, off the main thread. */
export async function argon2idRaw(
  password: Uint8Array,
  salt: Uint8Array,
  p: Argon2idRawParams,
): Promise<Uint8Array> {
  if (p.ad && p.ad.length > 0) {
    throw new RangeError('Argon2 associated data is not supported here.');
  }
  const out = await hashRaw(password, {
    algorithm: ARGON2ID,
    version: V0X13,
    memoryCost: p.memoryKiB,
    timeCost: p.iterations,
    parallelism: p.parallelism,
    outputLen: p.length,
    salt,
    ...(p.secret && p.secret.length > 0 ? { secret: p.secret } : {}),
  });
  return u8(out);
}

const MACHINE_KEY_LABEL = 'strongroom machine key v1\n';
const JOURNAL_KEY_LABEL = 'strongroom offline journal key v1';

/**
 * The 32-byte machine key: HMAC-SHA-256 keyed with the random secret kept in the client's data
 * directory, over a versioned label and the operating system's machine identity. Copying the
 * directory to another machine (another identity) or using another directory (another secret)
 * gives another key.
 */
export function deriveMachineKey(secret: Uint8Array, machineId: string): Uint8Array {
  if (secret.length < 16) throw new RangeError('The machine secret must be at least 16 bytes.');
  return new Uint8Array(hmacSha256(secret, MACHINE_KEY_LABEL + machineId));
}

/** The 32-byte key that seals the offline journal, from the machine key (a separate label). */
export function deriveJournalKey(machineKey: Uint8Array): Uint8Array {
  if (machineKey.length !== 32) throw new RangeError('A machine key is 32 bytes.');
  return new Uint8Array(hmacSha256(machineKey, JOURNAL_KEY_LABEL));
}

export function offlineRandomBytes(n: number): Uint8Array {
  return u8(nodeRandomBytes(n));
}

/** `OfflineCrypto` (see `@strongroom/offline`) on node:crypto. */
export const nodeOfflineCrypto = {
  async sha256(data: Uint8Array): Promise<Uint8Array> {
    return u8(createHash('sha256').update(data).digest());
  },
  async sha512(data: Uint8Array): Promise<Uint8Array> {
    return u8(createHash('sha512').update(data).digest());
  },
  async hmacSha256(key: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array> {
    const h = createHmac('sha256', key);
    if (data instanceof Uint8Array) h.update(data);
    else for (const part of data) h.update(part);
    return u8(h.digest());
  },
  /** ChaCha20 (RFC 8439) from block 0; OpenSSL takes the counter as the IV's first 4 bytes. */
  chacha20(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, counter = 0): Uint8Array {
    if (nonce.length !== 12) throw new RangeError('ChaCha20 needs a 12-byte nonce');
    const iv = Buffer.alloc(16);
    iv.writeUInt32LE(counter, 0);
    iv.set(nonce, 4);
    return u8(createCipheriv('chacha20', key, iv).update(data));
  },
  async aesGcmSeal(
    key: Uint8Array,
    iv: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array> {
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(aad);
    return u8(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
  },
  async aesGcmOpen(
    key: Uint8Array,
    iv: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array | null> {
    if (sealed.length < 16) return null;
    try {
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return u8(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]));
    } catch {
      return null;
    }
  },
};
