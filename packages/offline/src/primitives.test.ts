import { describe, expect, it } from 'vitest';
import { createHash, createHmac, createCipheriv, randomBytes } from 'node:crypto';
import { ChaCha20 } from './chacha20.js';
import { sha256, hmacSha256 } from './sha256.js';
import { fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.js';

const hex = (s: string) => fromHex(s.replace(/\s+/g, ''))!;

describe('SHA-256 (FIPS 180-4 examples)', () => {
  it('hashes "abc", the empty string and the two-block message', () => {
    expect(toHex(sha256(utf8('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(toHex(sha256(new Uint8Array(0)))).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(toHex(sha256(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('agrees with node:crypto at every length around the block boundaries', () => {
    for (let n = 0; n < 300; n++) {
      const m = randomBytes(n);
      expect(toHex(sha256(m))).toBe(createHash('sha256').update(m).digest('hex'));
    }
  });
});

describe('HMAC-SHA-256 (RFC 4231)', () => {
  it('test cases 1, 2 and 6 (key longer than a block)', () => {
    expect(toHex(hmacSha256(new Uint8Array(20).fill(0x0b), utf8('Hi There')))).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
    expect(toHex(hmacSha256(utf8('Jefe'), utf8('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(
      toHex(
        hmacSha256(
          new Uint8Array(131).fill(0xaa),
          utf8('Test Using Larger Than Block-Size Key - Hash Key First'),
        ),
      ),
    ).toBe('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  });

  it('agrees with node:crypto for keys and messages of many lengths', () => {
    for (const k of [0, 1, 32, 63, 64, 65, 200]) {
      for (const n of [0, 1, 55, 56, 64, 1000]) {
        const key = randomBytes(k);
        const m = randomBytes(n);
        expect(toHex(hmacSha256(key, m))).toBe(createHmac('sha256', key).update(m).digest('hex'));
      }
    }
  });
});

describe('ChaCha20 (RFC 8439)', () => {
  it('§2.4.2 test vector: the sunscreen text, counter 1', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const nonce = hex('000000000000004a00000000');
    const text = utf8(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const out = new ChaCha20(key, nonce, 1).xor(text);
    expect(toHex(out)).toBe(
      (
        '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b' +
        'f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8' +
        '07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736' +
        '5af90bbf74a35be6b40b8eedf2785e42874d'
      ).replace(/\s+/g, ''),
    );
  });

  it('§2.3.2 block function: keystream of counter 1', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const nonce = hex('000000090000004a00000000');
    expect(toHex(new ChaCha20(key, nonce, 1).xor(new Uint8Array(64)))).toBe(
      '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' +
        'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e',
    );
  });

  it('keeps its position across calls of any size and agrees with node:crypto', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const data = randomBytes(5000);
    const s = new ChaCha20(key, nonce);
    const parts: Uint8Array[] = [];
    for (let o = 0, step = 1; o < data.length; o += step, step = (step * 7 + 3) % 150) {
      parts.push(s.xor(data.subarray(o, o + step)));
    }
    const joined = Buffer.concat(parts);
    // node:crypto's chacha20 takes a 16-byte IV: 32-bit little-endian counter, then the nonce.
    const iv = Buffer.concat([Buffer.alloc(4), nonce]);
    const expected = createCipheriv('chacha20', key, iv).update(data);
    expect(joined.equals(expected)).toBe(true);
  });
});

describe('base64', () => {
  it('round-trips every length and matches the standard encoding', () => {
    for (let n = 0; n < 100; n++) {
      const b = randomBytes(n);
      const s = toBase64(b);
      expect(s).toBe(Buffer.from(b).toString('base64'));
      expect(Buffer.from(fromBase64(s)!).equals(b)).toBe(true);
    }
  });
  it('refuses text that is not base64', () => {
    for (const s of ['abc', 'ab=c', '!!!!', 'a b=']) expect(fromBase64(s)).toBeNull();
  });
});
