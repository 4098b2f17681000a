import { describe, expect, it } from 'vitest';
import {
  ENVELOPE_VERSION,
  EnvelopeError,
  envelopeKeyId,
  open,
  seal,
  sealWithNonce,
} from './envelope.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/**
 * McGrew & Viega, "The Galois/Counter Mode of Operation", Test Case 16 (AES-256, 96-bit IV,
 * 60-byte plaintext, 20-byte AAD) — the vector NIST's GCM validation suite reuses.
 */
const TC16 = {
  key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  iv: hex('cafebabefacedbaddecaf888'),
  plaintext: hex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
      '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  ),
  aad: hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
  ciphertext: hex(
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  ),
  tag: hex('76fc6ece0f4e1768cddf8853bb2d551b'),
};

/** AES-256-GCM through WebCrypto: a different API path from the node:crypto cipher we use. */
async function webCryptoGcm(key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer) {
  const k = await globalThis.crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const out = Buffer.from(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 },
      k,
      plaintext,
    ),
  );
  return { body: out.subarray(0, out.length - 16), tag: out.subarray(out.length - 16) };
}

function envelopeHeader(keyId: string): Buffer {
  return Buffer.concat([
    Buffer.from('SR', 'ascii'),
    Buffer.from([ENVELOPE_VERSION, keyId.length]),
    Buffer.from(keyId, 'ascii'),
  ]);
}

// A complete envelope frozen as bytes: if the format drifts, this stops opening.
const FROZEN = {
  key: Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
  keyId: 'dk-kat01',
  nonce: Buffer.from(Array.from({ length: 12 }, (_, i) => 0xa0 + i)),
  context: 'entries:00000000-0000-4000-8000-000000000001:password',
  plaintext: 'correct horse battery staple',
  envelope: hex(
    '53520108646b2d6b61743031a0a1a2a3a4a5a6a7a8a9aaab85770e5f20a8769f0a0af5a0625aa2bf04' +
      'd83c62eb973118fd7e4ae3c46ace2c7476b5badd8172444a03c9cf',
  ),
};

describe('AES-256-GCM envelope: known answers', () => {
  it('the WebCrypto oracle reproduces the published GCM test vector', async () => {
    const out = await webCryptoGcm(TC16.key, TC16.iv, TC16.aad, TC16.plaintext);
    expect(out.body.toString('hex')).toBe(TC16.ciphertext.toString('hex'));
    expect(out.tag.toString('hex')).toBe(TC16.tag.toString('hex'));
  });

  it('sealWithNonce produces the published ciphertext body and the independently computed tag', async () => {
    const keyId = 'kat-16';
    const context = 'kat:test-case-16';
    const env = sealWithNonce(TC16.key, keyId, TC16.plaintext, context, TC16.iv);
    const head = envelopeHeader(keyId);
    // Layout: header | nonce | ciphertext | tag.
    expect(env.subarray(0, head.length).equals(head)).toBe(true);
    expect(env.subarray(head.length, head.length + 12).equals(TC16.iv)).toBe(true);
    const body = env.subarray(head.length + 12, env.length - 16);
    const tag = env.subarray(env.length - 16);
    // GCM's ciphertext does not depend on the AAD: it must equal the published one.
    expect(body.toString('hex')).toBe(TC16.ciphertext.toString('hex'));
    // The tag covers AAD = header || context (UTF-8): compare with WebCrypto.
    const oracle = await webCryptoGcm(
      TC16.key,
      TC16.iv,
      Buffer.concat([head, Buffer.from(context, 'utf8')]),
      TC16.plaintext,
    );
    expect(tag.toString('hex')).toBe(oracle.tag.toString('hex'));
    expect(open(TC16.key, env, context).equals(TC16.plaintext)).toBe(true);
  });

  it('opens the frozen envelope, and sealing the same inputs gives the same bytes', () => {
    expect(open(FROZEN.key, FROZEN.envelope, FROZEN.context).toString('utf8')).toBe(
      FROZEN.plaintext,
    );
    expect(envelopeKeyId(FROZEN.envelope)).toBe(FROZEN.keyId);
    const again = sealWithNonce(
      FROZEN.key,
      FROZEN.keyId,
      Buffer.from(FROZEN.plaintext, 'utf8'),
      FROZEN.context,
      FROZEN.nonce,
    );
    expect(again.toString('hex')).toBe(FROZEN.envelope.toString('hex'));
  });

  it('seal uses a fresh nonce each time and round-trips', () => {
    const a = seal(FROZEN.key, 'dk-1', Buffer.from('same'), 'ctx');
    const b = seal(FROZEN.key, 'dk-1', Buffer.from('same'), 'ctx');
    expect(a.equals(b)).toBe(false);
    expect(open(FROZEN.key, a, 'ctx').toString()).toBe('same');
    expect(open(FROZEN.key, b, 'ctx').toString()).toBe('same');
  });

  it('seals an empty plaintext', () => {
    const env = seal(FROZEN.key, 'dk-1', Buffer.alloc(0), 'ctx');
    expect(open(FROZEN.key, env, 'ctx').length).toBe(0);
  });
});

