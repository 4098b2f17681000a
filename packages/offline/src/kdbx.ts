/**
 * The KDBX 4 container, written and read by this library (decision 42): outer header (TLV
 * fields, variant dictionaries for the KDF parameters and the public custom data), header
 * SHA-256 and HMAC-SHA-256, the HMAC block stream, the ChaCha20 payload cipher, optional gzip
 * (read only), the inner header (inner stream key, binaries) and the XML document bytes.
 * What the XML holds is `cache.ts`'s business.
 */
import { ByteReader, ByteWriter, concat, equalBytes, fromHex, fromUtf8, utf8 } from './bytes.js';
import { ChaCha20 } from './chacha20.js';
import type { Argon2idFn, KdfParams, OfflineCompression, OfflineCrypto } from './env.js';
import { sha256 } from './sha256.js';

const SIG1 = 0x9aa2d903;
const SIG2 = 0xb54bfb67;
const KDBX_MAJOR = 4;
const KDBX_MINOR = 0;

const CIPHER_CHACHA20 = fromHex('d6038a2b8b6f4cb5a524339a31dbb59a')!;
const KDF_ARGON2D = fromHex('ef636ddf8c29444b91f7a9a403e30a0c')!;
const KDF_ARGON2ID = fromHex('9e298b1956db4773b23dfc3ec6f0a1e6')!;
const INNER_STREAM_CHACHA20 = 3;
const ARGON2_VERSION = 0x13;
const BLOCK_SIZE = 1024 * 1024;

/** Outer header field ids. */
const H = {
  end: 0,
  cipherId: 2,
  compression: 3,
  masterSeed: 4,
  encryptionIv: 7,
  kdfParameters: 11,
  publicCustomData: 12,
} as const;

/** The file is not a KDBX file, or it is damaged. */
export class KdbxFormatError extends Error {}
/** A KDBX file this codec does not read (version, cipher, KDF, inner stream). */
export class KdbxUnsupportedError extends Error {}

// ---------------------------------------------------------------- variant dictionary

export type VdValue =
  | { type: 'u32'; value: number }
  | { type: 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'i32'; value: number }
  | { type: 'i64'; value: number }
  | { type: 'string'; value: string }
  | { type: 'bytes'; value: Uint8Array };
export type VariantDictionary = Map<string, VdValue>;

const VD_TYPES = {
  u32: 0x04,
  u64: 0x05,
  bool: 0x08,
  i32: 0x0c,
  i64: 0x0d,
  string: 0x18,
  bytes: 0x42,
};

function writeVariantDictionary(d: VariantDictionary): Uint8Array {
  const w = new ByteWriter().u16(0x0100);
  for (const [key, v] of d) {
    const name = utf8(key);
    w.u8(VD_TYPES[v.type]).u32(name.length).bytes(name);
    switch (v.type) {
      case 'u32':
        w.u32(4).u32(v.value);
        break;
      case 'i32':
        w.u32(4).u32(v.value >>> 0);
        break;
      case 'u64':
      case 'i64':
        w.u32(8).u64(v.value);
        break;
      case 'bool':
        w.u32(1).u8(v.value ? 1 : 0);
        break;
      case 'string': {
        const b = utf8(v.value);
        w.u32(b.length).bytes(b);
        break;
      }
      case 'bytes':
        w.u32(v.value.length).bytes(v.value);
        break;
    }
  }
  return w.u8(0).result();
}

function readVariantDictionary(b: Uint8Array): VariantDictionary {
  const r = new ByteReader(b);
  const version = r.u16();
  if (version >> 8 !== 1) throw new KdbxUnsupportedError('variant dictionary version');
  const d: VariantDictionary = new Map();
  for (;;) {
    const type = r.u8();
    if (type === 0) break;
    const key = fromUtf8(r.bytes(r.u32()));
    const value = r.bytes(r.u32());
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const need = (n: number) => {
      if (value.length !== n) throw new KdbxFormatError('variant dictionary value size');
    };
    switch (type) {
      case 0x04:
        need(4);
        d.set(key, { type: 'u32', value: view.getUint32(0, true) });
        break;
      case 0x0c:
        need(4);
        d.set(key, { type: 'i32', value: view.getInt32(0, true) });
        break;
      case 0x05:
      case 0x0d: {
        need(8);
        const v = type === 0x05 ? view.getBigUint64(0, true) : view.getBigInt64(0, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new KdbxUnsupportedError('variant dictionary number out of range');
        }
        d.set(key, { type: type === 0x05 ? 'u64' : 'i64', value: Number(v) });
        break;
      }
      case 0x08:
        need(1);
        d.set(key, { type: 'bool', value: value[0] !== 0 });
        break;
      case 0x18:
        d.set(key, { type: 'string', value: fromUtf8(value) });
        break;
      case 0x42:
        d.set(key, { type: 'bytes', value: value.slice() });
        break;
      default:
        throw new KdbxFormatError('variant dictionary type');
    }
  }
  if (r.remaining !== 0) throw new KdbxFormatError('bytes after the variant dictionary');
  return d;
}

