import { describe, expect, it } from 'vitest';
import { EnvelopeError, envelopeKeyId } from './envelope.js';
import {
  SecretSealer,
  formatWrappingKey,
  newKeyId,
  newKeyMaterial,
  parseWrappingKey,
  unwrapDataKey,
  wrapDataKey,
  wrappedBy,
} from './keyring.js';

describe('SecretSealer', () => {
  const keyA = newKeyMaterial();
  const keyB = newKeyMaterial();

  it('seals with the active key and opens what it sealed, bound to the context', () => {
    const sealer = new SecretSealer(new Map([['dk-a', keyA]]), 'dk-a');
    const env = sealer.sealSecret('hunter2', 'entries:1:password');
    expect(envelopeKeyId(env)).toBe('dk-a');
    expect(sealer.openSecretText(env, 'entries:1:password')).toBe('hunter2');
    expect(() => sealer.openSecret(env, 'entries:2:password')).toThrow(EnvelopeError);
    const bin = sealer.sealSecret(Buffer.from([0, 1, 2, 255]), 'attachments:1:data');
    expect([...sealer.openSecret(bin, 'attachments:1:data')]).toEqual([0, 1, 2, 255]);
  });

  it('with two data keys, opens the old key’s envelopes and seals with the active one', () => {
    const old = new SecretSealer(new Map([['dk-a', keyA]]), 'dk-a');
    const sealedOld = old.sealSecret('old value', 'c');
    const both = new SecretSealer(
      new Map([
        ['dk-a', keyA],
        ['dk-b', keyB],
      ]),
      'dk-b',
    );
    expect(both.activeKeyId).toBe('dk-b');
    expect(both.openSecretText(sealedOld, 'c')).toBe('old value');
    const sealedNew = both.sealSecret('new value', 'c');
    expect(envelopeKeyId(sealedNew)).toBe('dk-b');
    expect(both.openSecretText(sealedNew, 'c')).toBe('new value');
    // A process that only knows the old key can't open the new envelope, and says why.
    expect(() => old.openSecret(sealedNew, 'c')).toThrow(/data key dk-b is not available/);
  });

  it('refuses to start without its active key', () => {
    expect(() => new SecretSealer(new Map([['dk-a', keyA]]), 'dk-x')).toThrow(EnvelopeError);
  });

  it('is not affected by later changes to the map it was given', () => {
    const keys = new Map([['dk-a', keyA]]);
    const sealer = new SecretSealer(keys, 'dk-a');
    keys.delete('dk-a');
    expect(sealer.openSecretText(sealer.sealSecret('v', 'c'), 'c')).toBe('v');
  });
});

describe('data key wrapping', () => {
  const wrapping = newKeyMaterial();

  it('unwraps what it wrapped and names the wrapping key', () => {
    const dk = newKeyMaterial();
    const wrapped = wrapDataKey(wrapping, 'wk-1', 'dk-1', dk);
    expect(wrapped.id).toBe('dk-1');
    expect(wrapped.wrapped.includes(dk)).toBe(false);
    expect(unwrapDataKey(wrapping, wrapped).equals(dk)).toBe(true);
    expect(wrappedBy(wrapped)).toBe('wk-1');
  });

  it('fails with another wrapping key', () => {
    const wrapped = wrapDataKey(wrapping, 'wk-1', 'dk-1', newKeyMaterial());
    expect(() => unwrapDataKey(newKeyMaterial(), wrapped)).toThrow(EnvelopeError);
  });

  it('binds the wrapped key to its id (a swapped row does not open)', () => {
    const wrapped = wrapDataKey(wrapping, 'wk-1', 'dk-1', newKeyMaterial());
    expect(() => unwrapDataKey(wrapping, { id: 'dk-2', wrapped: wrapped.wrapped })).toThrow(
      EnvelopeError,
    );
  });

  it('rejects an unwrapped value of the wrong length', () => {
    const wrapped = wrapDataKey(wrapping, 'wk-1', 'dk-1', Buffer.alloc(16, 7));
    expect(() => unwrapDataKey(wrapping, wrapped)).toThrow(/wrong length/);
  });
});

describe('wrapping key text', () => {
  it('parses base64 and hex forms, and formats as base64', () => {
    const key = newKeyMaterial();
    const text = formatWrappingKey(key);
    expect(parseWrappingKey(text).equals(key)).toBe(true);
    expect(parseWrappingKey(`  ${text}\n`).equals(key)).toBe(true);
    expect(parseWrappingKey(key.toString('hex')).equals(key)).toBe(true);
    expect(parseWrappingKey(key.toString('hex').toUpperCase()).equals(key)).toBe(true);
  });

  it('rejects keys that are not 32 bytes', () => {
    expect(() => parseWrappingKey('')).toThrow(EnvelopeError);
    expect(() => parseWrappingKey(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
    expect(() => parseWrappingKey('ab'.repeat(33))).toThrow(EnvelopeError);
  });

  it('makes fresh key material and key ids', () => {
    expect(newKeyMaterial().length).toBe(32);
    expect(newKeyMaterial().equals(newKeyMaterial())).toBe(false);
    expect(newKeyId('dk-')).toMatch(/^dk-[0-9a-f]{12}$/);
    expect(newKeyId('dk-')).not.toBe(newKeyId('dk-'));
  });
});
