import type {
  ClientMeta,
  CreateFolder,
  CustomField,
  CustomFieldInput,
  FolderCustomField,
  UpdateEntry,
  UpdateFolder,
} from '@strongroom/protocol';
import { invalid } from '../shared/errors.js';
import type { CreateEntryInput, NewAttachment } from '../vault/service.js';
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

/** `CustomApplicationFields`: KeePass keys stored and returned unchanged; null is none. */
function applicationFields(obj: JsonObject): ClientMeta | undefined {
  const value = member(obj, 'CustomApplicationFields');
  if (value === undefined) return undefined;
  if (value === null) return {};
  if (!isObject(value)) {
    throw invalid('CustomApplicationFields', 'Expected an object of names to values.');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw invalid(`CustomApplicationFields/${k}`, 'Expected a string.');
    }
  }
  return value as ClientMeta;
}

/** `CustomUserFields` as a name → value map (null values kept as null); null is none. */
function userFieldMap(obj: JsonObject): Map<string, string | null> | undefined {
  const value = member(obj, 'CustomUserFields');
  if (value === undefined) return undefined;
  if (value === null) return new Map();
  if (!isObject(value)) throw invalid('CustomUserFields', 'Expected an object of names to values.');
  const out = new Map<string, string | null>();
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v !== 'string') {
      throw invalid(`CustomUserFields/${k}`, 'Expected a string or null.');
    }
    out.set(k, v);
  }
  return out;
}

/** Whether the body holds `CustomUserFields` (the adapter then reads the entry's current ones). */
export function hasUserFields(obj: JsonObject): boolean {
  return member(obj, 'CustomUserFields') !== undefined;
}

/**
 * Entry custom fields from Pleasant's map. Pleasant has no protection flag: a field keeps the
 * flag of the entry's current field of that name (new fields are not protected), and a null
 * value keeps the current value of a protected field (callers without View Entry Password read
 * it as null and send it back as null); a null anywhere else is an empty value.
 */
