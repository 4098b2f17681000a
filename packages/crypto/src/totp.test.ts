import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  base32Encode,
  hotp,
  otpauthUri,
  totp,
  verifyTotp,
  type TotpParams,
} from './totp.js';

// RFC 6238 Appendix B: the seeds and the expected 8-digit codes, written down independently of
// this implementation.
const SEEDS: Record<TotpParams['algorithm'], Buffer> = {
  SHA1: Buffer.from('12345678901234567890', 'ascii'),
  SHA256: Buffer.from('12345678901234567890123456789012', 'ascii'),
  SHA512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234', 'ascii'),
};
const VECTORS: Array<[number, string, string, string]> = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

describe('TOTP (RFC 6238)', () => {
  it.each(VECTORS)('at %i s gives the RFC codes for SHA1, SHA256, SHA512', (t, s1, s256, s512) => {
    const p = (algorithm: TotpParams['algorithm']): TotpParams => ({
      algorithm,
      digits: 8,
      period: 30,
    });
    expect(totp(SEEDS.SHA1, t * 1000, p('SHA1'))).toBe(s1);
    expect(totp(SEEDS.SHA256, t * 1000, p('SHA256'))).toBe(s256);
    expect(totp(SEEDS.SHA512, t * 1000, p('SHA512'))).toBe(s512);
  });

  it('HOTP matches RFC 4226 Appendix D', () => {
    const expected = [
      '755224',
      '287082',
      '359152',
      '969429',
      '338314',
      '254676',
      '287922',
      '162583',
      '399871',
      '520489',
    ];
    expect(expected.map((_, i) => hotp(SEEDS.SHA1, i))).toEqual(expected);
  });

  it('accepts the current step and one either side, names the step, refuses the rest', () => {
    const now = 1_111_111_111_000;
    const step = Math.floor(now / 30_000);
    expect(verifyTotp(SEEDS.SHA1, totp(SEEDS.SHA1, now), now)).toBe(step);
    expect(verifyTotp(SEEDS.SHA1, totp(SEEDS.SHA1, now - 30_000), now)).toBe(step - 1);
    expect(verifyTotp(SEEDS.SHA1, totp(SEEDS.SHA1, now + 30_000), now)).toBe(step + 1);
    expect(verifyTotp(SEEDS.SHA1, totp(SEEDS.SHA1, now - 90_000), now)).toBeNull();
    expect(verifyTotp(SEEDS.SHA1, '12345', now)).toBeNull();
    expect(verifyTotp(SEEDS.SHA1, 'abcdef', now)).toBeNull();
  });

  it('base32 round-trips and decodes the RFC 4648 vectors', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Encode(Buffer.from('f'))).toBe('MY');
    expect(base32Decode('mzxw6ytboi======')!.toString()).toBe('foobar');
    expect(base32Decode('MZXW 6YTB OI')!.toString()).toBe('foobar');
    expect(base32Decode('not base32!')).toBeNull();
    const secret = Buffer.from('0123456789abcdefghij');
    expect(base32Decode(base32Encode(secret))).toEqual(secret);
  });

  it('builds the otpauth URI authenticator apps scan', () => {
    const uri = otpauthUri(SEEDS.SHA1, 'Strongroom', 'alice@corp.example');
    expect(uri).toBe(
      'otpauth://totp/Strongroom:alice%40corp.example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Strongroom&algorithm=SHA1&digits=6&period=30',
    );
  });
});
