/** Branded identifiers: a `UserId` can't be passed where a `FolderId` is expected. */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type UserId = Brand<string, 'UserId'>;
export type RoleId = Brand<string, 'RoleId'>;
export type FolderId = Brand<string, 'FolderId'>;
export type EntryId = Brand<string, 'EntryId'>;
export type AttachmentId = Brand<string, 'AttachmentId'>;
export type AccessLevelId = Brand<string, 'AccessLevelId'>;
export type GrantId = Brand<string, 'GrantId'>;
export type SessionId = Brand<string, 'SessionId'>;
export type PolicyId = Brand<string, 'PolicyId'>;
export type CacheId = Brand<string, 'CacheId'>;

/** Ids on the wire are lower-case GUIDs with hyphens (Pleasant-compatible). */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const UUID_RE = new RegExp(UUID_PATTERN);

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** The all-zero GUID: the parent id Pleasant clients expect for the root folder. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
