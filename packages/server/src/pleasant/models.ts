import {
  NIL_UUID,
  VAULT_PERMISSIONS,
  type AccessGrant,
  type AccessLevel,
  type AttachmentData,
  type AttachmentInfo,
  type ClientMeta,
  type ClientSettings,
  type Entry,
  type EntrySummary,
  type Folder,
  type OfflineEntry,
  type SearchResult,
  type VaultPermission,
} from '@strongroom/protocol';
import { pleasantDate } from './wire.js';
import type { PleasantApiVersion } from './url.js';

/**
 * Our models as Pleasant's (PascalCase, the field set of the public protocol). Built field by
 * field from our wire objects, so nothing beyond them can slip out; a password appears only in
 * the answers that fetch it (audited by the vault) and in the offline package.
 */

/** Our permission catalogue under Pleasant's names (the `Grant…` twin is `Grant` + the name). */
export const PLEASANT_PERMISSION_NAMES: Readonly<Record<VaultPermission, string>> = {
  viewFolders: 'ViewFolders',
  viewEntryNames: 'ViewEntryNames',
  viewEntryContents: 'ViewEntryContents',
  viewEntryPassword: 'ViewEntryPassword',
  viewEntryOffline: 'ViewOffline',
  viewEntryHistory: 'ViewEntryHistory',
  addEntries: 'AddEntries',
  addFolders: 'AddFolders',
  modifyEntries: 'ModifyEntries',
  modifyFolders: 'ModifyFolderNames',
  moveEntries: 'MoveEntries',
  moveFolders: 'MoveFolders',
  archiveEntries: 'ArchiveEntries',
  archiveFolders: 'ArchiveFolders',
  deleteEntries: 'DeleteEntries',
  deleteFolders: 'DeleteFolders',
  setBlockInheritance: 'SetBlockInheritance',
  viewAccess: 'ViewSecurity',
};

export interface CommentPrompts {
  AskForCommentOnViewPassword: boolean;
  AskForCommentOnViewOffline: boolean;
  AskForCommentOnModifyEntries: boolean;
  AskForCommentOnMoveEntries: boolean;
  AskForCommentOnMoveFolders: boolean;
  AskForCommentOnModifyFolders: boolean;
}

/**
 * The comments the caller's client settings ask for. Strongroom asks for a usage comment only
 * when taking entries offline (`offlineCommentRequired`); the other prompts are always false.
 */
export function commentPrompts(
  settings: Pick<ClientSettings, 'offlineCommentRequired'>,
): CommentPrompts {
  return {
    AskForCommentOnViewPassword: false,
    AskForCommentOnViewOffline: settings.offlineCommentRequired,
    AskForCommentOnModifyEntries: false,
    AskForCommentOnMoveEntries: false,
    AskForCommentOnMoveFolders: false,
    AskForCommentOnModifyFolders: false,
  };
}

export interface PleasantAttachment {
  CredentialObjectId: string;
  AttachmentId: string;
  FileName: string;
  /** Base64; null where only the list of files is given (an entry's details). */
  FileData: string | null;
  FileSize: number;
}

export interface PleasantCredential {
  Id: string;
  Name: string;
  Username: string | null;
  Password: string | null;
  Url: string | null;
  Notes: string | null;
  GroupId: string;
  Created: string | null;
  Modified: string | null;
  Expires: string | null;
  Tags: Array<{ Name: string }>;
  CustomUserFields: Record<string, string | null>;
  CustomApplicationFields: Record<string, string>;
  Attachments: PleasantAttachment[];
  HasModifyEntriesAccess: boolean;
  HasViewEntryContentsAccess: boolean;
  CommentPrompts: CommentPrompts;
  HasViewEntryPasswordAccess?: boolean;
  HasViewTOTPAccess?: boolean;
  HasModifyTOTPAccess?: boolean;
  TOTPIssuer?: string | null;
  TOTPSecret?: string | null;
  TOTPDigits?: number | null;
  TOTPPeriod?: number | null;
}

export interface PleasantFolder {
  Id: string;
  Name: string;
  ParentId: string;
  Notes: string | null;
  Created: string | null;
  Modified: string | null;
  Expires: string | null;
  Tags: Array<{ Name: string }>;
  CustomUserFields: Record<string, string>;
  CustomApplicationFields: Record<string, string>;
  Children: PleasantFolder[];
  Credentials: PleasantCredential[];
  HasModifyEntriesAccess: boolean;
  HasViewEntryContentsAccess: boolean;
  CommentPrompts: CommentPrompts;
}

