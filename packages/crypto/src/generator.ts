import { randomInt } from 'node:crypto';

/** What a generated password is made of (the client settings' password generator). */
export interface PasswordGeneratorOptions {
  length: number;
  uppercase: boolean;
  lowercase: boolean;
  digits: boolean;
  symbols: boolean;
}

export const GENERATOR_CLASSES = {
  uppercase: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  lowercase: 'abcdefghijklmnopqrstuvwxyz',
  digits: '0123456789',
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;

/**
 * A random password from the chosen character classes, with at least one character of each
 * chosen class (so it passes a rule that asks for them), uniformly placed. Every choice uses
 * `randomInt`, which is unbiased.
 */
export function generatePassword(o: PasswordGeneratorOptions): string {
  const classes = (Object.keys(GENERATOR_CLASSES) as (keyof typeof GENERATOR_CLASSES)[])
    .filter((k) => o[k])
    .map((k) => GENERATOR_CLASSES[k]);
  if (classes.length === 0) throw new RangeError('choose at least one character class');
  if (!Number.isInteger(o.length) || o.length < classes.length || o.length > 1024) {
    throw new RangeError(`length must be an integer from ${classes.length} to 1024`);
  }
  const all = classes.join('');
  const chars: string[] = classes.map((c) => c[randomInt(c.length)]!);
  while (chars.length < o.length) chars.push(all[randomInt(all.length)]!);
  // Fisher–Yates, so the guaranteed characters are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}