// ---------------------------------------------------------------- outer header

interface KdbxHeader {
  versionMajor: number;
  versionMinor: number;
  cipherId: Uint8Array;
  compression: number;
  masterSeed: Uint8Array;
  encryptionIv: Uint8Array;
  kdf: VariantDictionary;
  publicCustomData: VariantDictionary;
}

export interface ParsedHeader {
  header: KdbxHeader;
  /** The header bytes, signature to end-of-header field included. */
  raw: Uint8Array;
  /** Offset of the header's SHA-256 (then its HMAC, then the block stream). */
  end: number;
}

/** Parses the outer header. Throws KdbxFormatError or KdbxUnsupportedError. */
export function readHeader(bytes: Uint8Array): ParsedHeader {
  const r = new ByteReader(bytes);
  if (bytes.length < 12 || r.u32() !== SIG1 || r.u32() !== SIG2) {
    throw new KdbxFormatError('not a KDBX file');
  }
  const versionMinor = r.u16();
  const versionMajor = r.u16();
  if (versionMajor !== 4) throw new KdbxUnsupportedError(`KDBX version ${versionMajor}`);
  const fields = new Map<number, Uint8Array>();
  for (;;) {
    const id = r.u8();
    const data = r.bytes(r.u32());
    if (id === H.end) break;
    if (fields.has(id)) throw new KdbxFormatError('repeated header field');
    fields.set(id, data);
  }
  const raw = bytes.subarray(0, r.pos);
  const get = (id: number) => {
    const f = fields.get(id);
    if (!f) throw new KdbxFormatError(`missing header field ${id}`);
    return f;
  };
  const compression = get(H.compression);
  if (compression.length !== 4) throw new KdbxFormatError('compression flags');
  const pcd = fields.get(H.publicCustomData);
  return {
    header: {
      versionMajor,
      versionMinor,
      cipherId: get(H.cipherId),
      compression: new DataView(compression.buffer, compression.byteOffset, 4).getUint32(0, true),
      masterSeed: get(H.masterSeed),
      encryptionIv: get(H.encryptionIv),
      kdf: readVariantDictionary(get(H.kdfParameters)),
      publicCustomData: pcd ? readVariantDictionary(pcd) : new Map(),
    },
    raw,
    end: r.pos,
  };
}

function writeHeader(h: KdbxHeader): Uint8Array {
  const w = new ByteWriter().u32(SIG1).u32(SIG2).u16(h.versionMinor).u16(h.versionMajor);
  const field = (id: number, data: Uint8Array) => w.u8(id).u32(data.length).bytes(data);
  field(H.cipherId, h.cipherId);
  field(H.compression, new ByteWriter().u32(h.compression).result());
  field(H.masterSeed, h.masterSeed);
  field(H.encryptionIv, h.encryptionIv);
  field(H.kdfParameters, writeVariantDictionary(h.kdf));
  if (h.publicCustomData.size > 0) {
    field(H.publicCustomData, writeVariantDictionary(h.publicCustomData));
  }
  field(H.end, new Uint8Array([13, 10, 13, 10]));
  return w.result();
}

// ---------------------------------------------------------------- keys

/** KDBX composite key: SHA-256(SHA-256(password) ‖ key file key). */
export async function compositeKey(
  crypto: OfflineCrypto,
  password: Uint8Array,
  keyFileKey: Uint8Array,
): Promise<Uint8Array> {
  return crypto.sha256(concat(await crypto.sha256(password), keyFileKey));
}

interface Argon2Params extends KdfParams {
  salt: Uint8Array;
  argon2d: boolean;
}

