import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  hashToken,
  hmacSha256,
  newOneTimePassword,
  newToken,
  newUuid,
  randomBytesOf,
  sha256Hex,
} from './tokens.js';

describe('hashing', () => {
  it('hashToken is SHA-256 hex of the UTF-8 token (FIPS 180-2 "abc" vector)', () => {
    expect(hashToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(hashToken('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(Buffer.from('abc'))).toBe(hashToken('abc'));
  });

  it('hmacSha256 matches RFC 4231 test case 2', () => {
    expect(hmacSha256(Buffer.from('Jefe'), 'what do ya want for nothing?').toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('constantTimeEqual', () => {
  it('compares strings and bytes by content', () => {
    expect(constantTimeEqual('same', 'same')).toBe(true);
    expect(constantTimeEqual('same', 'samE')).toBe(false);
    expect(constantTimeEqual('same', 'same ')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('', 'x')).toBe(false);
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(Buffer.from([1, 2, 3]), Buffer.from([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual('é', Buffer.from('é', 'utf8'))).toBe(true);
  });
});

describe('random values', () => {
  it('tokens are prefixed, 256-bit and URL-safe', () => {
    const t = newToken();
    expect(t).toMatch(/^sr_[A-Za-z0-9_-]{43}$/);
    expect(newToken()).not.toBe(t);
    expect(newToken('x_')).toMatch(/^x_[A-Za-z0-9_-]{43}$/);
  });

  it('uuids are lower-case v4 GUIDs', () => {
    expect(newUuid()).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(randomBytesOf(7).length).toBe(7);
  });

  it('one-time passwords have every character class and no look-alike characters', () => {
    for (let i = 0; i < 200; i++) {
      const p = newOneTimePassword();
      expect(p).toHaveLength(23);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
      expect(p.slice(0, 20)).toMatch(/^[A-HJ-NP-Za-km-z2-9]{20}$/);
    }
    expect(newOneTimePassword(32).slice(0, 32)).toMatch(/^[A-HJ-NP-Za-km-z2-9]{32}$/);
    expect(newOneTimePassword()).not.toBe(newOneTimePassword());
  });
});
