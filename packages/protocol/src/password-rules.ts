/**
 * Password requirements of a policy (spec §4): checked by the server when users set their own
 * password, and by clients for offline cache passwords with the rules the server sent. Pure and
 * isomorphic, so both sides give the same answer and the same message.
 */
export interface PasswordRequirements {
  minLength: number;
  maxLength: number;
  minUppercase: number;
  minLowercase: number;
  minDigits: number;
  minSymbols: number;
  /** How many of the four classes (upper, lower, digit, symbol) must appear at least once. */
  minClasses: number;
}

export const DEFAULT_PASSWORD_REQUIREMENTS: PasswordRequirements = {
  minLength: 12,
  maxLength: 1024,
  minUppercase: 0,
  minLowercase: 0,
  minDigits: 0,
  minSymbols: 0,
  minClasses: 0,
};

export type PasswordRule = keyof PasswordRequirements;

export type PasswordCheck =
  | { ok: true }
  | {
      ok: false;
      /** The first rule that failed. */
      rule: PasswordRule;
      /** Says which rule failed and what to do, in words a user understands. */
      message: string;
    };

export interface PasswordCounts {
  length: number;
  uppercase: number;
  lowercase: number;
  digits: number;
  symbols: number;
  classes: number;
}

/** Counts by Unicode code point and category (a letter is upper or lower case by Unicode). */
export function countPasswordClasses(password: string): PasswordCounts {
  const c = { length: 0, uppercase: 0, lowercase: 0, digits: 0, symbols: 0, classes: 0 };
  for (const ch of password) {
    c.length++;
    if (/\p{Lu}/u.test(ch)) c.uppercase++;
    else if (/\p{Ll}/u.test(ch)) c.lowercase++;
    else if (/\p{Nd}/u.test(ch)) c.digits++;
    else if (!/\p{L}/u.test(ch)) c.symbols++;
  }
  c.classes = [c.uppercase, c.lowercase, c.digits, c.symbols].filter((n) => n > 0).length;
  return c;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function checkPasswordRequirements(
  password: string,
  req: PasswordRequirements,
): PasswordCheck {
  const c = countPasswordClasses(password);
  const fail = (rule: PasswordRule, message: string): PasswordCheck => ({
    ok: false,
    rule,
    message,
  });
  if (c.length < req.minLength) {
    return fail(
      'minLength',
      `The password must be at least ${plural(req.minLength, 'character', 'characters')} long.`,
    );
  }
  if (c.length > req.maxLength) {
    return fail(
      'maxLength',
      `The password must be at most ${plural(req.maxLength, 'character', 'characters')} long.`,
    );
  }
  if (c.uppercase < req.minUppercase) {
    return fail(
      'minUppercase',
      `The password must contain at least ${plural(req.minUppercase, 'upper-case letter', 'upper-case letters')}.`,
    );
  }
  if (c.lowercase < req.minLowercase) {
    return fail(
      'minLowercase',
      `The password must contain at least ${plural(req.minLowercase, 'lower-case letter', 'lower-case letters')}.`,
    );
  }
  if (c.digits < req.minDigits) {
    return fail(
      'minDigits',
      `The password must contain at least ${plural(req.minDigits, 'digit', 'digits')}.`,
    );
  }
  if (c.symbols < req.minSymbols) {
    return fail(
      'minSymbols',
      `The password must contain at least ${plural(req.minSymbols, 'symbol', 'symbols')} (a character that is neither a letter nor a digit).`,
    );
  }
  if (c.classes < req.minClasses) {
    return fail(
      'minClasses',
      `The password must mix at least ${req.minClasses} of: upper-case letters, lower-case letters, digits, symbols.`,
    );
  }
  return { ok: true };
}