function entryCustomFields(
  map: Map<string, string | null>,
  current: readonly CustomField[],
): CustomFieldInput[] {
  return [...map].map(([name, value]) => {
    const now = current.find((f) => f.name === name);
    if (now?.protected) return { name, value, protected: true };
    return { name, value: value ?? '', protected: false };
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

function requiredName(obj: JsonObject): string {
  const name = stringMember(obj, 'Name');
  if (name === undefined || name === null) throw invalid('Name', 'A name is required.');
  return name;
}

/** POST entries: `GroupId` and `Name` are required. */
export function createEntryInput(body: unknown): CreateEntryInput {
  const obj = asObject(body, '');
  refuseTotp(obj);
  const folderId = guidMember(obj, 'GroupId');
  if (folderId === undefined) throw invalid('GroupId', 'The folder (GroupId) is required.');
  const input: CreateEntryInput = { folderId, name: requiredName(obj) };
  const username = text(obj, 'Username');
  if (username !== undefined) input.username = username;
  const password = text(obj, 'Password');
  if (password !== undefined) input.password = password;
  const url = text(obj, 'Url');
  if (url !== undefined) input.url = url;
  const notes = text(obj, 'Notes');
  if (notes !== undefined) input.notes = notes;
  const t = tags(obj);
  if (t !== undefined) input.tags = t;
  const fields = userFieldMap(obj);
  if (fields !== undefined) input.customFields = entryCustomFields(fields, []);
  const meta = applicationFields(obj);
  if (meta !== undefined) input.clientMeta = meta;
  const expires = dateMember(obj, 'Expires');
  if (expires !== undefined) input.expiresAt = expires;
  const files = newAttachments(obj);
  if (files !== undefined) input.attachments = files;
  return input;
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
  currentFields: readonly CustomField[],
): { fields: UpdateEntry; folderId: string | undefined } {
  refuseTotp(obj);
  const bodyId = guidMember(obj, 'Id');
  if (bodyId !== undefined && bodyId !== id) {
    throw invalid('Id', 'The Id in the body is not the id in the path.');
  }
  const fields: UpdateEntry = {};
  const name = stringMember(obj, 'Name');
  if (name === null) throw invalid('Name', 'The name cannot be null.');
  if (name !== undefined) fields.name = name;
  const username = text(obj, 'Username');
  if (username !== undefined) fields.username = username;
  const password = stringMember(obj, 'Password', { nullable: true });
  if (password !== undefined && password !== null) fields.password = password;
  const url = text(obj, 'Url');
  if (url !== undefined) fields.url = url;
  const notes = text(obj, 'Notes');
  if (notes !== undefined) fields.notes = notes;
  const t = tags(obj);
  if (t !== undefined) fields.tags = t;
  const map = userFieldMap(obj);
  if (map !== undefined) fields.customFields = entryCustomFields(map, currentFields);
  const meta = applicationFields(obj);
  if (meta !== undefined) fields.clientMeta = meta;
  const expires = dateMember(obj, 'Expires');
  if (expires !== undefined) fields.expiresAt = expires;
  return { fields, folderId: guidMember(obj, 'GroupId') };
}

function folderUserFields(obj: JsonObject): FolderCustomField[] | undefined {
  const map = userFieldMap(obj);
  if (map === undefined) return undefined;
  return [...map].map(([name, value]) => ({ name, value: value ?? '' }));
}

/** POST folders: `ParentId` and `Name` are required; `Children`/`Credentials` are ignored. */
export function createFolderInput(body: unknown): CreateFolder {
  const obj = asObject(body, '');
  const parentId = guidMember(obj, 'ParentId');
  if (parentId === undefined)
    throw invalid('ParentId', 'The parent folder (ParentId) is required.');
  const input: CreateFolder = { parentId, name: requiredName(obj) };
  const notes = text(obj, 'Notes');
  if (notes !== undefined) input.notes = notes;
  const t = tags(obj);
  if (t !== undefined) input.tags = t;
  const fields = folderUserFields(obj);
  if (fields !== undefined) input.customFields = fields;
  const meta = applicationFields(obj);
  if (meta !== undefined) input.clientMeta = meta;
  const expires = dateMember(obj, 'Expires');
  if (expires !== undefined) input.expiresAt = expires;
  return input;
}

/** PATCH or PUT folders/{id}, like entries: members given change; `ParentId` moves it. */
export function updateFolderInput(
  obj: JsonObject,
  id: string,
): { fields: UpdateFolder; parentId: string | undefined } {
  const bodyId = guidMember(obj, 'Id');
  if (bodyId !== undefined && bodyId !== id) {
    throw invalid('Id', 'The Id in the body is not the id in the path.');
  }
  const fields: UpdateFolder = {};
  const name = stringMember(obj, 'Name');
  if (name === null) throw invalid('Name', 'The name cannot be null.');
  if (name !== undefined) fields.name = name;
  const notes = text(obj, 'Notes');
  if (notes !== undefined) fields.notes = notes;
  const t = tags(obj);
  if (t !== undefined) fields.tags = t;
  const cf = folderUserFields(obj);
  if (cf !== undefined) fields.customFields = cf;
  const meta = applicationFields(obj);
  if (meta !== undefined) fields.clientMeta = meta;
  const expires = dateMember(obj, 'Expires');
  if (expires !== undefined) fields.expiresAt = expires;
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

/** A body's optional usage comment (`Comment`), trimmed; undefined when absent or blank. */
export function comment(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  const obj = asObject(body, '');
  const c = stringMember(obj, 'Comment', { nullable: true });
  if (c === undefined || c === null || c.trim() === '') return undefined;
  return c;
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
  const nil = '00000000-0000-0000-0000-000000000000';
  const user = userId !== undefined && userId !== nil ? userId : undefined;
  const role = roleId !== undefined && roleId !== nil ? roleId : undefined;
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