const tagList = (tags: readonly string[] | undefined) => (tags ?? []).map((Name) => ({ Name }));

/** Client metadata as Pleasant's string map (values we hold as numbers or booleans as text). */
function applicationFields(meta: ClientMeta | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta ?? {})) out[k] = String(v);
  return out;
}

/**
 * A credential as `version` gives it: v6 adds the TOTP members (Strongroom keeps no TOTP seeds
 * on entries) and whether the caller, holding `perms` on the entry, may fetch the password.
 */
function forVersion(
  c: PleasantCredential,
  version: PleasantApiVersion,
  perms: readonly VaultPermission[],
): PleasantCredential {
  if (version !== 'v6') return c;
  return {
    ...c,
    HasViewEntryPasswordAccess: perms.includes('viewEntryPassword'),
    HasViewTOTPAccess: false,
    HasModifyTOTPAccess: false,
    TOTPIssuer: null,
    TOTPSecret: null,
    TOTPDigits: null,
    TOTPPeriod: null,
  };
}

/** An attachment of entry `entryId`; `data` (base64) null where only the list of files is given. */
export function attachmentOf(
  entryId: string,
  a: Pick<AttachmentInfo, 'id' | 'fileName' | 'size'>,
  data: string | null = null,
): PleasantAttachment {
  return {
    CredentialObjectId: entryId,
    AttachmentId: a.id,
    FileName: a.fileName,
    FileData: data,
    FileSize: a.size,
  };
}

export function attachmentWithData(a: AttachmentData): PleasantAttachment {
  return attachmentOf(a.entryId, a, a.data);
}

/** What an entry's details and an offline package's entry both hold. */
type EntryContents = Pick<
  Entry,
  | 'id'
  | 'name'
  | 'username'
  | 'url'
  | 'notes'
  | 'folderId'
  | 'createdAt'
  | 'modifiedAt'
  | 'expiresAt'
  | 'tags'
> & {
  customFields: ReadonlyArray<{ name: string; value: string | null }>;
  clientMeta: ClientMeta;
  attachments: ReadonlyArray<Pick<AttachmentInfo, 'id' | 'fileName' | 'size'>>;
};

/** A credential in full, with `password` as given and the caller's `perms` on the entry. */
function credentialFrom(
  e: EntryContents,
  password: string | null,
  perms: readonly VaultPermission[],
  prompts: CommentPrompts,
  version: PleasantApiVersion,
): PleasantCredential {
  const c: PleasantCredential = {
    Id: e.id,
    Name: e.name,
    Username: e.username,
    Password: password,
    Url: e.url,
    Notes: e.notes,
    GroupId: e.folderId,
    Created: pleasantDate(e.createdAt),
    Modified: pleasantDate(e.modifiedAt),
    Expires: pleasantDate(e.expiresAt),
    Tags: tagList(e.tags),
    CustomUserFields: Object.fromEntries(e.customFields.map((f) => [f.name, f.value])),
    CustomApplicationFields: applicationFields(e.clientMeta),
    Attachments: e.attachments.map((a) => attachmentOf(e.id, a)),
    HasModifyEntriesAccess: perms.includes('modifyEntries'),
    HasViewEntryContentsAccess: perms.includes('viewEntryContents'),
    CommentPrompts: prompts,
  };
  return forVersion(c, version, perms);
}

/** An entry's details (View Entry Contents): everything but the password. */
export function credentialOf(
  e: Entry,
  prompts: CommentPrompts,
  version: PleasantApiVersion,
): PleasantCredential {
  return credentialFrom(e, null, e.permissions, prompts, version);
}

/** An entry the caller sees by name only (no View Entry Contents): its place and name. */
export function credentialNameOnly(
  e: EntrySummary & { permissions: readonly VaultPermission[] },
  prompts: CommentPrompts,
  version: PleasantApiVersion,
): PleasantCredential {
  const c: PleasantCredential = {
    Id: e.id,
    Name: e.name,
    Username: null,
    Password: null,
    Url: null,
    Notes: null,
    GroupId: e.folderId,
    Created: null,
    Modified: null,
    Expires: null,
    Tags: [],
    CustomUserFields: {},
    CustomApplicationFields: {},
    Attachments: [],
    HasModifyEntriesAccess: false,
    HasViewEntryContentsAccess: false,
    CommentPrompts: prompts,
  };
  return forVersion(c, version, e.permissions);
}