describe('AES-256-GCM envelope: tampering', () => {
  const headLen = 4 + FROZEN.keyId.length;
  const flip = (at: number, bit = 0x01): Buffer => {
    const copy = Buffer.from(FROZEN.envelope);
    copy[at] = copy[at]! ^ bit;
    return copy;
  };
  const expectRejected = (env: Uint8Array, key = FROZEN.key, context = FROZEN.context) =>
    expect(() => open(key, env, context)).toThrow(EnvelopeError);

  it('rejects a flipped bit in every byte of the envelope', () => {
    for (let i = 0; i < FROZEN.envelope.length; i++) {
      for (const bit of [0x01, 0x80]) expectRejected(flip(i, bit));
    }
  });

  it('rejects a flipped bit in the magic, key id, nonce, body and tag by name', () => {
    expect(() => open(FROZEN.key, flip(0), FROZEN.context)).toThrow(/not an envelope/);
    expect(() => open(FROZEN.key, flip(5), FROZEN.context)).toThrow(/authentication/);
    expect(() => open(FROZEN.key, flip(headLen + 3), FROZEN.context)).toThrow(/authentication/);
    expect(() => open(FROZEN.key, flip(headLen + 12), FROZEN.context)).toThrow(/authentication/);
    expect(() => open(FROZEN.key, flip(FROZEN.envelope.length - 1), FROZEN.context)).toThrow(
      /authentication/,
    );
  });

  it('rejects an unknown format version', () => {
    const v2 = Buffer.from(FROZEN.envelope);
    v2[2] = 2;
    expect(() => open(FROZEN.key, v2, FROZEN.context)).toThrow(/unsupported envelope version 2/);
    expect(() => envelopeKeyId(v2)).toThrow(EnvelopeError);
  });

  it('rejects the wrong context (a value moved to another row or column)', () => {
    expectRejected(FROZEN.envelope, FROZEN.key, FROZEN.context.replace('password', 'notes'));
    expectRejected(FROZEN.envelope, FROZEN.key, '');
  });

  it('rejects the wrong key', () => {
    const other = Buffer.from(FROZEN.key);
    other[31] = other[31]! ^ 0x01;
    expectRejected(FROZEN.envelope, other);
  });

  it('rejects truncated and extended envelopes', () => {
    for (const len of [
      0,
      1,
      3,
      headLen,
      headLen + 12,
      headLen + 12 + 15,
      FROZEN.envelope.length - 1,
    ]) {
      expectRejected(FROZEN.envelope.subarray(0, len));
    }
    expectRejected(Buffer.concat([FROZEN.envelope, Buffer.from([0])]));
  });

  it('refuses bad keys, nonces and key ids when sealing', () => {
    const p = Buffer.from('x');
    expect(() => sealWithNonce(Buffer.alloc(16), 'dk', p, 'c', FROZEN.nonce)).toThrow(
      EnvelopeError,
    );
    expect(() => sealWithNonce(FROZEN.key, 'dk', p, 'c', Buffer.alloc(8))).toThrow(EnvelopeError);
    expect(() => sealWithNonce(FROZEN.key, 'bad id', p, 'c', FROZEN.nonce)).toThrow(EnvelopeError);
    expect(() => sealWithNonce(FROZEN.key, 'k'.repeat(65), p, 'c', FROZEN.nonce)).toThrow(
      EnvelopeError,
    );
  });
});