/** The Argon2 parameters in a KDF variant dictionary; throws KdbxUnsupportedError otherwise. */
function argon2ParamsOf(kdf: VariantDictionary): Argon2Params {
  const uuid = kdf.get('$UUID');
  if (uuid?.type !== 'bytes') throw new KdbxFormatError('KDF without a UUID');
  const argon2d = equalBytes(uuid.value, KDF_ARGON2D);
  if (!argon2d && !equalBytes(uuid.value, KDF_ARGON2ID)) {
    throw new KdbxUnsupportedError('KDF other than Argon2');
  }
  const num = (k: string) => {
    const v = kdf.get(k);
    if (v?.type !== 'u32' && v?.type !== 'u64') throw new KdbxFormatError(`Argon2 parameter ${k}`);
    return v.value;
  };
  const salt = kdf.get('S');
  if (salt?.type !== 'bytes') throw new KdbxFormatError('Argon2 salt');
  if (kdf.has('K') || kdf.has('A')) throw new KdbxUnsupportedError('Argon2 secret or data');
  if (num('V') !== ARGON2_VERSION) throw new KdbxUnsupportedError('Argon2 version');
  const memoryBytes = num('M');
  if (memoryBytes % 1024 !== 0) throw new KdbxUnsupportedError('Argon2 memory');
  return {
    salt: salt.value,
    argon2d,
    memoryKiB: memoryBytes / 1024,
    iterations: num('I'),
    parallelism: num('P'),
  };
}

function kdfDictionary(p: KdfParams, salt: Uint8Array): VariantDictionary {
  return new Map<string, VdValue>([
    ['$UUID', { type: 'bytes', value: KDF_ARGON2ID }],
    ['S', { type: 'bytes', value: salt }],
    ['P', { type: 'u32', value: p.parallelism }],
    ['M', { type: 'u64', value: p.memoryKiB * 1024 }],
    ['I', { type: 'u64', value: p.iterations }],
    ['V', { type: 'u32', value: ARGON2_VERSION }],
  ]);
}

const u64le = (n: number) => new ByteWriter().u64(n).result();
const ALL_ONES = new Uint8Array(8).fill(0xff);

interface Keys {
  cipherKey: Uint8Array;
  hmacKey: Uint8Array;
}

async function payloadKeys(
  crypto: OfflineCrypto,
  masterSeed: Uint8Array,
  transformed: Uint8Array,
): Promise<Keys> {
  const [cipherKey, hmacKey] = await Promise.all([
    crypto.sha256(concat(masterSeed, transformed)),
    crypto.sha512(concat(masterSeed, transformed, new Uint8Array([1]))),
  ]);
  return { cipherKey, hmacKey };
}

const blockKey = (crypto: OfflineCrypto, hmacKey: Uint8Array, index: Uint8Array) =>
  crypto.sha512(concat(index, hmacKey));

// ---------------------------------------------------------------- inner header

export interface InnerContent {
  /** 64 random bytes: the inner stream (ChaCha20) key material. */
  streamKey: Uint8Array;
  binaries: Uint8Array[];
  xml: Uint8Array;
}

/** A keystream consumed in order, a few bytes at a time. */
export interface Stream {
  xorInPlace(data: Uint8Array): Uint8Array;
}

type NativeChaCha = Required<Pick<OfflineCrypto, 'chacha20'>>;

/** A stream on the host's native ChaCha20, taken 16 KiB at a time. */
class NativeStream implements Stream {
  #buf: Uint8Array = new Uint8Array(0);
  #used = 0;
  #counter = 0;
  constructor(
    private readonly crypto: NativeChaCha,
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
  ) {}
  xorInPlace(data: Uint8Array): Uint8Array {
    for (let i = 0; i < data.length; i++) {
      if (this.#used === this.#buf.length) {
        this.#buf = this.crypto.chacha20(
          this.key,
          this.nonce,
          new Uint8Array(16384),
          this.#counter,
        );
        this.#counter += 256;
        this.#used = 0;
      }
      data[i]! ^= this.#buf[this.#used++]!;
    }
    return data;
  }
}

/** The inner stream that hides protected values, in document order. */
export async function innerStream(crypto: OfflineCrypto, streamKey: Uint8Array): Promise<Stream> {
  const h = await crypto.sha512(streamKey);
  const key = h.subarray(0, 32);
  const nonce = h.subarray(32, 44);
  return crypto.chacha20
    ? new NativeStream(crypto as NativeChaCha, key, nonce)
    : new ChaCha20(key, nonce);
}

/** What a writer provides: the document as UTF-8 chunks. */
export interface WriteContent {
  streamKey: Uint8Array;
  binaries: Uint8Array[];
  xml: Uint8Array[];
}

