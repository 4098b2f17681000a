/**
 * `@strongroom/offline/node`: the library's host parts for Node, in one place (not part of the
 * isomorphic core): Argon2id, randomness and hashing from `@strongroom/crypto`, gzip from
 * node:zlib.
 */
import { constants, createGzip, gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { argon2idRaw, nodeOfflineCrypto, offlineRandomBytes } from '@strongroom/crypto/offline';
import type { OfflineCompression, OfflineEnv } from './env.js';

const gunzipP = promisify(gunzip);
const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** gzip on node:zlib (off the main thread); level 1: the payload is mostly XML, and time counts. */
export const nodeCompression: OfflineCompression = {
  gzip: (parts) =>
    new Promise((resolve, reject) => {
      const z = createGzip({ level: constants.Z_BEST_SPEED });
      const out: Buffer[] = [];
      z.on('data', (d: Buffer) => out.push(d));
      z.on('error', reject);
      z.on('end', () => resolve(u8(Buffer.concat(out))));
      for (const p of parts) z.write(p);
      z.end();
    }),
  gunzip: async (data) => u8(await gunzipP(data)),
};

/** The Node host: `now` may be replaced (tests, expiry checks at a given time). */
export function nodeOfflineEnv(over: Partial<OfflineEnv> = {}): OfflineEnv {
  return {
    argon2id: argon2idRaw,
    now: () => new Date(),
    randomBytes: offlineRandomBytes,
    crypto: nodeOfflineCrypto,
    compression: nodeCompression,
    ...over,
  };
}
