import { describe, expect, it } from 'vitest';
import { GENERATOR_CLASSES, generatePassword } from './generator.js';

describe('generatePassword', () => {
  it('uses only the chosen classes, has one of each, and has the length asked', () => {
    for (let i = 0; i < 200; i++) {
      const p = generatePassword({
        length: 8,
        uppercase: true,
        lowercase: false,
        digits: true,
        symbols: true,
      });
      expect(p).toHaveLength(8);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[0-9]/);
      expect([...p].some((c) => GENERATOR_CLASSES.symbols.includes(c))).toBe(true);
      expect(p).not.toMatch(/[a-z]/);
    }
  });

  it('does not always put the guaranteed characters first', () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword({
        length: 20,
        uppercase: true,
        lowercase: true,
        digits: true,
        symbols: true,
      });
      firsts.add(
        /[A-Z]/.test(p[0]!)
          ? 'upper'
          : /[a-z]/.test(p[0]!)
            ? 'lower'
            : /[0-9]/.test(p[0]!)
              ? 'digit'
              : 'symbol',
      );
    }
    expect(firsts.size).toBe(4);
  });

  it('gives different passwords each time', () => {
    const seen = new Set(
      Array.from({ length: 100 }, () =>
        generatePassword({
          length: 20,
          uppercase: true,
          lowercase: true,
          digits: true,
          symbols: false,
        }),
      ),
    );
    expect(seen.size).toBe(100);
  });

  it('refuses no class at all and a length shorter than the classes', () => {
    expect(() =>
      generatePassword({
        length: 10,
        uppercase: false,
        lowercase: false,
        digits: false,
        symbols: false,
      }),
    ).toThrow(RangeError);
    expect(() =>
      generatePassword({
        length: 3,
        uppercase: true,
        lowercase: true,
        digits: true,
        symbols: true,
      }),
    ).toThrow(RangeError);
  });
});
