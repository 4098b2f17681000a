import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from './ids.js';
import { PermissionListSchema } from './access.js';

/**
 * Wire schemas of the vault: folders, entries, attachments, history, tree, search, archive and
 * private folders (spec §1). Ids are lower-case GUIDs; times are ISO 8601 UTC strings; a password
 * is never part of a listing, a tree, a search hit or an entry's details — only the `…/password`
 * endpoints return it, and each call is audited.
 */

export const VAULT_LIMITS = {
  /** Folder and entry names. */
  nameMax: 255,
  usernameMax: 1024,
  passwordMax: 10_000,
  urlMax: 2048,
  notesMax: 100_000,
  tagMax: 64,
  tagsMax: 50,
  customFieldsMax: 100,
  customFieldNameMax: 255,
  customFieldValueMax: 10_000,
  /** Serialized size of the client metadata map, in UTF-8 bytes. */
  clientMetaMaxBytes: 16 * 1024,
  clientMetaKeysMax: 200,
  clientMetaKeyMax: 128,
  fileNameMax: 255,
  /** Attachments in one create request (each limited by the server's attachment limit). */
  attachmentsOnCreateMax: 20,
  searchQueryMax: 200,
  /** Search returns at most this many entries and this many folders. */
  searchResultsMax: 500,
} as const;

/**
 * Folder and entry names: no `/` (it separates path segments), no control characters, no
 * leading or trailing white space. Sibling names need not be unique.
 */
export const VAULT_NAME_PATTERN = '^[^\\s/\\p{Cc}](?:[^/\\p{Cc}]*[^\\s/\\p{Cc}])?$';
/** Tags and custom field names: no control characters, no leading or trailing white space. */
export const VAULT_LABEL_PATTERN = '^[^\\s\\p{Cc}](?:[^\\p{Cc}]*[^\\s\\p{Cc}])?$';
/** Attachment file names: like names, and no backslash either. */
export const FILE_NAME_PATTERN = '^[^\\s/\\\\\\p{Cc}](?:[^/\\\\\\p{Cc}]*[^\\s/\\\\\\p{Cc}])?$';

const Uuid = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });
const Time = Type.String();
/**
 * `string | null` as `type: ['string', 'null']` rather than `anyOf`: the response serialiser
 * handles it natively (with `anyOf` it validates every value, ten times slower on a big tree).
 */
const NullableString = Type.Unsafe<string | null>({ type: ['string', 'null'] });
const NullableTime = NullableString;
const DateTimeInput = Type.Union([
  Type.String({ format: 'date-time', maxLength: 64 }),
  Type.Null(),
]);

export const VaultNameSchema = Type.String({
  minLength: 1,
  maxLength: VAULT_LIMITS.nameMax,
  pattern: VAULT_NAME_PATTERN,
});

export const TagListSchema = Type.Array(
  Type.String({ minLength: 1, maxLength: VAULT_LIMITS.tagMax, pattern: VAULT_LABEL_PATTERN }),
  { maxItems: VAULT_LIMITS.tagsMax },
);

/** Free map of client metadata (icon, colours, auto-type…): stored and returned unchanged. */
export const ClientMetaSchema = Type.Record(
  Type.String(),
  Type.Unsafe<string | number | boolean>({
    type: ['string', 'number', 'boolean'],
    maxLength: VAULT_LIMITS.clientMetaMaxBytes,
  }),
  { maxProperties: VAULT_LIMITS.clientMetaKeysMax },
);
export type ClientMeta = Record<string, string | number | boolean>;

const CustomFieldName = Type.String({
  minLength: 1,
  maxLength: VAULT_LIMITS.customFieldNameMax,
  pattern: VAULT_LABEL_PATTERN,
});

/**
 * A custom field of an entry as sent by a client. On update, `value: null` on a protected field
 * keeps the value it has now (for clients that may not read protected values).
 */
