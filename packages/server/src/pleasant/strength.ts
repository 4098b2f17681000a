/**
 * A simple password strength estimate for `POST passwordstrength` (docs/pleasant-api.md). It
 * estimates the bits an attacker must guess if the password were random over the character
 * classes it uses, then takes off what makes passwords guessable in practice: characters that
 * repeat what came before, runs along the alphabet or the keyboard, and the most common
 * passwords. The score is the estimate over 128 bits (capped at 100). It is a hint for people
 * choosing a password, not a policy: policies check their own rules.
 */

export interface StrengthEstimate {
  /** 0–100. */
  score: number;
  /** Very weak, Weak, Medium, Strong, Very strong. */
  description: string;
  /** The estimated bits. */
  bits: number;
}

/** Bits at which the score reaches 100. */
const FULL_BITS = 128;

const CLASSES: Array<[RegExp, number]> = [
  [/[a-z]/, 26],
  [/[A-Z]/, 26],
  [/[0-9]/, 10],
  [/[ -/:-@[-`{-~]/, 33],
];
/** Characters outside ASCII widen the alphabet: counted as a class of this size. */
const OTHER_CLASS = 100;

const ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1234567890', 'abcdefghijklmnopqrstuvwxyz'];

/** Passwords that appear at the top of every leaked-password list (lower case). */
const COMMON = new Set([
  'password',
  'password1',
  'passw0rd',
  '123456',
  '12345678',
  '123456789',
  '1234567890',
  'qwerty',
  'qwertyuiop',
  'letmein',
  'welcome',
  'admin',
  'administrator',
  'iloveyou',
  'monkey',
  'dragon',
  'sunshine',
  'princess',
  'football',
  'baseball',
  'abc123',
  'changeme',
  'secret',
  'master',
  'trustno1',
]);

function alphabetSize(password: string): number {
  let size = 0;
  for (const [re, n] of CLASSES) if (re.test(password)) size += n;
  if (/[^\x20-\x7e]/.test(password)) size += OTHER_CLASS;
  return Math.max(size, 1);
}

/** Whether b follows a along one of the rows (either direction). */
function sequential(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return ROWS.some((row) => {
    const i = row.indexOf(x);
    return i >= 0 && (row[i + 1] === y || (i > 0 && row[i - 1] === y));
  });
}

export function estimateStrength(password: string): StrengthEstimate {
  const chars = [...password];
  if (chars.length === 0) return { score: 0, description: 'Very weak', bits: 0 };
  if (COMMON.has(password.toLowerCase())) return { score: 0, description: 'Very weak', bits: 0 };
  const perChar = Math.log2(alphabetSize(password));
  let bits = 0;
  const seen = new Set<string>();
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const prev = i > 0 ? chars[i - 1]! : undefined;
    if (prev !== undefined && (c === prev || sequential(prev, c))) {
      bits += 1; // a repeat or the next key along: nearly free to guess
    } else if (seen.has(c)) {
      bits += perChar / 2;
    } else {
      bits += perChar;
    }
    seen.add(c);
  }
  bits = Math.round(bits * 10) / 10;
  const score = Math.min(100, Math.round((bits / FULL_BITS) * 100));
  const description =
    bits < 28
      ? 'Very weak'
      : bits < 40
        ? 'Weak'
        : bits < 64
          ? 'Medium'
          : bits < 100
            ? 'Strong'
            : 'Very strong';
  return { score, description, bits };
}
