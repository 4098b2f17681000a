import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from './ids.js';
import { OFFLINE_LIMITS } from './offline-format.js';
import { EffectiveClientConfigSchema } from './clientconfig.js';
import { PasswordRequirementsSchema } from './policies.js';

/**
 * Wire schemas of the server side of offline mode (offline-mode §4): the offline package a
 * client turns into its encrypted cache, the caller's revision, the cache inventory (list,
 * revoke, status, clear) and the upload of the offline journal. Times are ISO 8601 UTC strings.
 */

export { OFFLINE_LIMITS, OFFLINE_PACKAGE_FORMAT } from './offline-format.js';

const Uuid = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });
const ListLimit = Type.String({ pattern: '^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$' });
const ListOffset = Type.String({ pattern: '^[0-9]{1,9}$' });

export const OFFLINE_CACHE_STATUSES = ['active', 'revoked', 'cleared'] as const;
export type OfflineCacheStatus = (typeof OFFLINE_CACHE_STATUSES)[number];
const CacheStatusSchema = Type.Union(OFFLINE_CACHE_STATUSES.map((s) => Type.Literal(s)));

// ---------------------------------------------------------------- package

export const OfflinePackageRequestSchema = Type.Object(
  {
    /**
     * Names the client's cache ("laptop cli", "pwa firefox"). A new package with the same label
     * by the same user supersedes the previous one (it becomes `cleared`).
     */
    clientLabel: Type.Optional(Type.String({ maxLength: OFFLINE_LIMITS.clientLabelMax })),
    /** Why the user takes entries offline; required when the client settings say so. */
    comment: Type.Optional(Type.String({ maxLength: OFFLINE_LIMITS.commentMax })),
  },
  { additionalProperties: false },
);
export type OfflinePackageRequest = Static<typeof OfflinePackageRequestSchema>;

export const OfflineFolderSchema = Type.Object({
  id: Type.String(),
  /** Null for `Root`. */
  parentId: NullableString,
  name: Type.String(),
  /** Full path, `Root/A/B`. */
  path: Type.String(),
});
export type OfflineFolder = Static<typeof OfflineFolderSchema>;

export const OfflineAttachmentSchema = Type.Object({
  id: Type.String(),
  fileName: Type.String(),
  /** Decoded size in bytes. */
  size: Type.Integer(),
  /** The bytes, base64. */
  dataBase64: Type.String(),
});
export type OfflineAttachment = Static<typeof OfflineAttachmentSchema>;

export const OfflineCustomFieldSchema = Type.Object({
  name: Type.String(),
  value: Type.String(),
  /** Protected like a password (a KDBX protected string). */
  protected: Type.Boolean(),
});

export const OfflineEntrySchema = Type.Object({
  id: Type.String(),
  folderId: Type.String(),
  /** Full path, `Root/A/Name`. */
  path: Type.String(),
  name: Type.String(),
  username: Type.String(),
  password: Type.String(),
  url: Type.String(),
  notes: Type.String(),
  tags: Type.Array(Type.String()),
  customFields: Type.Array(OfflineCustomFieldSchema),
  attachments: Type.Array(OfflineAttachmentSchema),
  clientMeta: Type.Record(Type.String(), Type.Unknown()),
  expiresAt: NullableString,
  createdAt: Type.String(),
  modifiedAt: Type.String(),
});
export type OfflineEntry = Static<typeof OfflineEntrySchema>;

export const OfflinePackageSchema = Type.Object(
  {
    format: Type.Integer(),
    cacheId: Type.String(),
    serverId: Type.String(),
    /** The caller's revision when the package was made (compare with GET /me/revision). */
    revision: Type.String(),
    createdAt: Type.String(),
    /** Expire Cache After: the cache does not open after this time; null = never. */
    expiresAt: NullableString,
    /** Maximum offline lifetime: the client may stay offline until then; null = no cap. */
    maxOfflineUntil: NullableString,
    /** The login name exactly as stored: offline login needs this exact form. */
    loginName: Type.String(),
    user: Type.Object({ id: Type.String(), displayName: Type.String() }),
    clientSettings: EffectiveClientConfigSchema,
    /** The caller's policy password requirements, for the cache password. */
    passwordRequirements: PasswordRequirementsSchema,
    /** Folders on the path to a cached entry, parents before children. */
    folders: Type.Array(OfflineFolderSchema),
    entries: Type.Array(OfflineEntrySchema),
  },
  {
    description:
      'Everything the caller may take offline: entries on which they hold View Entry Offline (with View Entry Names, Contents and Password) through permanent grants, not in the Archive, with every field, password and attachment. Secrets in clear: the client encrypts them at once.',
  },
);
export type OfflinePackage = Static<typeof OfflinePackageSchema>;

