import {
  NIL_UUID,
  type ClientMeta,
  type CreateFolder,
  type FolderCustomField,
  type UpdateFolder,
} from '@strongroom/protocol';
import { invalid } from '../shared/errors.js';
import type { EntryCustomFieldInput } from '../vault/fields.js';
import type { CreateEntryInput, NewAttachment, UpdateEntryInput } from '../vault/service.js';
import {
  asObject,
  dateMember,
  guidMember,
  isObject,
  member,
  stringMember,
  type JsonObject,
} from './wire.js';

/**
 * Pleasant request bodies as our services' inputs. Property names are matched in any case;
 * members clients send back unchanged from what they read (`Id`, `Created`, `Children`,
 * `HasModifyEntriesAccess`…) are ignored; a member of the wrong type is a 400 naming it. The
 * services validate the values themselves (lengths, names, tags) exactly as for the native API.
 */

/** A PUT body may wrap the object as `{"Item": {…}, "Comment": "…"}`. */
export function unwrapItem(body: unknown): JsonObject {
  const obj = asObject(body, '');
  const item = member(obj, 'Item');
  return item === undefined ? obj : asObject(item, 'Item');
}

/** Text members: null clears the value (it is what clients send for "empty"). */
function text(obj: JsonObject, name: string): string | undefined {
  const v = stringMember(obj, name, { nullable: true });
  return v === undefined ? undefined : (v ?? '');
}

/** `obj` without its undefined members (a member given is a change; an absent one is none). */
function defined<T extends object>(obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** `Tags`: `[{"Name": "…"}]` (plain strings are accepted too); null is no tags. */
function tags(obj: JsonObject): string[] | undefined {
  const value = member(obj, 'Tags');
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!Array.isArray(value)) throw invalid('Tags', 'Expected an array of {"Name": "…"} objects.');
  return value.map((t, i) => {
    if (typeof t === 'string') return t;
    if (isObject(t)) {
      const name = member(t, 'Name');
      if (typeof name === 'string') return name;
    }
    throw invalid(`Tags/${i}/Name`, 'Expected a tag name (a string).');
  });
}

/**
 * `CustomApplicationFields`: KeePass keys, stored as sent (strings, numbers and booleans) and
 * returned as strings; null is none.
 */
function applicationFields(obj: JsonObject): ClientMeta | undefined {
  const value = member(obj, 'CustomApplicationFields');
  if (value === undefined) return undefined;
  if (value === null) return {};
  if (!isObject(value)) {
    throw invalid('CustomApplicationFields', 'Expected an object of names to values.');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw invalid(`CustomApplicationFields/${k}`, 'Expected a string, a number or a boolean.');
    }
  }
  return value as ClientMeta;
}

/** `CustomUserFields` as name–value pairs (null values kept as null); null is none. */
function userFields(obj: JsonObject): Array<{ name: string; value: string | null }> | undefined {
  const value = member(obj, 'CustomUserFields');
  if (value === undefined) return undefined;
  if (value === null) return [];
  if (!isObject(value)) throw invalid('CustomUserFields', 'Expected an object of names to values.');
  return Object.entries(value).map(([name, v]) => {
    if (v !== null && typeof v !== 'string') {
      throw invalid(`CustomUserFields/${name}`, 'Expected a string or null.');
    }
    return { name, value: v };
  });
}

/**
 * Entry custom fields from Pleasant's map. Pleasant has no protection flag, so none is given:
 * the vault keeps each field protected as the entry's current field of that name is (new fields
 * are not protected), and a null value keeps the current value of a protected field (callers
 * without View Entry Password read it as null and send it back as null) or is an empty value.
 */
function entryCustomFields(obj: JsonObject): EntryCustomFieldInput[] | undefined {
  return userFields(obj);
}

/** Folder custom fields (never protected): a null value is an empty one. */
function folderCustomFields(obj: JsonObject): FolderCustomField[] | undefined {
  return userFields(obj)?.map(({ name, value }) => ({ name, value: value ?? '' }));
}

/**
 * The members entries and folders share, read in this order: `Notes`, `Tags`,
 * `CustomUserFields` (as `customFields` reads them), `CustomApplicationFields`, `Expires`.
 */
function sharedMembers<F>(obj: JsonObject, customFields: (obj: JsonObject) => F | undefined) {
  return defined({
    notes: text(obj, 'Notes'),
    tags: tags(obj),
    customFields: customFields(obj),
    clientMeta: applicationFields(obj),
    expiresAt: dateMember(obj, 'Expires'),
  });
}

/** v6 TOTP members: Strongroom keeps no TOTP seeds on entries, so a seed is refused, not lost. */
function refuseTotp(obj: JsonObject): void {
  const secret = member(obj, 'TOTPSecret');
  if (secret !== undefined && secret !== null && secret !== '') {
    throw invalid('TOTPSecret', 'TOTP seeds on entries are not supported by this server.');
  }
}

function newAttachments(obj: JsonObject): NewAttachment[] | undefined {
  const value = member(obj, 'Attachments');
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid('Attachments', 'Expected an array of attachments.');
  return value.map((a, i) => {
    const at = `Attachments/${i}`;
    const o = asObject(a, at);
    const fileName = stringMember(o, 'FileName', { field: `${at}/FileName` });
    const data = stringMember(o, 'FileData', { field: `${at}/FileData` });
    if (fileName === undefined) throw invalid(`${at}/FileName`, 'A file name is required.');
    if (data === undefined) throw invalid(`${at}/FileData`, 'The file (base64) is required.');
    return { fileName: fileName ?? '', data: data ?? '' };
  });
}

/** `Name` on creation: required. */
function requiredName(obj: JsonObject): string {
  const name = stringMember(obj, 'Name');
  if (name === undefined || name === null) throw invalid('Name', 'A name is required.');
  return name;
}

