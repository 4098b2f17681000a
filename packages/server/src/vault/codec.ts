import type { OpenRequest, SecretSealer } from '@strongroom/crypto';
import type {
  AttachmentInfo,
  ClientMeta,
  CustomField,
  EntrySummary,
  Folder,
  FolderCustomField,
  FolderKind,
} from '@strongroom/protocol';
import { FOLDER_KINDS } from '@strongroom/protocol';
import { parseStoredJson } from '../shared/json.js';
import type { Perms } from '../access/permission-set.js';
import type { StoredCustomField } from './fields.js';
import type { AttachmentMeta, EntryListRow, EntryRow, FolderRow } from './repository.js';
import { allowList, type VaultView } from './view.js';

/**
 * Sealing of entry secrets and the mapping of rows to wire objects. Every sealed value is bound
 * to where it is stored: `entries:<id>:password`, `entries:<id>:notes`,
 * `entries:<id>:custom_fields`, `attachments:<id>`, `entry_versions:<id>`.
 */

export const ctx = {
  password: (entryId: string) => `entries:${entryId}:password`,
  notes: (entryId: string) => `entries:${entryId}:notes`,
  customFields: (entryId: string) => `entries:${entryId}:custom_fields`,
  attachment: (attachmentId: string) => `attachments:${attachmentId}`,
  version: (versionId: string) => `entry_versions:${versionId}`,
};

/** Every field of one version of an entry, in clear (kept in memory only for one request). */
export interface EntryState {
  name: string;
  username: string;
  password: string;
  url: string;
  notes: string;
  tags: string[];
  customFields: StoredCustomField[];
  clientMeta: ClientMeta;
  expiresAt: number | null;
  attachmentIds: string[];
}

/** The fields compared to tell whether a save changed anything, as audit details name them. */
export const STATE_FIELDS = [
  'name',
  'username',
  'password',
  'url',
  'notes',
  'tags',
  'customFields',
  'clientMeta',
  'expiresAt',
  'attachments',
] as const;

export function changedFields(a: EntryState, b: EntryState): string[] {
  const out: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  if (a.name !== b.name) out.push('name');
  if (a.username !== b.username) out.push('username');
  if (a.password !== b.password) out.push('password');
  if (a.url !== b.url) out.push('url');
  if (a.notes !== b.notes) out.push('notes');
  if (!same(a.tags, b.tags)) out.push('tags');
  if (!same(a.customFields, b.customFields)) out.push('customFields');
  if (!same(a.clientMeta, b.clientMeta)) out.push('clientMeta');
  if (a.expiresAt !== b.expiresAt) out.push('expiresAt');
  if (!same([...a.attachmentIds].sort(), [...b.attachmentIds].sort())) out.push('attachments');
  return out;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function parseTags(text: string): string[] {
  if (text === '[]') return [];
  const v = parseStoredJson<unknown>(text, []);
  return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
}

export function parseClientMeta(text: string): ClientMeta {
  if (text === '{}') return {};
  const v = parseStoredJson<unknown>(text, {});
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as ClientMeta) : {};
}

export function parseFolderCustomFields(text: string): FolderCustomField[] {
  const v = parseStoredJson<unknown>(text, []);
  if (Array.isArray(v)) {
    return v
      .filter(
        (f): f is FolderCustomField =>
          f !== null && typeof f === 'object' && typeof f.name === 'string',
      )
      .map((f) => ({ name: f.name, value: String(f.value ?? '') }));
  }
  if (v !== null && typeof v === 'object') {
    return Object.entries(v as Record<string, unknown>).map(([name, value]) => ({
      name,
      value: String(value ?? ''),
    }));
  }
  return [];
}

/** Sealed columns of an entry for a state. Empty values are stored as null. */
export function sealEntry(
  sealer: SecretSealer,
  entryId: string,
  s: Pick<EntryState, 'password' | 'notes' | 'customFields'>,
): Pick<EntryRow, 'password_sealed' | 'notes_sealed' | 'custom_fields_sealed'> {
  return {
    password_sealed:
      s.password === '' ? null : sealer.sealSecret(s.password, ctx.password(entryId)),
    notes_sealed: s.notes === '' ? null : sealer.sealSecret(s.notes, ctx.notes(entryId)),
    custom_fields_sealed:
      s.customFields.length === 0
        ? null
        : sealer.sealSecret(JSON.stringify(s.customFields), ctx.customFields(entryId)),
  };
}

export function openNotes(
  sealer: SecretSealer,
  row: Pick<EntryRow, 'id' | 'notes_sealed'>,
): string {
  return row.notes_sealed === null
    ? ''
    : sealer.openSecretText(row.notes_sealed, ctx.notes(row.id));
}

export function openPassword(
  sealer: SecretSealer,
  row: Pick<EntryRow, 'id' | 'password_sealed'>,
): string {
  return row.password_sealed === null
    ? ''
    : sealer.openSecretText(row.password_sealed, ctx.password(row.id));
}

export function openCustomFields(
  sealer: SecretSealer,
  row: Pick<EntryRow, 'id' | 'custom_fields_sealed'>,
): StoredCustomField[] {
  if (row.custom_fields_sealed === null) return [];
  return JSON.parse(
    sealer.openSecretText(row.custom_fields_sealed, ctx.customFields(row.id)),
  ) as StoredCustomField[];
}

/**
 * Sealed values of many rows opened in one `openMany` call (large batches decrypt on the sealer's
 * worker thread while this thread serves other I/O): `add` each value and keep its slot (-1 for
 * none), `open` once, then read each slot.
 */
export class SealedBatch {
  readonly #requests: OpenRequest[] = [];
  #opened: Buffer[] = [];