// ---------------------------------------------------------------- revision

export const RevisionSchema = Type.Object({
  /** Opaque; changes when something the caller can see (or take offline) changes. */
  revision: Type.String(),
});
export type Revision = Static<typeof RevisionSchema>;

// ---------------------------------------------------------------- inventory

export const OfflineCacheSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  loginName: Type.String(),
  clientLabel: NullableString,
  comment: NullableString,
  createdAt: Type.String(),
  expiresAt: NullableString,
  maxOfflineUntil: NullableString,
  entryCount: Type.Integer(),
  revision: Type.String(),
  status: CacheStatusSchema,
  statusChangedAt: NullableString,
  statusReason: NullableString,
  /** Login name of who changed the status ('strongroom' for the server itself). */
  statusBy: NullableString,
});
export type OfflineCache = Static<typeof OfflineCacheSchema>;

export const OfflineCacheListSchema = Type.Object({
  /** Newest first. */
  items: Type.Array(OfflineCacheSchema),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});
export type OfflineCacheList = Static<typeof OfflineCacheListSchema>;

export const OfflineCacheListQuerySchema = Type.Object(
  {
    userId: Type.Optional(Uuid),
    status: Type.Optional(CacheStatusSchema),
    /** 1 to 500 (default 100). Query values are strings. */
    limit: Type.Optional(ListLimit),
    offset: Type.Optional(ListOffset),
  },
  { additionalProperties: false },
);
export type OfflineCacheListQuery = Static<typeof OfflineCacheListQuerySchema>;

export const MyOfflineCacheListQuerySchema = Type.Object(
  {
    status: Type.Optional(CacheStatusSchema),
    limit: Type.Optional(ListLimit),
    offset: Type.Optional(ListOffset),
  },
  { additionalProperties: false },
);
export type MyOfflineCacheListQuery = Static<typeof MyOfflineCacheListQuerySchema>;

export const RevokeOfflineCacheSchema = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: OFFLINE_LIMITS.revokeReasonMax })) },
  { additionalProperties: false },
);
export type RevokeOfflineCache = Static<typeof RevokeOfflineCacheSchema>;

export const OfflineCacheStatusSchema = Type.Object({
  cacheId: Type.String(),
  status: CacheStatusSchema,
  /** True when the client must delete its cache now. */
  revoked: Type.Boolean(),
  reason: NullableString,
  statusChangedAt: NullableString,
  expiresAt: NullableString,
  maxOfflineUntil: NullableString,
  /** Expire Cache After has passed. */
  expired: Type.Boolean(),
  /** The caller's current revision: differs from the cache's when the cache is stale. */
  revision: Type.String(),
  /** `revision` differs from the revision the cache was made at. */
  stale: Type.Boolean(),
});
export type OfflineCacheStatusView = Static<typeof OfflineCacheStatusSchema>;

// ---------------------------------------------------------------- journal

export const OfflineJournalRecordSchema = Type.Object(
  {
    /** Chosen by the client (a GUID); a record sent again is recorded once. */
    id: Uuid,
    entryId: Uuid,
    action: Type.Union([Type.Literal('viewed'), Type.Literal('copied')]),
    /** When it happened on the client. */
    occurredAt: Type.String({ format: 'date-time', maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type OfflineJournalRecord = Static<typeof OfflineJournalRecordSchema>;

export const OfflineJournalUploadSchema = Type.Object(
  {
    records: Type.Array(OfflineJournalRecordSchema, {
      maxItems: OFFLINE_LIMITS.journalRecordsMax,
    }),
  },
  { additionalProperties: false },
);
export type OfflineJournalUpload = Static<typeof OfflineJournalUploadSchema>;

export const OfflineJournalResultSchema = Type.Object({
  /** Records recorded by this upload. */
  accepted: Type.Integer(),
  /** Records already recorded before (or repeated within the upload). */
  duplicates: Type.Integer(),
});
export type OfflineJournalResult = Static<typeof OfflineJournalResultSchema>;
