/**
 * What the offline library needs from its host. The library itself imports no Node module: the
 * command-line client passes Argon2 (from `@strongroom/crypto`), a clock and a random source; a
 * browser passes its own. Hashing, HMAC and AES-GCM default to WebCrypto (`globalThis.crypto`,
 * present in Node 20 and in browsers); a host may inject its own implementation.
 */
import { concatParts } from './bytes.js';

/** Argon2id cost. `memoryKiB` is at least 65536 (64 MiB) for every cache this library writes. */
export interface KdfParams {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

/** Argon2id, version 0x13, raw output of `length` bytes. */
export type Argon2idFn = (
  password: Uint8Array,
  salt: Uint8Array,
  p: KdfParams & { length: number; secret?: Uint8Array; ad?: Uint8Array },
) => Promise<Uint8Array>;

/** Hashes, HMAC and AES-256-GCM, all asynchronous so that WebCrypto can provide them. */
export interface OfflineCrypto {
  sha256(data: Uint8Array): Promise<Uint8Array>;
  sha512(data: Uint8Array): Promise<Uint8Array>;
  /** HMAC-SHA-256 of `data`, or of the concatenation of its parts. */
  hmacSha256(key: Uint8Array, data: Uint8Array | readonly Uint8Array[]): Promise<Uint8Array>;
  /**
   * Optional native ChaCha20 (RFC 8439, from block `counter`, default 0): the result is `data`
   * XOR the keystream. Without it the library's own (JavaScript) ChaCha20 is used.
   */
  chacha20?(key: Uint8Array, nonce: Uint8Array, data: Uint8Array, counter?: number): Uint8Array;
  /** AES-256-GCM with a 12-byte IV; returns ciphertext followed by the 16-byte tag. */
  aesGcmSeal(
    key: Uint8Array,
    iv: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
  /** Inverse of `aesGcmSeal`; null when the tag does not verify (wrong key or changed data). */
  aesGcmOpen(
    key: Uint8Array,
    iv: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array | null>;
}

/** gzip, for the KDBX payload. */
export interface OfflineCompression {
  /** gzip of the concatenation of `parts`. */
  gzip(parts: readonly Uint8Array[]): Promise<Uint8Array>;
  /** Throws on data that is not gzip. */
  gunzip(data: Uint8Array): Promise<Uint8Array>;
}

export interface OfflineEnv {
  argon2id: Argon2idFn;
  now(): Date;
  /** Cryptographically secure random bytes. */
  randomBytes(n: number): Uint8Array;
  /** Defaults to WebCrypto. */
  crypto?: OfflineCrypto;
  /** Defaults to the Compression Streams API (`CompressionStream`). */
  compression?: OfflineCompression;
}

/** The smallest Argon2 memory this library accepts when it writes or opens a cache: 64 MiB. */
export const MIN_KDF_MEMORY_KIB = 65536;

/** BufferSource typing differs between lib.dom and @types/node; a plain ArrayBuffer suits both. */
const ab = (b: Uint8Array): ArrayBuffer =>
  b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer
    ? b.buffer
    : (b.slice().buffer as ArrayBuffer);

function subtle(): typeof globalThis.crypto.subtle {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('WebCrypto is not available here (a secure context is needed).');
  return s;
}

/** OfflineCrypto on WebCrypto (`globalThis.crypto.subtle`). */
export const webCrypto: OfflineCrypto = {
  async sha256(data) {
    return new Uint8Array(await subtle().digest('SHA-256', ab(data)));
  },
  async sha512(data) {
    return new Uint8Array(await subtle().digest('SHA-512', ab(data)));
  },
  async hmacSha256(key, data) {
    const k = await subtle().importKey('raw', ab(key), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    const bytes = data instanceof Uint8Array ? data : concatParts(data);
    return new Uint8Array(await subtle().sign('HMAC', k, ab(bytes)));
  },
  async aesGcmSeal(key, iv, plaintext, aad) {
    const k = await subtle().importKey('raw', ab(key), 'AES-GCM', false, ['encrypt']);
    return new Uint8Array(
      await subtle().encrypt(
        { name: 'AES-GCM', iv: ab(iv), additionalData: ab(aad), tagLength: 128 },
        k,
        ab(plaintext),
      ),
    );
  },
  async aesGcmOpen(key, iv, sealed, aad) {
    const k = await subtle().importKey('raw', ab(key), 'AES-GCM', false, ['decrypt']);
    try {
      return new Uint8Array(
        await subtle().decrypt(
          { name: 'AES-GCM', iv: ab(iv), additionalData: ab(aad), tagLength: 128 },
          k,
          ab(sealed),
        ),
      );
    } catch {
      return null;
    }
  },
};

export const cryptoOf = (env: OfflineEnv): OfflineCrypto => env.crypto ?? webCrypto;

async function pipe(
  data: readonly Uint8Array[],
  t: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
): Promise<Uint8Array> {
  const reader = new Blob(data.map(ab)).stream().pipeThrough(t).getReader();
  const parts: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return concatParts(parts);
}

/** OfflineCompression on the Compression Streams API (Node 18+, browsers). */
export const streamCompression: OfflineCompression = {
  gzip: (data) => pipe(data, new CompressionStream('gzip') as never),
  gunzip: (data) => pipe([data], new DecompressionStream('gzip') as never),
};

export const compressionOf = (env: OfflineEnv): OfflineCompression =>
  env.compression ?? streamCompression;
