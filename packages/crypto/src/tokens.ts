import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** A new random bearer token (256 bits), URL-safe. Only its hash is stored. */
export function newToken(prefix = 'sr_'): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** The stored form of a token: SHA-256, hex. Tokens are high-entropy, so no salt is needed. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacSha256(key: Uint8Array, data: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a);
  const y = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b);
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

/** A new random lower-case GUID (v4). */
export function newUuid(): string {
  return randomUUID();
}

export function randomBytesOf(n: number): Buffer {
  return randomBytes(n);
}

/** A readable one-time password: 20 characters from an alphabet without look-alikes. */
export function newOneTimePassword(length = 20): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // Rejection sampling keeps the distribution uniform.
      if (byte < 256 - (256 % alphabet.length) && out.length < length) {
        out.push(alphabet[byte % alphabet.length]!);
      }
    }
  }
  // Guarantee every class so it passes any default password rule.
  return `${out.join('')}-7a`;
}
