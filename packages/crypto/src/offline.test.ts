import { describe, expect, it } from 'vitest';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  argon2idRaw,
  deriveJournalKey,
  deriveMachineKey,
  nodeOfflineCrypto,
  offlineRandomBytes,
} from './offline.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('argon2idRaw', () => {
  // @node-rs/argon2 cannot take associated data, so RFC 9106's vector (which has some) cannot be
  // run. These vectors come from the reference implementation's command line (Debian package
  // `argon2`, 0~20190702), run independently of this code:
  //   echo -n password | argon2 somesaltsomesalt -id -t 2 -k 65536 -p 1 -l 32 -r
  //   echo -n password | argon2 somesaltsomesalt -id -t 3 -k 32 -p 4 -l 32 -r
  it('matches the reference implementation (64 MiB, t=2, p=1 and 32 KiB, t=3, p=4)', async () => {
    const salt = utf8('somesaltsomesalt');
    const a = await argon2idRaw(utf8('password'), salt, {
      memoryKiB: 65536,
      iterations: 2,
      parallelism: 1,
      length: 32,
    });
    expect(hex(a)).toBe('fc33b78139231d34b71626bd6245c1d72efa190ad605c3d8166a72adcedfa2c2');
    const b = await argon2idRaw(utf8('password'), salt, {
      memoryKiB: 32,
      iterations: 3,
      parallelism: 4,
      length: 32,
    });
    expect(hex(b)).toBe('f25048ec48311a804ea9edd74e08c30765aa0f8d47c2a5b5a6097243cdf2e5ce');
  });

  it('a secret changes the output; associated data is refused rather than ignored', async () => {
    const p = { memoryKiB: 64, iterations: 1, parallelism: 1, length: 32 };
    const salt = utf8('somesaltsomesalt');
    const plain = await argon2idRaw(utf8('pw'), salt, p);
    const keyed = await argon2idRaw(utf8('pw'), salt, { ...p, secret: new Uint8Array(8).fill(3) });
    expect(hex(keyed)).not.toBe(hex(plain));
    await expect(
      argon2idRaw(utf8('pw'), salt, { ...p, ad: new Uint8Array(4).fill(4) }),
    ).rejects.toThrow(/associated data/);
  });
});

describe('machine and journal keys', () => {
  it('deriveMachineKey: HMAC-SHA-256(secret, label ‖ machine id), known answer', () => {
    // python3 -c "import hmac,hashlib;print(hmac.new(bytes(range(32)),
    //   b'strongroom machine key v1\n'+b'b2c7e3a1d4f5486c9e0a1b2c3d4e5f60',hashlib.sha256).hexdigest())"
    const k = deriveMachineKey(
      new Uint8Array(32).map((_, i) => i),
      'b2c7e3a1d4f5486c9e0a1b2c3d4e5f60',
    );
    expect(hex(k)).toBe('7f60f61af5cfcb65654363a01034e0cfd789ccc88278083b8254107d6802b96f');
  });

  it('another machine id or another secret gives another key; a short secret is refused', () => {
    const secret = randomBytes(32);
    const a = deriveMachineKey(secret, 'machine-a');
    expect(a.length).toBe(32);
    expect(hex(deriveMachineKey(secret, 'machine-b'))).not.toBe(hex(a));
    expect(hex(deriveMachineKey(randomBytes(32), 'machine-a'))).not.toBe(hex(a));
    expect(() => deriveMachineKey(new Uint8Array(8), 'm')).toThrow(RangeError);
  });

  it('deriveJournalKey: HMAC-SHA-256(machine key, label), known answer', () => {
    // python3 -c "import hmac,hashlib;print(hmac.new(bytes(range(32,64)),
    //   b'strongroom offline journal key v1',hashlib.sha256).hexdigest())"
    const k = deriveJournalKey(new Uint8Array(32).map((_, i) => i + 32));
    expect(hex(k)).toBe('896c24c5d5b96821a968aafff3c26aeb3c16c60c0973378f528708bd6deef400');
    expect(() => deriveJournalKey(new Uint8Array(16))).toThrow(RangeError);
  });
});

describe('nodeOfflineCrypto', () => {
  it('hashes and HMACs like the standard functions', async () => {
    const m = randomBytes(1000);
    const k = randomBytes(64);
    expect(hex(await nodeOfflineCrypto.sha256(m))).toBe(
      createHash('sha256').update(m).digest('hex'),
    );
    expect(hex(await nodeOfflineCrypto.sha512(m))).toBe(
      createHash('sha512').update(m).digest('hex'),
    );
    expect(hex(await nodeOfflineCrypto.hmacSha256(k, m))).toBe(
      createHmac('sha256', k).update(m).digest('hex'),
    );
  });

  it('AES-256-GCM: NIST test case 14 (GCM spec), and tampering is refused', async () => {
    // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 14: zero key, zero IV,
    // one zero block.
    const key = new Uint8Array(32);
    const iv = new Uint8Array(12);
    const sealed = await nodeOfflineCrypto.aesGcmSeal(
      key,
      iv,
      new Uint8Array(16),
      new Uint8Array(0),
    );
    expect(hex(sealed)).toBe(
      'cea7403d4d606b6e074ec5d3baf39d18' + 'd0d1c8a799996bf0265b98b5d48ab919',
    );
    const opened = await nodeOfflineCrypto.aesGcmOpen(key, iv, sealed, new Uint8Array(0));
    expect(hex(opened!)).toBe('00'.repeat(16));
    const bad = sealed.slice();
    bad[3]! ^= 1;
    expect(await nodeOfflineCrypto.aesGcmOpen(key, iv, bad, new Uint8Array(0))).toBeNull();
    expect(await nodeOfflineCrypto.aesGcmOpen(key, iv, sealed, new Uint8Array([1]))).toBeNull();
    expect(
      await nodeOfflineCrypto.aesGcmOpen(key, iv, new Uint8Array(5), new Uint8Array(0)),
    ).toBeNull();
  });

  it('offlineRandomBytes gives fresh bytes of the length asked', () => {
    const a = offlineRandomBytes(32);
    expect(a.length).toBe(32);
    expect(hex(a)).not.toBe(hex(offlineRandomBytes(32)));
  });
});
