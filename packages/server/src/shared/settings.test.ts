import { describe, expect, it } from 'vitest';
import { checkNewOrder, mergeSettings, settingsDiff, storedSettings } from './settings.js';

interface S {
  a: number;
  b: number | null;
  nested: { x: number; y: boolean };
}
const DEFAULTS: S = { a: 1, b: null, nested: { x: 1, y: false } };

describe('settings helpers', () => {
  it('merges a patch field by field, nested objects too, null replacing and undefined not', () => {
    const merged = mergeSettings(DEFAULTS, { b: 5, nested: { y: true }, a: undefined });
    expect(merged).toEqual({ a: 1, b: 5, nested: { x: 1, y: true } });
    expect(mergeSettings(merged, { b: null })).toEqual({
      a: 1,
      b: null,
      nested: { x: 1, y: true },
    });
    // Neither input changes, and the result shares nothing with the defaults.
    expect(DEFAULTS).toEqual({ a: 1, b: null, nested: { x: 1, y: false } });
    const copy = mergeSettings(DEFAULTS);
    copy.nested.x = 99;
    expect(DEFAULTS.nested.x).toBe(1);
  });

  it('completes stored JSON with the defaults and survives unreadable text', () => {
    expect(storedSettings('{"nested":{"x":3}}', DEFAULTS)).toEqual({
      ...DEFAULTS,
      nested: { x: 3, y: false },
    });
    expect(storedSettings('{not json', DEFAULTS)).toEqual(DEFAULTS);
    expect(storedSettings('null', DEFAULTS)).toEqual(DEFAULTS);
  });

  it('diffs top-level settings as from/to', () => {
    const after = mergeSettings(DEFAULTS, { nested: { x: 2 } });
    expect(settingsDiff(DEFAULTS, after)).toEqual({
      nested: { from: { x: 1, y: false }, to: { x: 2, y: false } },
    });
    expect(settingsDiff(DEFAULTS, mergeSettings(DEFAULTS))).toEqual({});
  });

  it('accepts a new order only when it lists every id once', () => {
    const messages = { notInList: 'not one of them', incomplete: 'list every one once' };
    expect(checkNewOrder('/ids', ['b', 'a'], ['a', 'b'], messages)).toBe(true);
    expect(checkNewOrder('/ids', ['a', 'b'], ['a', 'b'], messages)).toBe(false);
    expect(() => checkNewOrder('/ids', ['a', 'c'], ['a', 'b'], messages)).toThrow(
      expect.objectContaining({ field: '/ids/1', message: 'not one of them' }),
    );
    for (const ids of [['a'], ['a', 'a'], ['a', 'b', 'b']]) {
      expect(() => checkNewOrder('/ids', ids, ['a', 'b'], messages)).toThrow(
        expect.objectContaining({ field: '/ids', code: 'validation_failed' }),
      );
    }
  });
});
