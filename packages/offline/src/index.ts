/**
 * @strongroom/offline: the offline cache (a KDBX 4 file bound to the machine), its journal of
 * offline password use, and the helpers the clients share. Isomorphic: no Node module here; the
 * host passes Argon2, a clock, randomness and storage (`OfflineEnv`, `BlobStore`).
 */
export {
  MIN_KDF_MEMORY_KIB,
  webCrypto,
  type Argon2idFn,
  type KdfParams,
  type OfflineCrypto,
  type OfflineEnv,
} from './env.js';
export {
  OfflineCacheError,
  OfflineJournalError,
  type OfflineCacheErrorCode,
  type OfflineJournalErrorCode,
} from './errors.js';
export {
  CACHE_FORMAT,
  buildCache,
  expiryOf,
  machineCheckOf,
  machineMatches,
  openCache,
  readCacheHeader,
  type BuildCacheOptions,
  type CacheHeader,
  type CacheMeta,
  type CachedEntry,
  type CachedFolder,
  type OpenCacheOptions,
  type OpenedCache,
  type Progress,
  type ProgressStep,
} from './cache.js';
export { keyFileXml, parseKeyFileXml } from './keyfile.js';
export { KDF_LIMITS, calibrateKdf, kdfProblem } from './kdf.js';
export {
  journalCacheId,
  openJournal,
  type BlobStore,
  type Journal,
  type JournalRecord,
} from './journal.js';