  add(envelope: Buffer | null, context: string): number {
    if (envelope === null) return -1;
    this.#requests.push({ envelope, context });
    return this.#requests.length - 1;
  }

  async open(sealer: SecretSealer): Promise<void> {
    this.#opened = await sealer.openMany(this.#requests);
  }

  bytes(slot: number): Buffer {
    return this.#opened[slot]!;
  }

  text(slot: number): string {
    return slot < 0 ? '' : this.#opened[slot]!.toString('utf8');
  }

  customFields(slot: number): StoredCustomField[] {
    return slot < 0 ? [] : (JSON.parse(this.text(slot)) as StoredCustomField[]);
  }
}

/** The whole current state of an entry (decrypts every secret: use for saves only). */
export function readState(
  sealer: SecretSealer,
  row: EntryRow,
  attachments: readonly AttachmentMeta[],
): EntryState {
  return {
    name: row.name,
    username: row.username,
    password: openPassword(sealer, row),
    url: row.url,
    notes: openNotes(sealer, row),
    tags: parseTags(row.tags),
    customFields: openCustomFields(sealer, row),
    clientMeta: parseClientMeta(row.client_meta),
    expiresAt: row.expires_at,
    attachmentIds: attachments.filter((a) => a.removed_at === null).map((a) => a.id),
  };
}

/** Custom fields as the caller may see them: protected values only with View Entry Password. */
export function visibleCustomFields(
  fields: readonly StoredCustomField[],
  mayViewPassword: boolean,
): CustomField[] {
  return fields.map((f) => ({
    name: f.name,
    value: f.protected && !mayViewPassword ? null : f.value,
    protected: f.protected,
  }));
}

export function attachmentInfo(a: AttachmentMeta): AttachmentInfo {
  return { id: a.id, fileName: a.file_name, size: a.size, createdAt: iso(a.created_at) };
}

function folderKind(kind: string): FolderKind {
  return (FOLDER_KINDS as readonly string[]).includes(kind) ? (kind as FolderKind) : 'folder';
}

/** A folder the caller may see (View Folders), with its details and their permissions on it. */
export function folderDto(view: VaultView, f: FolderRow): Folder {
  return {
    id: f.id,
    parentId: f.parent_id,
    name: f.name,
    path: view.path(f.id),
    visible: true,
    kind: folderKind(f.kind),
    notes: f.notes,
    tags: parseTags(f.tags),
    customFields: parseFolderCustomFields(f.custom_fields),
    clientMeta: parseClientMeta(f.client_meta),
    expiresAt: isoOrNull(f.expires_at),
    createdAt: iso(f.created_at),
    modifiedAt: iso(f.modified_at),
    archivedAt: isoOrNull(f.archived_at),
    blockInheritance: f.block_inheritance === 1,
    ownerUserId: f.owner_user_id,
    permissions: allowList(view.folderPerms(f.id)),
  };
}

/** A folder the caller may not see but that leads to something visible: its place only. */
export function pathOnlyDto(view: VaultView, f: FolderRow): Folder {
  return { id: f.id, parentId: f.parent_id, name: f.name, path: view.path(f.id), visible: false };
}

/**
 * Maps many list rows at once (the tree: thousands of entries). Times and tag lists repeat a
 * lot across rows, so each distinct value is formatted or parsed once per call.
 */
const sharedSummaries = new WeakMap<EntryListRow, EntrySummary>();
const sharedSummaryJson = new WeakMap<EntryListRow, Buffer>();

export class SummaryMapper {
  private readonly times = new Map<number, string>();
  private readonly tags = new Map<string, string[]>();

  private time(ms: number): string {
    let s = this.times.get(ms);
    if (s === undefined) {
      s = iso(ms);
      this.times.set(ms, s);
    }
    return s;
  }

  private tagList(text: string): string[] {
    let t = this.tags.get(text);
    if (t === undefined) {
      t = parseTags(text);
      this.tags.set(text, t);
    }
    return t;
  }

  /** An entry in a listing: the name, and with View Entry Contents the plaintext columns. */
  entry(e: EntryListRow, perms: Perms): EntrySummary {
    if (!perms.has('viewEntryContents')) return { id: e.id, folderId: e.folder_id, name: e.name };
    // Rows from the per-revision cache are frozen and shared by every request until the entries
    // change: their full summary is made once and shared too (frozen, only ever serialised).
    if (!Object.isFrozen(e)) return this.full(e);
    let summary = sharedSummaries.get(e);
    if (summary === undefined) {
      const made = this.full(e);
      Object.freeze(made.tags);
      Object.freeze(made.clientMeta);
      summary = Object.freeze(made);
      sharedSummaries.set(e, summary);
    }
    return summary;
  }

  /** `JSON.stringify(this.entry(e, perms))` as UTF-8, made once per shared row. */
  entryJson(e: EntryListRow, perms: Perms): Buffer {
    if (!perms.has('viewEntryContents') || !Object.isFrozen(e)) {
      return Buffer.from(JSON.stringify(this.entry(e, perms)), 'utf8');
    }
    let json = sharedSummaryJson.get(e);
    if (json === undefined) {
      json = Buffer.from(JSON.stringify(this.entry(e, perms)), 'utf8');
      sharedSummaryJson.set(e, json);
    }
    return json;
  }

  private full(e: EntryListRow): EntrySummary {
    return {
      id: e.id,
      folderId: e.folder_id,
      name: e.name,
      username: e.username,
      url: e.url,
      tags: this.tagList(e.tags),
      clientMeta: parseClientMeta(e.client_meta),
      expiresAt: e.expires_at === null ? null : this.time(e.expires_at),
      createdAt: this.time(e.created_at),
      modifiedAt: this.time(e.modified_at),
    };
  }
}