export const CustomFieldInputSchema = Type.Object(
  {
    name: CustomFieldName,
    value: Type.Union([Type.String({ maxLength: VAULT_LIMITS.customFieldValueMax }), Type.Null()]),
    protected: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type CustomFieldInput = Static<typeof CustomFieldInputSchema>;

/** A custom field as returned: a protected value is null unless the caller may see passwords. */
export const CustomFieldSchema = Type.Object({
  name: Type.String(),
  value: NullableString,
  protected: Type.Boolean(),
});
export type CustomField = Static<typeof CustomFieldSchema>;

/** Folder custom fields are not secrets (stored like folder notes, unsealed): no protection. */
export const FolderCustomFieldSchema = Type.Object(
  {
    name: CustomFieldName,
    value: Type.String({ maxLength: VAULT_LIMITS.customFieldValueMax }),
  },
  { additionalProperties: false },
);
export type FolderCustomField = Static<typeof FolderCustomFieldSchema>;

export const FOLDER_KINDS = ['root', 'private-root', 'private', 'folder'] as const;
export type FolderKind = (typeof FOLDER_KINDS)[number];

// ---------------------------------------------------------------- folders

/**
 * A folder in the tree, in a folder view or as a folder's details. A folder the caller may not
 * see but that leads to something visible is a path-only node: `visible: false` and only `id`,
 * `parentId`, `name` and `path`.
 */
export const FolderSchema = Type.Object(
  {
    id: Type.String(),
    /** Null for `Root`. */
    parentId: NullableString,
    name: Type.String(),
    /** Full path, `Root/A/B`. */
    path: Type.String(),
    visible: Type.Boolean(),
    kind: Type.Optional(Type.Enum([...FOLDER_KINDS])),
    notes: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(Type.String())),
    customFields: Type.Optional(Type.Array(FolderCustomFieldSchema)),
    clientMeta: Type.Optional(ClientMetaSchema),
    expiresAt: Type.Optional(NullableTime),
    createdAt: Type.Optional(Time),
    modifiedAt: Type.Optional(Time),
    /** Set while the folder (not an ancestor) is in the Archive. */
    archivedAt: Type.Optional(NullableTime),
    blockInheritance: Type.Optional(Type.Boolean()),
    /** The user a private folder belongs to. */
    ownerUserId: Type.Optional(NullableString),
    /** The caller's effective permissions (A flags) on the folder. */
    permissions: Type.Optional(PermissionListSchema),
  },
  {
    description:
      'A folder. With View Folders it carries its details; a folder the caller may not see but that leads to something visible is a path-only node (visible: false; id, parentId, name and path only).',
  },
);
export type Folder = Static<typeof FolderSchema>;

export const CreateFolderSchema = Type.Object(
  {
    parentId: Uuid,
    name: VaultNameSchema,
    notes: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.notesMax })),
    tags: Type.Optional(TagListSchema),
    customFields: Type.Optional(
      Type.Array(FolderCustomFieldSchema, { maxItems: VAULT_LIMITS.customFieldsMax }),
    ),
    clientMeta: Type.Optional(ClientMetaSchema),
    expiresAt: Type.Optional(DateTimeInput),
  },
  { additionalProperties: false },
);
export type CreateFolder = Static<typeof CreateFolderSchema>;

export const UpdateFolderSchema = Type.Object(
  {
    name: Type.Optional(VaultNameSchema),
    notes: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.notesMax })),
    tags: Type.Optional(TagListSchema),
    customFields: Type.Optional(
      Type.Array(FolderCustomFieldSchema, { maxItems: VAULT_LIMITS.customFieldsMax }),
    ),
    clientMeta: Type.Optional(ClientMetaSchema),
    expiresAt: Type.Optional(DateTimeInput),
  },
  { additionalProperties: false },
);
export type UpdateFolder = Static<typeof UpdateFolderSchema>;

/** Move a folder under another, or restore it from the Archive into one. */
export const FolderDestinationSchema = Type.Object(
  { parentId: Uuid },
  { additionalProperties: false },
);
export type FolderDestination = Static<typeof FolderDestinationSchema>;

// ---------------------------------------------------------------- entries

export const AttachmentInfoSchema = Type.Object({
  id: Type.String(),
  fileName: Type.String(),
  /** Decoded size in bytes. */
  size: Type.Integer(),
  createdAt: Time,
});
export type AttachmentInfo = Static<typeof AttachmentInfoSchema>;

export const AttachmentListSchema = Type.Object({ attachments: Type.Array(AttachmentInfoSchema) });
export type AttachmentList = Static<typeof AttachmentListSchema>;

export const AttachmentDataSchema = Type.Object({
  id: Type.String(),
  entryId: Type.String(),
  fileName: Type.String(),
  size: Type.Integer(),
  /** The file, base64. */
  data: Type.String(),
});
export type AttachmentData = Static<typeof AttachmentDataSchema>;

