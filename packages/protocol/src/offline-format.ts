/** Version of the package layout; a client refuses a package whose version it does not know. */
export const OFFLINE_PACKAGE_FORMAT = 1;

export const OFFLINE_LIMITS = {
  clientLabelMax: 100,
  commentMax: 1000,
  revokeReasonMax: 500,
  /** Records in one journal upload. */
  journalRecordsMax: 10_000,
  /**
   * Clock skew tolerated between client and server for journal times (ms): a record may say it
   * happened up to this much in the future, or this much before the cache was made.
   */
  journalSkewMs: 5 * 60_000,
} as const;
