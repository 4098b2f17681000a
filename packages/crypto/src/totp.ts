import { createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual } from './tokens.js';

/**
 * Time-based one-time passwords (RFC 6238, on HOTP of RFC 4226) and the base32 text that
 * authenticator apps exchange (RFC 4648), for two-factor login.
 */
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpParams {
  algorithm: TotpAlgorithm;
  digits: 6 | 8;
  /** Time step in seconds. */
  period: number;
}

/** What every authenticator app understands. */
export const DEFAULT_TOTP: TotpParams = { algorithm: 'SHA1', digits: 6, period: 30 };

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function base32Encode(data: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes base32, ignoring case, spaces and padding; null for anything else. */
export function base32Decode(text: string): Buffer | null {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return null;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** A new TOTP secret: 20 random bytes (160 bits, the RFC 4226 recommendation). */
export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

/** HOTP value for one counter (RFC 4226 §5.3, dynamic truncation). */
export function hotp(
  secret: Uint8Array,
  counter: number,
  params: TotpParams = DEFAULT_TOTP,
): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(params.algorithm.toLowerCase(), secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code =
    ((mac[offset]! & 0x7f) << 24) |
    (mac[offset + 1]! << 16) |
    (mac[offset + 2]! << 8) |
    mac[offset + 3]!;
  return String(code % 10 ** params.digits).padStart(params.digits, '0');
}

/** The time step of a moment (milliseconds since the epoch). */
export function totpStep(nowMs: number, params: TotpParams = DEFAULT_TOTP): number {
  return Math.floor(nowMs / 1000 / params.period);
}

export function totp(secret: Uint8Array, nowMs: number, params: TotpParams = DEFAULT_TOTP): string {
  return hotp(secret, totpStep(nowMs, params), params);
}

/**
 * Checks a code against the current step and `window` steps either side (clock drift). Returns
 * the matching step, so the caller can refuse a step already used (a code is single-use), or
 * null. Every candidate is compared in constant time.
 */
export function verifyTotp(
  secret: Uint8Array,
  code: string,
  nowMs: number,
  opts: { window?: number; params?: TotpParams } = {},
): number | null {
  const params = opts.params ?? DEFAULT_TOTP;
  if (!/^\d+$/.test(code) || code.length !== params.digits) return null;
  const now = totpStep(nowMs, params);
  const window = opts.window ?? 1;
  let matched: number | null = null;
  for (let step = now - window; step <= now + window; step++) {
    if (constantTimeEqual(hotp(secret, step, params), code) && matched === null) matched = step;
  }
  return matched;
}

/** The `otpauth://` URI an authenticator app scans (Key Uri Format). */
export function otpauthUri(
  secret: Uint8Array,
  issuer: string,
  account: string,
  params: TotpParams = DEFAULT_TOTP,
): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({
    secret: base32Encode(secret),
    issuer,
    algorithm: params.algorithm,
    digits: String(params.digits),
    period: String(params.period),
  });
  return `otpauth://totp/${label}?${query.toString()}`;
}