export const AddAttachmentSchema = Type.Object(
  {
    fileName: Type.String({
      minLength: 1,
      maxLength: VAULT_LIMITS.fileNameMax,
      pattern: FILE_NAME_PATTERN,
    }),
    /** The file, base64 (the decoded size is limited by the server's attachment limit). */
    data: Type.String(),
  },
  { additionalProperties: false },
);
export type AddAttachment = Static<typeof AddAttachmentSchema>;

/** An entry's details (View Entry Contents). Never holds the password. */
export const EntrySchema = Type.Object({
  id: Type.String(),
  folderId: Type.String(),
  name: Type.String(),
  /** Full path, `Root/A/Name`. */
  path: Type.String(),
  username: Type.String(),
  url: Type.String(),
  notes: Type.String(),
  tags: Type.Array(Type.String()),
  customFields: Type.Array(CustomFieldSchema),
  clientMeta: ClientMetaSchema,
  /** Whether a password is stored (fetch it with GET /entries/{id}/password). */
  hasPassword: Type.Boolean(),
  attachments: Type.Array(AttachmentInfoSchema),
  expiresAt: NullableTime,
  createdAt: Time,
  modifiedAt: Time,
  /** Id of the user who made the current version. */
  modifiedBy: NullableString,
  version: Type.Integer(),
  /** Set while the entry itself is in the Archive. */
  archivedAt: NullableTime,
  /** The caller's effective permissions (A flags) on the entry. */
  permissions: PermissionListSchema,
});
export type Entry = Static<typeof EntrySchema>;

export const CreateEntrySchema = Type.Object(
  {
    folderId: Uuid,
    name: VaultNameSchema,
    username: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.usernameMax })),
    password: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.passwordMax })),
    url: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.urlMax })),
    notes: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.notesMax })),
    tags: Type.Optional(TagListSchema),
    customFields: Type.Optional(
      Type.Array(CustomFieldInputSchema, { maxItems: VAULT_LIMITS.customFieldsMax }),
    ),
    clientMeta: Type.Optional(ClientMetaSchema),
    expiresAt: Type.Optional(DateTimeInput),
    attachments: Type.Optional(
      Type.Array(AddAttachmentSchema, { maxItems: VAULT_LIMITS.attachmentsOnCreateMax }),
    ),
  },
  { additionalProperties: false },
);
export type CreateEntry = Static<typeof CreateEntrySchema>;

/** Partial update: absent fields keep their value. */
export const UpdateEntrySchema = Type.Object(
  {
    name: Type.Optional(VaultNameSchema),
    username: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.usernameMax })),
    password: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.passwordMax })),
    url: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.urlMax })),
    notes: Type.Optional(Type.String({ maxLength: VAULT_LIMITS.notesMax })),
    tags: Type.Optional(TagListSchema),
    customFields: Type.Optional(
      Type.Array(CustomFieldInputSchema, { maxItems: VAULT_LIMITS.customFieldsMax }),
    ),
    clientMeta: Type.Optional(ClientMetaSchema),
    expiresAt: Type.Optional(DateTimeInput),
  },
  { additionalProperties: false },
);
export type UpdateEntry = Static<typeof UpdateEntrySchema>;

/** Move an entry to another folder, or restore it from the Archive into one. */
export const EntryDestinationSchema = Type.Object(
  { folderId: Uuid },
  { additionalProperties: false },
);
export type EntryDestination = Static<typeof EntryDestinationSchema>;

/** Where an entry is after a move or a restore. */
export const EntryLocationSchema = Type.Object({
  id: Type.String(),
  folderId: Type.String(),
  name: Type.String(),
  path: Type.String(),
});
export type EntryLocation = Static<typeof EntryLocationSchema>;

export const PasswordSchema = Type.Object({ password: Type.String() });
export type PasswordResponse = Static<typeof PasswordSchema>;

// ---------------------------------------------------------------- history

export const EntryVersionInfoSchema = Type.Object({
  version: Type.Integer(),
  /** True for the entry as it is now. */
  current: Type.Boolean(),
  /** When this version was saved, and by whom (user id and login name when known). */
  modifiedAt: Time,
  modifiedBy: NullableString,
  modifiedByName: NullableString,
});
export type EntryVersionInfo = Static<typeof EntryVersionInfoSchema>;

export const EntryHistorySchema = Type.Object({
  entryId: Type.String(),
  /** Newest first; the first item is the current version. */
  versions: Type.Array(EntryVersionInfoSchema),
});
export type EntryHistory = Static<typeof EntryHistorySchema>;