/** `Name` on update: absent keeps the name; null is refused. */
function newName(obj: JsonObject): string | undefined {
  const name = stringMember(obj, 'Name');
  if (name === null) throw invalid('Name', 'The name cannot be null.');
  return name;
}

/** An update's `Id`, if given, must be the id in the path. */
function checkBodyId(obj: JsonObject, id: string): void {
  const bodyId = guidMember(obj, 'Id');
  if (bodyId !== undefined && bodyId !== id) {
    throw invalid('Id', 'The Id in the body is not the id in the path.');
  }
}

/** POST entries: `GroupId` and `Name` are required. */
export function createEntryInput(body: unknown): CreateEntryInput {
  const obj = asObject(body, '');
  refuseTotp(obj);
  const folderId = guidMember(obj, 'GroupId');
  if (folderId === undefined) throw invalid('GroupId', 'The folder (GroupId) is required.');
  return {
    folderId,
    name: requiredName(obj),
    ...defined({
      username: text(obj, 'Username'),
      password: text(obj, 'Password'),
      url: text(obj, 'Url'),
    }),
    ...sharedMembers(obj, entryCustomFields),
    ...defined({ attachments: newAttachments(obj) }),
  };
}

/**
 * PATCH or PUT entries/{id}: the members given change, the others keep their value (PUT is
 * applied like PATCH, so a client that sends back what it read loses nothing it could not
 * read). A null `Password` keeps the password. `GroupId` moves the entry. `Attachments` are not
 * changed by an update.
 */
export function updateEntryInput(
  obj: JsonObject,
  id: string,
): { fields: UpdateEntryInput; folderId: string | undefined } {
  refuseTotp(obj);
  checkBodyId(obj, id);
  const fields: UpdateEntryInput = defined({
    name: newName(obj),
    username: text(obj, 'Username'),
    password: stringMember(obj, 'Password', { nullable: true }) ?? undefined,
    url: text(obj, 'Url'),
    ...sharedMembers(obj, entryCustomFields),
  });
  return { fields, folderId: guidMember(obj, 'GroupId') };
}

/** POST folders: `ParentId` and `Name` are required; `Children`/`Credentials` are ignored. */
export function createFolderInput(body: unknown): CreateFolder {
  const obj = asObject(body, '');
  const parentId = guidMember(obj, 'ParentId');
  if (parentId === undefined)
    throw invalid('ParentId', 'The parent folder (ParentId) is required.');
  return { parentId, name: requiredName(obj), ...sharedMembers(obj, folderCustomFields) };
}

/** PATCH or PUT folders/{id}, like entries: members given change; `ParentId` moves it. */
export function updateFolderInput(
  obj: JsonObject,
  id: string,
): { fields: UpdateFolder; parentId: string | undefined } {
  checkBodyId(obj, id);
  const fields: UpdateFolder = defined({
    name: newName(obj),
    ...sharedMembers(obj, folderCustomFields),
  });
  return { fields, parentId: guidMember(obj, 'ParentId') };
}

export type DeleteAction = 'archive' | 'delete';

/**
 * A DELETE body: `{"Action": "Archive" | "Delete", "Comment": "…"}` (any case). Without a body
 * (or without `Action`) the item is archived: the reversible choice.
 */
export function deleteAction(body: unknown): DeleteAction {
  if (body === undefined || body === null) return 'archive';
  const obj = asObject(body, '');
  const action = member(obj, 'Action');
  if (action === undefined || action === null) return 'archive';
  if (typeof action === 'string') {
    const a = action.trim().toLowerCase();
    if (a === 'archive' || a === 'delete') return a;
  }
  // .NET clients may send the enum's number: 0 = Archive, 1 = Delete.
  if (action === 0) return 'archive';
  if (action === 1) return 'delete';
  throw invalid('Action', 'Expected "Archive" or "Delete".');
}

/** POST search: `{"Search": "text"}`. */
export function searchText(body: unknown): string {
  const obj = asObject(body, '');
  const search = stringMember(obj, 'Search');
  if (search === undefined || search === null)
    throw invalid('Search', 'The search text is required.');
  return search;
}

/**
 * A body's optional usage comment (`Comment`, null = none), as sent: the service that takes it
 * trims it, drops a blank one and checks its length and characters.
 */
export function comment(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  const obj = asObject(body, '');
  return stringMember(obj, 'Comment', { nullable: true }) ?? undefined;
}

/** POST …/useraccess: `{UserId, RoleId, PermissionSetId, AccessExpiry}`, one of the two principals. */
export function userAccessInput(body: unknown): {
  principalType: 'user' | 'role';
  principalId: string;
  accessLevelId: string;
  expiresAt: string | null;
} {
  const obj = asObject(body, '');
  const userId = guidMember(obj, 'UserId');
  const roleId = guidMember(obj, 'RoleId');
  const user = userId !== undefined && userId !== NIL_UUID ? userId : undefined;
  const role = roleId !== undefined && roleId !== NIL_UUID ? roleId : undefined;
  if ((user === undefined) === (role === undefined)) {
    throw invalid('UserId', 'Give either a UserId or a RoleId.');
  }
  const accessLevelId = guidMember(obj, 'PermissionSetId') ?? guidMember(obj, 'AccessLevelId');
  if (accessLevelId === undefined) {
    throw invalid('PermissionSetId', 'The access level (PermissionSetId) is required.');
  }
  const expiresAt = dateMember(obj, 'AccessExpiry') ?? null;
  return user !== undefined
    ? { principalType: 'user', principalId: user, accessLevelId, expiresAt }
    : { principalType: 'role', principalId: role!, accessLevelId, expiresAt };
}
