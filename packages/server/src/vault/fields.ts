import {
  FILE_NAME_PATTERN,
  VAULT_LABEL_PATTERN,
  VAULT_LIMITS,
  VAULT_NAME_PATTERN,
  type ClientMeta,
  type CustomFieldInput,
  type FolderCustomField,
} from '@strongroom/protocol';
import { AppError, invalid } from '../shared/errors.js';

/**
 * Validation and normalisation of vault fields. Routes validate the same rules with their
 * schemas; the service checks again so that in-process callers (the demo seeder, benchmarks,
 * the Pleasant adapter) can't store what the API would refuse.
 */

const NAME_RE = new RegExp(VAULT_NAME_PATTERN, 'u');
const LABEL_RE = new RegExp(VAULT_LABEL_PATTERN, 'u');
const FILE_NAME_RE = new RegExp(FILE_NAME_PATTERN, 'u');
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** A stored entry custom field (the value is always present at rest). */
export interface StoredCustomField {
  name: string;
  value: string;
  protected: boolean;
}

export function checkName(name: unknown, field: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > VAULT_LIMITS.nameMax) {
    throw invalid(field, `The name must be 1 to ${VAULT_LIMITS.nameMax} characters.`);
  }
  if (!NAME_RE.test(name)) {
    throw invalid(
      field,
      'The name may not contain "/" or control characters, nor start or end with a space.',
    );
  }
  return name;
}

export function checkText(value: unknown, max: number, field: string): string {
  if (typeof value !== 'string') throw invalid(field, 'Expected a string.');
  if (value.length > max) throw invalid(field, `At most ${max} characters.`);
  return value;
}

/** Tags: each 1–64 characters; duplicates (ignoring case) are dropped, the first kept. */
export function normalizeTags(tags: unknown, field: string): string[] {
  if (!Array.isArray(tags)) throw invalid(field, 'Expected an array of tags.');
  if (tags.length > VAULT_LIMITS.tagsMax) {
    throw invalid(field, `At most ${VAULT_LIMITS.tagsMax} tags.`);
  }
  const seen = new Set<string>();
  const out: string[] = [];
  tags.forEach((t, i) => {
    if (
      typeof t !== 'string' ||
      t.length === 0 ||
      t.length > VAULT_LIMITS.tagMax ||
      !LABEL_RE.test(t)
    ) {
      throw invalid(
        `${field}/${i}`,
        `A tag is 1 to ${VAULT_LIMITS.tagMax} characters, without control characters or surrounding spaces.`,
      );
    }
    const key = t.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push(t);
  });
  return out;
}

/** Client metadata: strings, finite numbers and booleans, at most 16 KiB serialised. */
export function checkClientMeta(meta: unknown, field: string): ClientMeta {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw invalid(field, 'Expected an object of strings, numbers and booleans.');
  }
  const entries = Object.entries(meta as Record<string, unknown>);
  if (entries.length > VAULT_LIMITS.clientMetaKeysMax) {
    throw invalid(field, `At most ${VAULT_LIMITS.clientMetaKeysMax} keys.`);
  }
  const out: ClientMeta = {};
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > VAULT_LIMITS.clientMetaKeyMax) {
      throw invalid(`${field}/${k}`, `Keys are 1 to ${VAULT_LIMITS.clientMetaKeyMax} characters.`);
    }
    if (
      typeof v !== 'string' &&
      typeof v !== 'boolean' &&
      !(typeof v === 'number' && Number.isFinite(v))
    ) {
      throw invalid(`${field}/${k}`, 'Values are strings, numbers or booleans.');
    }
    out[k] = v;
  }
  if (Buffer.byteLength(JSON.stringify(out), 'utf8') > VAULT_LIMITS.clientMetaMaxBytes) {
    throw invalid(field, `Client metadata is limited to ${VAULT_LIMITS.clientMetaMaxBytes} bytes.`);
  }
  return out;
}

function checkFieldName(name: unknown, field: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > VAULT_LIMITS.customFieldNameMax ||
    !LABEL_RE.test(name)
  ) {
    throw invalid(
      field,
      `A custom field name is 1 to ${VAULT_LIMITS.customFieldNameMax} characters, without control characters or surrounding spaces.`,
    );
  }
  return name;
}

/**
 * An entry custom field as in-process callers may give it: the native input, or one without
 * `protected` (the Pleasant-compatible API, whose fields carry no flag). Without `protected`,
 * the field is protected as the entry's current field of that name is (unprotected if there is
 * none), and a null value keeps the current value of a protected field or is an empty value.
 */
export type EntryCustomFieldInput = Omit<CustomFieldInput, 'protected'> & { protected?: boolean };

