import { hashRaw } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD_HASH_PARAMS,
  burnPasswordCheck,
  hashPassword,
  passwordHashParams,
  verifyPassword,
} from './passwords.js';

const CHEAP = { memoryCost: 64, timeCost: 1, parallelism: 1 };

/**
 * Argon2id v1.3 reference vector from the reference implementation's test suite
 * (phc-winner-argon2 src/test.c): password "password", salt "somesalt", m=65536, t=2, p=1.
 * RFC 9106 §5.3 can't be used: it needs a secret and associated data, which our API has not.
 */
const REFERENCE = {
  phc: '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
  rawHex: '09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7',
  params: { memoryCost: 65536, timeCost: 2, parallelism: 1 },
};

describe('password hashing (Argon2id)', () => {
  it('matches the reference implementation for a known password and salt', async () => {
    const raw = await hashRaw('password', {
      algorithm: 2,
      version: 1,
      ...REFERENCE.params,
      outputLen: 32,
      salt: Buffer.from('somesalt'),
    });
    expect(raw.toString('hex')).toBe(REFERENCE.rawHex);
    expect(await verifyPassword(REFERENCE.phc, 'password', REFERENCE.params)).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect((await verifyPassword(REFERENCE.phc, 'passwore', REFERENCE.params)).ok).toBe(false);
  });

  it('stores its parameters and a random salt in the PHC string', async () => {
    const a = await hashPassword('correct horse', CHEAP);
    const b = await hashPassword('correct horse', CHEAP);
    expect(a).toMatch(/^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(passwordHashParams(a)).toEqual(CHEAP);
  });

  it('verifies the right password and rejects a wrong one', async () => {
    const phc = await hashPassword('correct horse', CHEAP);
    expect(await verifyPassword(phc, 'correct horse', CHEAP)).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect(await verifyPassword(phc, 'correct horsE', CHEAP)).toEqual({
      ok: false,
      needsRehash: false,
    });
    expect((await verifyPassword(phc, '', CHEAP)).ok).toBe(false);
  });

  it('asks for a rehash when the configured parameters are stronger, only after a match', async () => {
    const phc = await hashPassword('pw', CHEAP);
    expect(await verifyPassword(phc, 'pw', { ...CHEAP, memoryCost: 128 })).toEqual({
      ok: true,
      needsRehash: true,
    });
    expect(await verifyPassword(phc, 'pw', { ...CHEAP, timeCost: 2 })).toEqual({
      ok: true,
      needsRehash: true,
    });
    expect(await verifyPassword(phc, 'pw', { ...CHEAP, parallelism: 2 })).toEqual({
      ok: true,
      needsRehash: true,
    });
    // Weaker configured parameters never downgrade a stored hash.
    const strong = await hashPassword('pw', { memoryCost: 256, timeCost: 2, parallelism: 1 });
    expect(await verifyPassword(strong, 'pw', CHEAP)).toEqual({ ok: true, needsRehash: false });
    expect(await verifyPassword(phc, 'wrong', { ...CHEAP, memoryCost: 128 })).toEqual({
      ok: false,
      needsRehash: false,
    });
  });

  it('a hash made with the default parameters verifies', async () => {
    const phc = await hashPassword('default-cost password', DEFAULT_PASSWORD_HASH_PARAMS);
    expect(passwordHashParams(phc)).toEqual(DEFAULT_PASSWORD_HASH_PARAMS);
    expect(
      await verifyPassword(phc, 'default-cost password', DEFAULT_PASSWORD_HASH_PARAMS),
    ).toEqual({ ok: true, needsRehash: false });
    expect(DEFAULT_PASSWORD_HASH_PARAMS.memoryCost).toBeGreaterThanOrEqual(19456);
  });

  it('rejects anything that is not an Argon2id PHC string', async () => {
    const argon2i =
      '$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA';
    expect(passwordHashParams(argon2i)).toBeNull();
    expect(await verifyPassword(argon2i, 'password', REFERENCE.params)).toEqual({
      ok: false,
      needsRehash: false,
    });
    expect((await verifyPassword('', 'password', CHEAP)).ok).toBe(false);
    expect((await verifyPassword('$argon2id$v=19$m=64,t=1,p=1$broken', 'x', CHEAP)).ok).toBe(false);
  });

  it('burnPasswordCheck does the work of a check and reports nothing', async () => {
    await expect(burnPasswordCheck('anything', CHEAP)).resolves.toBeUndefined();
  });
});
