/**
 * ChaCha20 (RFC 8439: 256-bit key, 96-bit nonce, 32-bit block counter), in plain JavaScript so
 * that the KDBX codec runs the same in Node and in browsers (WebCrypto has no ChaCha20). Used
 * for the KDBX payload cipher and for the inner stream that hides protected values. A stream
 * object keeps its position across calls, as the KDBX inner stream needs.
 */

const rotl = (x: number, n: number) => (x << n) | (x >>> (32 - n));

export class ChaCha20 {
  readonly #state = new Uint32Array(16);
  readonly #work = new Uint32Array(16);
  readonly #block = new Uint8Array(64);
  #used = 64;

  constructor(key: Uint8Array, nonce: Uint8Array, counter = 0) {
    if (key.length !== 32) throw new RangeError('ChaCha20 needs a 32-byte key');
    if (nonce.length !== 12) throw new RangeError('ChaCha20 needs a 12-byte nonce');
    const s = this.#state;
    s[0] = 0x61707865;
    s[1] = 0x3320646e;
    s[2] = 0x79622d32;
    s[3] = 0x6b206574;
    const kv = new DataView(key.buffer, key.byteOffset, 32);
    for (let i = 0; i < 8; i++) s[4 + i] = kv.getUint32(i * 4, true);
    s[12] = counter;
    const nv = new DataView(nonce.buffer, nonce.byteOffset, 12);
    for (let i = 0; i < 3; i++) s[13 + i] = nv.getUint32(i * 4, true);
  }

  #next(): void {
    const s = this.#state;
    let x0 = s[0]!,
      x1 = s[1]!,
      x2 = s[2]!,
      x3 = s[3]!,
      x4 = s[4]!,
      x5 = s[5]!,
      x6 = s[6]!,
      x7 = s[7]!,
      x8 = s[8]!,
      x9 = s[9]!,
      x10 = s[10]!,
      x11 = s[11]!,
      x12 = s[12]!,
      x13 = s[13]!,
      x14 = s[14]!,
      x15 = s[15]!;
    for (let i = 0; i < 10; i++) {
      // column rounds
      x0 = (x0 + x4) | 0;
      x12 = rotl(x12 ^ x0, 16);
      x8 = (x8 + x12) | 0;
      x4 = rotl(x4 ^ x8, 12);
      x0 = (x0 + x4) | 0;
      x12 = rotl(x12 ^ x0, 8);
      x8 = (x8 + x12) | 0;
      x4 = rotl(x4 ^ x8, 7); // prettier-ignore
      x1 = (x1 + x5) | 0;
      x13 = rotl(x13 ^ x1, 16);
      x9 = (x9 + x13) | 0;
      x5 = rotl(x5 ^ x9, 12);
      x1 = (x1 + x5) | 0;
      x13 = rotl(x13 ^ x1, 8);
      x9 = (x9 + x13) | 0;
      x5 = rotl(x5 ^ x9, 7); // prettier-ignore
      x2 = (x2 + x6) | 0;
      x14 = rotl(x14 ^ x2, 16);
      x10 = (x10 + x14) | 0;
      x6 = rotl(x6 ^ x10, 12);
      x2 = (x2 + x6) | 0;
      x14 = rotl(x14 ^ x2, 8);
      x10 = (x10 + x14) | 0;
      x6 = rotl(x6 ^ x10, 7); // prettier-ignore
      x3 = (x3 + x7) | 0;
      x15 = rotl(x15 ^ x3, 16);
      x11 = (x11 + x15) | 0;
      x7 = rotl(x7 ^ x11, 12);
      x3 = (x3 + x7) | 0;
      x15 = rotl(x15 ^ x3, 8);
      x11 = (x11 + x15) | 0;
      x7 = rotl(x7 ^ x11, 7); // prettier-ignore
      // diagonal rounds
      x0 = (x0 + x5) | 0;
      x15 = rotl(x15 ^ x0, 16);
      x10 = (x10 + x15) | 0;
      x5 = rotl(x5 ^ x10, 12);
      x0 = (x0 + x5) | 0;
      x15 = rotl(x15 ^ x0, 8);
      x10 = (x10 + x15) | 0;
      x5 = rotl(x5 ^ x10, 7); // prettier-ignore
      x1 = (x1 + x6) | 0;
      x12 = rotl(x12 ^ x1, 16);
      x11 = (x11 + x12) | 0;
      x6 = rotl(x6 ^ x11, 12);
      x1 = (x1 + x6) | 0;
      x12 = rotl(x12 ^ x1, 8);
      x11 = (x11 + x12) | 0;
      x6 = rotl(x6 ^ x11, 7); // prettier-ignore
      x2 = (x2 + x7) | 0;
      x13 = rotl(x13 ^ x2, 16);
      x8 = (x8 + x13) | 0;
      x7 = rotl(x7 ^ x8, 12);
      x2 = (x2 + x7) | 0;
      x13 = rotl(x13 ^ x2, 8);
      x8 = (x8 + x13) | 0;
      x7 = rotl(x7 ^ x8, 7); // prettier-ignore
      x3 = (x3 + x4) | 0;
      x14 = rotl(x14 ^ x3, 16);
      x9 = (x9 + x14) | 0;
      x4 = rotl(x4 ^ x9, 12);
      x3 = (x3 + x4) | 0;
      x14 = rotl(x14 ^ x3, 8);
      x9 = (x9 + x14) | 0;
      x4 = rotl(x4 ^ x9, 7); // prettier-ignore
    }
    const w = this.#work;
    w[0] = x0 + s[0]!;
    w[1] = x1 + s[1]!;
    w[2] = x2 + s[2]!;
    w[3] = x3 + s[3]!;
    w[4] = x4 + s[4]!;
    w[5] = x5 + s[5]!;
    w[6] = x6 + s[6]!;
    w[7] = x7 + s[7]!;
    w[8] = x8 + s[8]!;
    w[9] = x9 + s[9]!;
    w[10] = x10 + s[10]!;
    w[11] = x11 + s[11]!;
    w[12] = x12 + s[12]!;
    w[13] = x13 + s[13]!;
    w[14] = x14 + s[14]!;
    w[15] = x15 + s[15]!;
    const b = this.#block;
    for (let i = 0; i < 16; i++) {
      const v = w[i]!;
      b[i * 4] = v;
      b[i * 4 + 1] = v >>> 8;
      b[i * 4 + 2] = v >>> 16;
      b[i * 4 + 3] = v >>> 24;
    }
    s[12] = (s[12]! + 1) >>> 0;
    if (s[12] === 0) throw new RangeError('ChaCha20 block counter exhausted');
    this.#used = 0;
  }

  /** XORs the next keystream bytes into `data` in place and returns it. */
  xorInPlace(data: Uint8Array): Uint8Array {
    const b = this.#block;
    let i = 0;
    const n = data.length;
    while (i < n) {
      if (this.#used === 64) this.#next();
      let u = this.#used;
      const end = Math.min(n, i + 64 - u);
      while (i < end) data[i++]! ^= b[u++]!;
      this.#used = u;
    }
    return data;
  }

  /** Returns a new array: `data` XOR the next keystream bytes (`data` is left as it was). */
  xor(data: Uint8Array): Uint8Array {
    // new Uint8Array(x) copies; Buffer#slice (in Node) would not.
    return this.xorInPlace(new Uint8Array(data));
  }
}