/** The inner header and the document, as parts (nothing copied into one buffer). */
function writeInner(c: WriteContent): Uint8Array[] {
  const field = (id: number, len: number) => new ByteWriter().u8(id).u32(len);
  const head = field(1, 4).u32(INNER_STREAM_CHACHA20);
  head.bytes(field(2, c.streamKey.length).result()).bytes(c.streamKey);
  const parts: Uint8Array[] = [head.result()];
  for (const b of c.binaries) {
    parts.push(
      field(3, b.length + 1)
        .u8(0)
        .result(),
      b,
    ); // flags 0: not "protected in memory"
  }
  parts.push(field(0, 0).result(), ...c.xml);
  return parts;
}

function readInner(payload: Uint8Array): InnerContent {
  const r = new ByteReader(payload);
  let streamId = -1;
  let streamKey: Uint8Array | undefined;
  const binaries: Uint8Array[] = [];
  for (;;) {
    const id = r.u8();
    const data = r.bytes(r.u32());
    if (id === 0) break;
    if (id === 1) {
      if (data.length !== 4) throw new KdbxFormatError('inner stream id');
      streamId = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
    } else if (id === 2) streamKey = data;
    else if (id === 3) {
      if (data.length < 1) throw new KdbxFormatError('inner binary');
      binaries.push(data.subarray(1));
    } else throw new KdbxFormatError('inner header field');
  }
  if (streamId !== INNER_STREAM_CHACHA20 || !streamKey) {
    throw new KdbxUnsupportedError('inner stream other than ChaCha20');
  }
  return { streamKey, binaries, xml: payload.subarray(r.pos) };
}

// ---------------------------------------------------------------- whole file

/** The payload cipher: the host's native ChaCha20 when it has one, else ours (in place). */
function chacha20(c: OfflineCrypto, key: Uint8Array, iv: Uint8Array, data: Uint8Array) {
  return c.chacha20 ? c.chacha20(key, iv, data) : new ChaCha20(key, iv).xorInPlace(data);
}

interface WriteOptions {
  crypto: OfflineCrypto;
  compression: OfflineCompression;
  argon2id: Argon2idFn;
  /** SHA-256(SHA-256(password) ‖ key file key). */
  compositeKey: Uint8Array;
  kdf: KdfParams;
  random: (n: number) => Uint8Array;
  publicCustomData: VariantDictionary;
  /** Produces the inner content while Argon2 runs (it runs off the main thread in Node). */
  content: () => Promise<WriteContent> | WriteContent;
  onDerived?: () => void;
}

export async function writeKdbx(o: WriteOptions): Promise<Uint8Array> {
  const salt = o.random(32);
  const header: KdbxHeader = {
    versionMajor: KDBX_MAJOR,
    versionMinor: KDBX_MINOR,
    cipherId: CIPHER_CHACHA20,
    compression: 1,
    masterSeed: o.random(32),
    encryptionIv: o.random(12),
    kdf: kdfDictionary(o.kdf, salt),
    publicCustomData: o.publicCustomData,
  };
  const transformedP = o.argon2id(o.compositeKey, salt, { ...o.kdf, length: 32 });
  // Start Argon2 before building the content; do not leave its rejection unhandled meanwhile.
  transformedP.catch(() => undefined);
  const content = await o.content();
  const transformed = await transformedP;
  o.onDerived?.();
  const rawHeader = writeHeader(header);
  const { cipherKey, hmacKey } = await payloadKeys(o.crypto, header.masterSeed, transformed);
  const packed = await o.compression.gzip(writeInner(content));
  const payload = chacha20(o.crypto, cipherKey, header.encryptionIv, packed);

  const [headerHash, headerHmacKey] = await Promise.all([
    o.crypto.sha256(rawHeader),
    blockKey(o.crypto, hmacKey, ALL_ONES),
  ]);
  const headerHmac = await o.crypto.hmacSha256(headerHmacKey, rawHeader);

  const blocks = Math.ceil(payload.length / BLOCK_SIZE);
  const out = new Uint8Array(rawHeader.length + 64 + payload.length + (blocks + 1) * 36);
  const view = new DataView(out.buffer);
  let p = 0;
  out.set(rawHeader, p);
  p += rawHeader.length;
  out.set(headerHash, p);
  out.set(headerHmac, p + 32);
  p += 64;
  for (let i = 0; i <= blocks; i++) {
    const data = payload.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE);
    const index = u64le(i);
    const key = await blockKey(o.crypto, hmacKey, index);
    const sizeBytes = new ByteWriter().u32(data.length).result();
    const mac = await o.crypto.hmacSha256(key, [index, sizeBytes, data]);
    out.set(mac, p);
    view.setUint32(p + 32, data.length, true);
    out.set(data, p + 36);
    p += 36 + data.length;
  }
  return out;
}

