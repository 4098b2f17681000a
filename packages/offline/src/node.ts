/**
 * `@strongroom/offline/node`: the library's host parts for Node, in one place (not part of the
 * isomorphic core): Argon2id, randomness and hashing from `@strongroom/crypto`, gzip from
 * node:zlib.
 */
import { gunzip, gzip, constants } from 'node:zlib';
import { promisify } from 'node:util';
import { argon2idRaw, nodeOfflineCrypto, offlineRandomBytes } from '@strongroom/crypto/offline';
import type { OfflineCompression, OfflineEnv } from './env.js';

const gzipP = promisify(gzip);
const gunzipP = promisify(gunzip);
const u8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** gzip on node:zlib (off the main thread); level 1: the payload is mostly XML, and time counts. */
export const nodeCompression: OfflineCompression = {
  gzip: async (data) => u8(await gzipP(data, { level: constants.Z_BEST_SPEED })),
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
