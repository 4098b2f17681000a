import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PASSWORD_REQUIREMENTS,
  checkPasswordRequirements,
  countPasswordClasses,
  type PasswordRequirements,
} from './password-rules.js';

const strict: PasswordRequirements = {
  minLength: 10,
  maxLength: 20,
  minUppercase: 2,
  minLowercase: 2,
  minDigits: 1,
  minSymbols: 1,
  minClasses: 4,
};

describe('password requirements', () => {
  it('counts by code point and Unicode category', () => {
    expect(countPasswordClasses('Ab1!')).toEqual({
      length: 4,
      uppercase: 1,
      lowercase: 1,
      digits: 1,
      symbols: 1,
      classes: 4,
    });
    // An emoji is one character (two UTF-16 units) and a symbol; accented letters are letters.
    expect(countPasswordClasses('Éé😀')).toMatchObject({
      length: 3,
      uppercase: 1,
      lowercase: 1,
      symbols: 1,
    });
  });

  it('accepts a password that meets every rule', () => {
    expect(checkPasswordRequirements('ABcd1234!x', strict)).toEqual({ ok: true });
  });

  it.each([
    ['Ab1!', 'minLength', 'at least 10 characters'],
    ['ABcd1234!xABcd1234!xZ', 'maxLength', 'at most 20 characters'],
    ['Abcd1234!xy', 'minUppercase', '2 upper-case letters'],
    ['ABCd1234!XY', 'minLowercase', '2 lower-case letters'],
    ['ABcdefgh!x', 'minDigits', '1 digit'],
    ['ABcd1234xyz', 'minSymbols', '1 symbol'],
  ] as const)('names the first rule %s breaks', (password, rule, words) => {
    const r = checkPasswordRequirements(password, strict);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rule).toBe(rule);
      expect(r.message).toContain(words);
    }
  });

  it('checks the number of character classes on its own', () => {
    const classes = { ...DEFAULT_PASSWORD_REQUIREMENTS, minLength: 1, minClasses: 3 };
    const r = checkPasswordRequirements('onlylowercase1', classes);
    expect(r).toMatchObject({ ok: false, rule: 'minClasses' });
    expect(checkPasswordRequirements('Lower1case', classes)).toEqual({ ok: true });
  });

  it('by default only asks for 12 characters', () => {
    expect(checkPasswordRequirements('a'.repeat(11), DEFAULT_PASSWORD_REQUIREMENTS)).toMatchObject({
      rule: 'minLength',
    });
    expect(checkPasswordRequirements('a'.repeat(12), DEFAULT_PASSWORD_REQUIREMENTS)).toEqual({
      ok: true,
    });
  });
});
