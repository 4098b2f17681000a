import { inspect, format } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret, secret } from './secret.js';

describe('Secret', () => {
  const value = 'plaintext-that-must-not-leak';
  const s = secret(value);

  it('never shows its value when stringified, serialised or inspected', () => {
    expect(String(s)).toBe('[secret]');
    expect(`${s}`).toBe('[secret]');
    expect(JSON.stringify({ password: s })).toBe('{"password":"[secret]"}');
    expect(inspect(s)).toBe('[secret]');
    expect(inspect({ nested: { s } }, { depth: 10 })).not.toContain(value);
    expect(format('%s %o %O %j', s, s, s, { s })).not.toContain(value);
  });

  it('gives the value only through reveal()', () => {
    expect(s.reveal()).toBe(value);
    expect(s).toBeInstanceOf(Secret);
    const buf = new Secret(Buffer.from('bytes'));
    expect(buf.reveal().toString()).toBe('bytes');
    expect(JSON.stringify(buf)).toBe('"[secret]"');
  });

  it('has no enumerable property that holds the value', () => {
    expect(Object.keys(s)).toEqual([]);
    expect(Object.values(s)).not.toContain(value);
  });
});