/** The fields of one version (no password: GET …/history/{version}/password returns it). */
export const EntryVersionSchema = Type.Object({
  entryId: Type.String(),
  version: Type.Integer(),
  current: Type.Boolean(),
  modifiedAt: Time,
  modifiedBy: NullableString,
  name: Type.String(),
  username: Type.String(),
  url: Type.String(),
  notes: Type.String(),
  tags: Type.Array(Type.String()),
  customFields: Type.Array(CustomFieldSchema),
  clientMeta: ClientMetaSchema,
  hasPassword: Type.Boolean(),
  expiresAt: NullableTime,
  attachments: Type.Array(AttachmentInfoSchema),
});
export type EntryVersion = Static<typeof EntryVersionSchema>;

// ---------------------------------------------------------------- tree, search, archive

/**
 * An entry in the tree or a folder view. Only the name with View Entry Names; the other fields
 * appear with View Entry Contents.
 */
export const EntrySummarySchema = Type.Object({
  id: Type.String(),
  folderId: Type.String(),
  name: Type.String(),
  username: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Array(Type.String())),
  clientMeta: Type.Optional(ClientMetaSchema),
  expiresAt: Type.Optional(NullableTime),
  createdAt: Type.Optional(Time),
  modifiedAt: Type.Optional(Time),
});
export type EntrySummary = Static<typeof EntrySummarySchema>;

/**
 * The caller's whole visible tree in one response, flat: folders in depth-first order (parents
 * before children, siblings by name), entries grouped by folder in that order, then by name.
 */
export const VaultTreeSchema = Type.Object(
  {
    rootId: Type.String(),
    folders: Type.Array(FolderSchema),
    entries: Type.Array(EntrySummarySchema),
  },
  {
    description:
      'The whole visible tree, flat: folders depth-first (parents first, siblings by name, Root always first), entries grouped by folder in that order. Archived items are left out; passwords and notes never appear.',
  },
);
export type VaultTree = Static<typeof VaultTreeSchema>;

/** One folder with its visible sub-folders (path-only ones included) and visible entries. */
export const FolderViewSchema = Type.Object({
  folder: FolderSchema,
  children: Type.Array(FolderSchema),
  entries: Type.Array(EntrySummarySchema),
});
export type FolderView = Static<typeof FolderViewSchema>;

export const SearchQuerySchema = Type.Object({
  q: Type.String({ minLength: 1, maxLength: VAULT_LIMITS.searchQueryMax }),
});
export type SearchQuery = Static<typeof SearchQuerySchema>;

export const SearchEntryHitSchema = Type.Object({
  id: Type.String(),
  folderId: Type.String(),
  name: Type.String(),
  /** Path of the entry's folder, `Root/A`. */
  folderPath: Type.String(),
  username: Type.Optional(Type.String()),
  url: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Array(Type.String())),
  notes: Type.Optional(Type.String()),
  /** Which fields matched: name, username, url, tags, notes. */
  matched: Type.Array(Type.String()),
});
export type SearchEntryHit = Static<typeof SearchEntryHitSchema>;

export const SearchFolderHitSchema = Type.Object({
  id: Type.String(),
  parentId: NullableString,
  name: Type.String(),
  path: Type.String(),
});
export type SearchFolderHit = Static<typeof SearchFolderHitSchema>;

export const SearchResultSchema = Type.Object({
  entries: Type.Array(SearchEntryHitSchema),
  folders: Type.Array(SearchFolderHitSchema),
  /** True when more matched than the result cap. */
  truncated: Type.Boolean(),
});
export type SearchResult = Static<typeof SearchResultSchema>;

export const ArchivedFolderSchema = Type.Object({
  id: Type.String(),
  parentId: NullableString,
  name: Type.String(),
  /** Where it was when archived, `Root/A/Name`. */
  path: Type.String(),
  archivedAt: Time,
});
export const ArchivedEntrySchema = Type.Object({
  id: Type.String(),
  folderId: Type.String(),
  name: Type.String(),
  path: Type.String(),
  archivedAt: Time,
});
export const ArchiveListSchema = Type.Object({
  folders: Type.Array(ArchivedFolderSchema),
  entries: Type.Array(ArchivedEntrySchema),
});
export type ArchiveList = Static<typeof ArchiveListSchema>;