/**
 * An entry of an offline package: in full, password included (the client encrypts it at once).
 * The cache is read-only, and everything in it was eligible with View Entry Contents and View
 * Entry Password.
 */
export function offlineCredentialOf(
  e: OfflineEntry,
  prompts: CommentPrompts,
  version: PleasantApiVersion,
): PleasantCredential {
  const perms: VaultPermission[] = ['viewEntryNames', 'viewEntryContents', 'viewEntryPassword'];
  return credentialFrom(
    { ...e, clientMeta: e.clientMeta as ClientMeta },
    e.password,
    perms,
    prompts,
    version,
  );
}

/** A folder without its children (the caller fills `Children` and `Credentials`). */
export function folderOf(f: Folder, prompts: CommentPrompts): PleasantFolder {
  const perms = f.permissions ?? [];
  return {
    Id: f.id,
    Name: f.name,
    ParentId: f.parentId ?? NIL_UUID,
    Notes: f.visible ? (f.notes ?? '') : null,
    Created: pleasantDate(f.createdAt),
    Modified: pleasantDate(f.modifiedAt),
    Expires: pleasantDate(f.expiresAt),
    Tags: tagList(f.tags),
    CustomUserFields: Object.fromEntries((f.customFields ?? []).map((c) => [c.name, c.value])),
    CustomApplicationFields: applicationFields(f.clientMeta),
    Children: [],
    Credentials: [],
    HasModifyEntriesAccess: perms.includes('modifyEntries'),
    HasViewEntryContentsAccess: perms.includes('viewEntryContents'),
    CommentPrompts: prompts,
  };
}

/**
 * Nests a flat, depth-first list of folders (parents first) with their credentials under the
 * first one. The caller gives only the folders wanted (a folder whose parent is not among them
 * is left out, with its credentials).
 */
export function nestFolders(
  folders: readonly PleasantFolder[],
  credentials: readonly PleasantCredential[],
): PleasantFolder {
  const [top] = folders;
  if (!top) throw new Error('nestFolders needs at least one folder');
  const byId = new Map<string, PleasantFolder>([[top.Id, top]]);
  for (const f of folders.slice(1)) {
    const parent = byId.get(f.ParentId);
    if (!parent) continue;
    parent.Children.push(f);
    byId.set(f.Id, f);
  }
  for (const c of credentials) byId.get(c.GroupId)?.Credentials.push(c);
  return top;
}

/** An access level: one boolean per permission under Pleasant's names, and its `Grant…` twin. */
export function accessLevelOf(level: AccessLevel): Record<string, unknown> {
  const out: Record<string, unknown> = { Id: level.id, Name: level.name };
  for (const p of VAULT_PERMISSIONS) out[PLEASANT_PERMISSION_NAMES[p]] = level.allow.includes(p);
  for (const p of VAULT_PERMISSIONS) {
    out[`Grant${PLEASANT_PERMISSION_NAMES[p]}`] = level.grant.includes(p);
  }
  out.Description = level.description;
  out.IsBuiltIn = level.builtin;
  return out;
}

/** A user access row (a grant on the node or inherited from a folder above it). */
export function userAccessOf(g: AccessGrant) {
  return {
    Id: g.id,
    UserId: g.principal.type === 'user' ? g.principal.id : null,
    RoleId: g.principal.type === 'role' ? g.principal.id : null,
    PrincipalName: g.principal.name,
    PermissionSetId: g.accessLevel.id,
    PermissionSetName: g.accessLevel.name,
    AccessExpiry: pleasantDate(g.expiresAt),
    CredentialGroupId: g.nodeType === 'folder' ? g.nodeId : null,
    CredentialObjectId: g.nodeType === 'entry' ? g.nodeId : null,
    IsInherited: g.inherited,
    Created: pleasantDate(g.createdAt),
  };
}

/** Search hits: credential `Path` is its folder's path and folder `FullPath` its own, both with a trailing slash. */
export function searchResultOf(r: SearchResult) {
  return {
    Credentials: r.entries.map((e) => ({
      Id: e.id,
      Name: e.name,
      Username: e.username ?? null,
      Url: e.url ?? null,
      Notes: e.notes ?? null,
      GroupId: e.folderId,
      Path: `${e.folderPath}/`,
    })),
    Groups: r.folders.map((f) => ({ Id: f.id, Name: f.name, FullPath: `${f.path}/` })),
  };
}