interface ReadOptions {
  crypto: OfflineCrypto;
  compression: OfflineCompression;
  /** Derives the transformed key; called only after the cheap checks passed. */
  transform: (argon2: Argon2Params) => Promise<Uint8Array>;
  onDecrypt?: (done: boolean) => void;
}

/** Thrown when the header HMAC does not verify: wrong password or key file. */
export class KdbxWrongKeyError extends Error {}

/**
 * Verifies the header's SHA-256: a mismatch means the header was damaged. Synchronous (the
 * library's own SHA-256): the header is small, and the machine check runs before any await.
 */
export function verifyHeaderHash(bytes: Uint8Array, parsed: ParsedHeader): void {
  const stored = bytes.subarray(parsed.end, parsed.end + 32);
  if (stored.length !== 32) throw new KdbxFormatError('truncated header hash');
  if (!equalBytes(stored, sha256(parsed.raw))) throw new KdbxFormatError('header hash');
}

/**
 * Reads the file whose header `readHeader` parsed. The caller has verified the header's SHA-256
 * (`verifyHeaderHash`) before anything was believed from it; this checks the header HMAC.
 */
export async function readKdbx(
  bytes: Uint8Array,
  parsed: ParsedHeader,
  o: ReadOptions,
): Promise<InnerContent> {
  const { header } = parsed;
  if (!equalBytes(header.cipherId, CIPHER_CHACHA20)) {
    throw new KdbxUnsupportedError('cipher other than ChaCha20');
  }
  if (header.masterSeed.length !== 32) throw new KdbxFormatError('master seed');
  if (header.encryptionIv.length !== 12) throw new KdbxFormatError('encryption IV');
  if (header.compression > 1) throw new KdbxUnsupportedError('compression');
  const argon2 = argon2ParamsOf(header.kdf);
  const transformed = await o.transform(argon2);
  const { cipherKey, hmacKey } = await payloadKeys(o.crypto, header.masterSeed, transformed);
  const storedHmac = bytes.subarray(parsed.end + 32, parsed.end + 64);
  if (storedHmac.length !== 32) throw new KdbxFormatError('truncated header HMAC');
  const headerHmac = await o.crypto.hmacSha256(
    await blockKey(o.crypto, hmacKey, ALL_ONES),
    parsed.raw,
  );
  if (!equalBytes(storedHmac, headerHmac)) throw new KdbxWrongKeyError('header HMAC');

  o.onDecrypt?.(false);
  // Walk the block headers first, so that the payload is copied once, into one buffer.
  const r = new ByteReader(bytes.subarray(parsed.end + 64));
  const blocks: { mac: Uint8Array; sizeBytes: Uint8Array; data: Uint8Array }[] = [];
  let total = 0;
  for (;;) {
    const mac = r.bytes(32);
    const sizeBytes = r.bytes(4);
    const size = new DataView(sizeBytes.buffer, sizeBytes.byteOffset, 4).getUint32(0, true);
    const data = r.bytes(size);
    blocks.push({ mac, sizeBytes, data });
    total += size;
    if (size === 0) break;
  }
  if (r.remaining !== 0) throw new KdbxFormatError('bytes after the last block');
  let payload: Uint8Array = new Uint8Array(total);
  let at = 0;
  for (const [i, b] of blocks.entries()) {
    const index = u64le(i);
    const key = await blockKey(o.crypto, hmacKey, index);
    const expected = await o.crypto.hmacSha256(key, [index, b.sizeBytes, b.data]);
    if (!equalBytes(b.mac, expected)) throw new KdbxFormatError(`block ${i} HMAC`);
    payload.set(b.data, at);
    at += b.data.length;
  }
  payload = chacha20(o.crypto, cipherKey, header.encryptionIv, payload);
  if (header.compression === 1) {
    try {
      payload = await o.compression.gunzip(payload);
    } catch {
      throw new KdbxFormatError('gzip');
    }
  }
  o.onDecrypt?.(true);
  return readInner(payload);
}
