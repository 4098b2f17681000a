/**
 * Byte helpers that run the same in Node and in browsers (no Buffer): UTF-8, hex, base64,
 * little-endian integers and a growable writer / bounds-checked reader.
 */

const encoder = new TextEncoder();
const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s: string): Uint8Array => encoder.encode(s);

/** Decodes UTF-8; throws on invalid bytes (a KDBX we wrote is always valid UTF-8). */
export const fromUtf8 = (b: Uint8Array): string => fatalDecoder.decode(b);

export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatParts(parts);
}

/** `concat` of a list (no spread of a long list of chunks into arguments). */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

const HEX = '0123456789abcdef';

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += HEX[x >> 4]! + HEX[x & 15]!;
  return s;
}

export function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;
/** Two base64 characters per 12 bits. */
const B64_PAIRS: string[] = [];
for (let i = 0; i < 4096; i++) B64_PAIRS.push(B64[i >> 6]! + B64[i & 63]!);

export function toBase64(b: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  const full = b.length - (b.length % 3);
  for (let i = 0; i < full; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    chunk += B64_PAIRS[n >> 12]! + B64_PAIRS[n & 4095]!;
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  const rest = b.length - full;
  if (rest === 1) {
    const n = b[full]! << 16;
    chunk += B64_PAIRS[n >> 12]! + '==';
  } else if (rest === 2) {
    const n = (b[full]! << 16) | (b[full + 1]! << 8);
    chunk += B64_PAIRS[n >> 12]! + B64[(n >> 6) & 63]! + '=';
  }
  parts.push(chunk);
  return parts.join('');
}

/** Strict base64 (padding required, no whitespace); null when the text is not base64. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  let pad = 0;
  if (s.endsWith('==')) pad = 2;
  else if (s.endsWith('=')) pad = 1;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const last = i + 4 === s.length;
    const c0 = B64_INDEX[s.charCodeAt(i)] ?? -1;
    const c1 = B64_INDEX[s.charCodeAt(i + 1)] ?? -1;
    const c2 = last && pad === 2 ? 0 : (B64_INDEX[s.charCodeAt(i + 2)] ?? -1);
    const c3 = last && pad >= 1 ? 0 : (B64_INDEX[s.charCodeAt(i + 3)] ?? -1);
    if ((c0 | c1 | c2 | c3) < 0) return null;
    const n = (c0 << 18) | (c1 << 12) | (c2 << 6) | c3;
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

/** Appends bytes to a growing buffer. */
export class ByteWriter {
  #buf = new Uint8Array(1024);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }
  u8(v: number): this {
    this.#room(1);
    this.#buf[this.#len++] = v & 255;
    return this;
  }
  u16(v: number): this {
    this.#room(2);
    new DataView(this.#buf.buffer).setUint16(this.#len, v, true);
    this.#len += 2;
    return this;
  }
  u32(v: number): this {
    this.#room(4);
    new DataView(this.#buf.buffer).setUint32(this.#len, v, true);
    this.#len += 4;
    return this;
  }
  u64(v: number): this {
    this.#room(8);
    new DataView(this.#buf.buffer).setBigUint64(this.#len, BigInt(v), true);
    this.#len += 8;
    return this;
  }
  get length(): number {
    return this.#len;
  }
  result(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Thrown by ByteReader when the data ends early. */
export class TruncatedError extends Error {}

/** Reads little-endian values; any read past the end throws TruncatedError. */
export class ByteReader {
  readonly #b: Uint8Array;
  readonly #view: DataView;
  pos = 0;
  constructor(b: Uint8Array) {
    this.#b = b;
    this.#view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  #need(n: number): void {
    if (n < 0 || this.pos + n > this.#b.length) throw new TruncatedError('unexpected end of data');
  }
  get remaining(): number {
    return this.#b.length - this.pos;
  }
  u8(): number {
    this.#need(1);
    return this.#b[this.pos++]!;
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  /** Unsigned 64-bit; throws beyond 2^53 (no value we read is that large). */
  u64(): number {
    this.#need(8);
    const v = this.#view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('64-bit value out of range');
    return Number(v);
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}