/**
 * Entry custom fields: unique names. A protected field sent with `value: null` keeps the value
 * of the existing protected field of that name (clients that may not read protected values can
 * still save the entry); anywhere else a null value is refused, unless `protected` is left out
 * (see `EntryCustomFieldInput`). `existing` are the entry's fields as they are now, read in the
 * transaction that saves the new ones.
 */
export function checkEntryCustomFields(
  fields: unknown,
  existing: readonly StoredCustomField[],
  field: string,
): StoredCustomField[] {
  if (!Array.isArray(fields)) throw invalid(field, 'Expected an array of custom fields.');
  if (fields.length > VAULT_LIMITS.customFieldsMax) {
    throw invalid(field, `At most ${VAULT_LIMITS.customFieldsMax} custom fields.`);
  }
  const names = new Set<string>();
  return (fields as EntryCustomFieldInput[]).map((f, i) => {
    const at = `${field}/${i}`;
    if (f === null || typeof f !== 'object') throw invalid(at, 'Expected a custom field.');
    const name = checkFieldName(f.name, `${at}/name`);
    if (names.has(name)) throw invalid(`${at}/name`, 'Custom field names must be unique.');
    names.add(name);
    const prior = existing.find((e) => e.name === name && e.protected);
    if (f.protected === undefined) {
      // As the current field of that name; a null value keeps a protected value, else is empty.
      if (f.value === null) return { name, value: prior?.value ?? '', protected: !!prior };
      const value = checkText(f.value, VAULT_LIMITS.customFieldValueMax, `${at}/value`);
      return { name, value, protected: !!prior };
    }
    if (typeof f.protected !== 'boolean') throw invalid(`${at}/protected`, 'Expected a boolean.');
    let value: string;
    if (f.value === null) {
      if (!f.protected || !prior) {
        throw invalid(
          `${at}/value`,
          'A value is required (null keeps the value of an existing protected field only).',
        );
      }
      value = prior.value;
    } else {
      value = checkText(f.value, VAULT_LIMITS.customFieldValueMax, `${at}/value`);
    }
    return { name, value, protected: f.protected };
  });
}

export function checkFolderCustomFields(fields: unknown, field: string): FolderCustomField[] {
  if (!Array.isArray(fields)) throw invalid(field, 'Expected an array of custom fields.');
  if (fields.length > VAULT_LIMITS.customFieldsMax) {
    throw invalid(field, `At most ${VAULT_LIMITS.customFieldsMax} custom fields.`);
  }
  const names = new Set<string>();
  return (fields as FolderCustomField[]).map((f, i) => {
    const at = `${field}/${i}`;
    if (f === null || typeof f !== 'object') throw invalid(at, 'Expected a custom field.');
    const name = checkFieldName(f.name, `${at}/name`);
    if (names.has(name)) throw invalid(`${at}/name`, 'Custom field names must be unique.');
    names.add(name);
    return { name, value: checkText(f.value, VAULT_LIMITS.customFieldValueMax, `${at}/value`) };
  });
}

/** An ISO 8601 time (or null) as epoch milliseconds. */
export function parseTime(value: unknown, field: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length > 64) {
    throw invalid(field, 'Expected an ISO 8601 date-time or null.');
  }
  const t = Date.parse(value);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    throw invalid(field, 'Expected an ISO 8601 date-time or null.');
  }
  return t;
}

export function checkFileName(name: unknown, field: string): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > VAULT_LIMITS.fileNameMax ||
    !FILE_NAME_RE.test(name)
  ) {
    throw invalid(
      field,
      `A file name is 1 to ${VAULT_LIMITS.fileNameMax} characters, without "/", "\\" or control characters.`,
    );
  }
  return name;
}

/**
 * Decodes attachment data (base64 text, or bytes from an in-process caller), refusing anything
 * larger than `limit` bytes once decoded (413) before decoding it.
 */
export function decodeAttachment(data: unknown, limit: number, field: string): Buffer {
  if (data instanceof Uint8Array) {
    if (data.length > limit) throw tooLarge(limit);
    return Buffer.from(data);
  }
  if (typeof data !== 'string') throw invalid(field, 'Expected base64 text.');
  const text = data.replace(/[\r\n]/g, '');
  if (text.length % 4 !== 0 || !BASE64_RE.test(text)) {
    throw invalid(field, 'The attachment data is not valid base64.');
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const size = (text.length / 4) * 3 - padding;
  if (size > limit) throw tooLarge(limit);
  return Buffer.from(text, 'base64');
}

function tooLarge(limit: number): AppError {
  return new AppError(
    'payload_too_large',
    `The attachment is larger than the server accepts (${limit} bytes).`,
  );
}
