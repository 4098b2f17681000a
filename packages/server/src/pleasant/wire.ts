import { isUuid } from '@strongroom/protocol';
import { AppError, invalid } from '../shared/errors.js';

/**
 * Reading and writing the Pleasant wire format: JSON input whose property names are matched
 * case-insensitively (`"search"`, `"UserName"` occur), GUIDs in the forms .NET clients write,
 * dates with an offset, and bare JSON strings. Fields named in errors are Pleasant's
 * (`Name`, `Tags/0/Name`); the error handler turns them into `{"error_message": "Name: …"}`.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A body or member that must be a JSON object. */
export function asObject(value: unknown, field: string): JsonObject {
  if (!isObject(value)) {
    throw invalid(
      field,
      field === '' ? 'The request body must be a JSON object.' : 'Expected a JSON object.',
    );
  }
  return value;
}

/** The member `name` of `obj`, matched case-insensitively (an exact match wins); undefined if absent. */
export function member(obj: JsonObject, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) {
    if (key.toLowerCase() === lower) return obj[key];
  }
  return undefined;
}

/** A string member: undefined when absent; null allowed only with `nullable`. */
export function stringMember(
  obj: JsonObject,
  name: string,
  opts: { nullable?: boolean; field?: string } = {},
): string | null | undefined {
  const value = member(obj, name);
  if (value === undefined) return undefined;
  if (value === null && opts.nullable) return null;
  if (typeof value !== 'string') {
    throw invalid(
      opts.field ?? name,
      opts.nullable ? 'Expected a string or null.' : 'Expected a string.',
    );
  }
  return value;
}

/**
 * A GUID as .NET clients may write it (any case, with or without hyphens, in braces), in our
 * form: lower case with hyphens. Anything else is a 400 naming `field`.
 */
export function parseGuid(value: unknown, field: string): string {
  if (typeof value === 'string' && value.length <= 40) {
    let text = value.trim().toLowerCase();
    if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1);
    if (/^[0-9a-f]{32}$/.test(text)) {
      text = `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
    }
    if (isUuid(text)) return text;
  }
  throw invalid(field, 'Expected a GUID (such as 3f2a1b4c-0000-4000-8000-000000000001).');
}

/** A GUID member: undefined when absent or null. */
export function guidMember(obj: JsonObject, name: string, field = name): string | undefined {
  const value = member(obj, name);
  if (value === undefined || value === null) return undefined;
  return parseGuid(value, field);
}

/** A date as Pleasant writes it: ISO 8601 with an explicit offset (UTC), or null. */
export function pleasantDate(iso: string | null | undefined): string | null {
  if (iso === null || iso === undefined) return null;
  return iso.endsWith('Z') ? `${iso.slice(0, -1)}+00:00` : iso;
}

/**
 * A date sent by a client, as our services take it (ISO 8601 UTC) or null. A date-time without
 * an offset is taken as UTC (the server's time zone must not change what a client meant).
 */
export function dateMember(obj: JsonObject, name: string): string | null | undefined {
  const value = member(obj, name);
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  if (typeof value !== 'string' || value.length > 64) {
    throw invalid(name, 'Expected an ISO 8601 date-time or null.');
  }
  const m =
    /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      value.trim(),
    );
  if (!m) throw invalid(name, 'Expected an ISO 8601 date-time or null.');
  const [, day, time, zone] = m;
  // Fractions beyond milliseconds (.NET writes seven digits) are cut: JavaScript dates hold ms.
  const clock = (time ?? '00:00:00').replace(/(\.\d{3})\d+$/, '$1');
  const offset = zone === undefined || zone.toUpperCase() === 'Z' ? 'Z' : zone;
  const t = Date.parse(`${day}T${clock}${offset}`);
  if (!Number.isFinite(t)) throw invalid(name, 'Expected an ISO 8601 date-time or null.');
  return new Date(t).toISOString();
}

/** Native JSON pointers (from our services' validation) as the Pleasant field they came from. */
const NATIVE_FIELDS: Record<string, string> = {
  name: 'Name',
  username: 'Username',
  password: 'Password',
  url: 'Url',
  notes: 'Notes',
  tags: 'Tags',
  customFields: 'CustomUserFields',
  clientMeta: 'CustomApplicationFields',
  expiresAt: 'Expires',
  attachments: 'Attachments',
  fileName: 'FileName',
  data: 'FileData',
  folderId: 'GroupId',
  parentId: 'ParentId',
  q: 'Search',
  comment: 'Comment',
};

/** The field of an error as Pleasant clients know it. */
export function pleasantField(field: string): string {
  if (!field.startsWith('/')) return field;
  return field
    .slice(1)
    .split('/')
    .map((part) => NATIVE_FIELDS[part] ?? part)
    .join('/');
}

/** 403 with a message, for refusals that are not about one node (a switched-off feature). */
export function refused(message: string): AppError {
  return new AppError('not_allowed', message);
}
