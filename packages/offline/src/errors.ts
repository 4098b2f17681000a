/** Errors of the offline library: a stable code and one clear sentence, never a secret. */

export type OfflineCacheErrorCode =
  | 'cache_wrong_machine'
  | 'cache_wrong_password'
  | 'cache_corrupt'
  | 'cache_expired'
  | 'cache_unsupported';

const CACHE_MESSAGES: Record<OfflineCacheErrorCode, string> = {
  cache_wrong_machine:
    'This offline cache was made on another machine or in another client directory; it cannot be opened here.',
  cache_wrong_password: 'The cache password is wrong.',
  cache_corrupt: 'The offline cache file is damaged or incomplete and cannot be opened.',
  cache_expired: 'The offline cache has expired and can no longer be opened.',
  cache_unsupported: 'This file is not a Strongroom offline cache that this client can open.',
};

export class OfflineCacheError extends Error {
  override readonly name = 'OfflineCacheError';
  readonly code: OfflineCacheErrorCode;
  /** For `cache_expired`: which limit passed and when. */
  readonly expiry?: { reason: 'expired' | 'max_offline'; at: string };

  constructor(
    code: OfflineCacheErrorCode,
    message?: string,
    expiry?: { reason: 'expired' | 'max_offline'; at: string },
  ) {
    super(message ?? CACHE_MESSAGES[code]);
    this.code = code;
    if (expiry) this.expiry = expiry;
  }
}

export type OfflineJournalErrorCode = 'journal_tampered' | 'journal_other_cache';

const JOURNAL_MESSAGES: Record<OfflineJournalErrorCode, string> = {
  journal_tampered:
    'The offline journal cannot be verified: it was changed or damaged, or it was made with another key.',
  journal_other_cache: 'The offline journal on disk belongs to another offline cache.',
};

export class OfflineJournalError extends Error {
  override readonly name = 'OfflineJournalError';
  readonly code: OfflineJournalErrorCode;
  constructor(code: OfflineJournalErrorCode, message?: string) {
    super(message ?? JOURNAL_MESSAGES[code]);
    this.code = code;
  }
}
