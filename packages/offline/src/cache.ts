/**
 * The offline cache: an offline package (offline-mode §4) turned into a KDBX 4 file that only
 * the cache password plus this machine's key file open (offline-mode §3), and back.
 *
 * Layout (decision 38):
 * - public header custom data (readable without a password, covered by the header HMAC):
 *   `strongroom.cacheId`, `strongroom.machineCheck` (HMAC-SHA-256 of the cache id under the
 *   machine key), and the cache's times as hints (`createdAt`, `expiresAt`, `maxOfflineUntil`);
 * - Meta custom data (encrypted): `strongroom.format` and every other field of `CacheMeta`;
 * - one KDBX group per folder (root group = `Root`), `strongroom.id` in its custom data;
 * - one KDBX entry per entry: Title, UserName, Password (protected), URL, Notes, custom fields
 *   as string fields with their protected flag, attachments as binaries under their file names,
 *   tags, times and expiry; `strongroom.id` and `strongroom.entry` (JSON: exact times, client
 *   metadata, and whatever KDBX cannot carry as is) in its custom data.
 */
import {
  OFFLINE_PACKAGE_FORMAT,
  checkPasswordRequirements,
  type OfflineEntry,
  type OfflinePackage,
  type PasswordRequirements,
} from '@strongroom/protocol';
import { TruncatedError, equalBytes, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.js';
import { ChaCha20 } from './chacha20.js';
import { cryptoOf, type KdfParams, type OfflineEnv } from './env.js';
import { OfflineCacheError } from './errors.js';
import { assertKdf, kdfProblem } from './kdf.js';
import {
  KdbxFormatError,
  KdbxUnsupportedError,
  KdbxWrongKeyError,
  compositeKey,
  innerStream,
  readHeader,
  readKdbx,
  verifyHeaderHash,
  writeKdbx,
  type InnerContent,
  type ParsedHeader,
  type VariantDictionary,
  type VdValue,
} from './kdbx.js';
import { hmacSha256 } from './sha256.js';
import { XmlError, child, escapeXml, isXmlSafe, parseXml, type XmlElement } from './xml.js';

/** Version of the cache layout below. */
export const CACHE_FORMAT = 1;

export interface CacheMeta {
  format: 1;
  serverUrl: string;
  serverId: string;
  /** The login name exactly as typed when the cache was made. */
  loginName: string;
  userId: string;
  displayName: string;
  cacheId: string;
  createdAt: string;
  expiresAt: string | null;
  maxOfflineUntil: string | null;
  revision: string;
  clientSettings: OfflinePackage['clientSettings'];
  passwordRequirements: OfflinePackage['passwordRequirements'];
}

export interface CachedFolder {
  id: string;
  parentId: string | null;
  name: string;
  path: string;
}

/** Exactly the package's entry: attachments keep their bytes in base64 (`dataBase64`). */
export type CachedEntry = OfflineEntry;

export interface OpenedCache {
  meta: CacheMeta;
  /** Parents before children, in the package's order. */
  folders: CachedFolder[];
  /** In the package's order. */
  entries: CachedEntry[];
}

export type ProgressStep = 'derive' | 'encrypt' | 'write' | 'decrypt' | 'parse';
export type Progress = (step: ProgressStep, done: boolean) => void;

export interface BuildCacheOptions {
  serverUrl: string;
  cachePassword: string;
  /** 32 bytes; the key file is `keyFileXml(machineKey)`. */
  machineKey: Uint8Array;
  kdf: KdfParams;
  onProgress?: Progress;
}

export interface OpenCacheOptions {
  cachePassword: string;
  machineKey: Uint8Array;
  onProgress?: Progress;
}

export interface CacheHeader {
  cacheId: string;
  /** Hex HMAC-SHA-256 of the cache id under the machine key. */
  machineCheck: string;
  /**
   * Hints for display before the password is known (`status`): they are covered by the header
   * HMAC, so only `openCache` proves them; `openCache` checks expiry with the encrypted copy.
   */
  createdAt: string | null;
  expiresAt: string | null;
  maxOfflineUntil: string | null;
}

const P = 'strongroom.';
const MACHINE_CHECK_LABEL = 'strongroom offline cache machine check v1\n';

// ---------------------------------------------------------------- public helpers

/** The machine check of a cache id under a machine key (hex). */
export function machineCheckOf(machineKey: Uint8Array, cacheId: string): string {
  assertMachineKey(machineKey);
  return toHex(hmacSha256(machineKey, utf8(MACHINE_CHECK_LABEL + cacheId)));
}

function assertMachineKey(k: Uint8Array): void {
  if (!(k instanceof Uint8Array) || k.length !== 32) {
    throw new RangeError('A machine key is 32 bytes.');
  }
}

function parseHeader(bytes: Uint8Array): ParsedHeader {
  try {
    return readHeader(bytes);
  } catch (e) {
    throw mapError(e);
  }
}

function headerOf(parsed: ParsedHeader): CacheHeader {
  const d = parsed.header.publicCustomData;
  const str = (k: string): string | null => {
    const v = d.get(P + k);
    return v?.type === 'string' ? v.value : null;
  };
  const cacheId = str('cacheId');
  const machineCheck = str('machineCheck');
  if (!cacheId || !machineCheck) throw new OfflineCacheError('cache_unsupported');
  return {
    cacheId,
    machineCheck,
    createdAt: str('createdAt'),
    expiresAt: str('expiresAt'),
    maxOfflineUntil: str('maxOfflineUntil'),
  };
}

/** Reads the public part of a cache file without a password or key. */
export function readCacheHeader(bytes: Uint8Array): CacheHeader {
  return headerOf(parseHeader(bytes));
}

/** Whether the cache was made with this machine key (no Argon2, no password). */
export function machineMatches(bytes: Uint8Array, machineKey: Uint8Array): boolean {
  const h = readCacheHeader(bytes);
  const expected = fromHex(machineCheckOf(machineKey, h.cacheId))!;
  const stored = fromHex(h.machineCheck);
  return stored !== null && equalBytes(stored, expected);
}

/** Which limit has passed at `now`, if any (the earlier one when both have). */
export function expiryOf(
  meta: Pick<CacheMeta, 'expiresAt' | 'maxOfflineUntil'>,
  now: Date,
): null | { reason: 'expired' | 'max_offline'; at: string } {
  const t = now.getTime();
  const passed: { reason: 'expired' | 'max_offline'; at: string; ms: number }[] = [];
  for (const [reason, at] of [
    ['expired', meta.expiresAt],
    ['max_offline', meta.maxOfflineUntil],
  ] as const) {
    if (at === null) continue;
    const ms = Date.parse(at);
    // An unreadable limit counts as passed: never keep a cache open on a date we cannot read.
    if (Number.isNaN(ms) || t >= ms) passed.push({ reason, at, ms: Number.isNaN(ms) ? 0 : ms });
  }
  if (passed.length === 0) return null;
  passed.sort((a, b) => a.ms - b.ms);
  return { reason: passed[0]!.reason, at: passed[0]!.at };
}

/** Null when the cache password meets the requirements; otherwise the failing rule, in words. */
export function checkCachePassword(
  password: string,
  requirements: PasswordRequirements,
): null | string {
  const r = checkPasswordRequirements(password, requirements);
  return r.ok ? null : r.message;
}

// ---------------------------------------------------------------- errors

/** Wraps an error of the host's Argon2 so that it is passed on as it is. */
class HostError extends Error {
  constructor(readonly inner: unknown) {
    super('host error');
  }
}

/**
 * Maps what reading a file can throw to the cache codes: RangeError (DataView, counters),
 * TypeError (invalid UTF-8) and SyntaxError (JSON) come from damaged content.
 */
function mapError(e: unknown): unknown {
  if (e instanceof OfflineCacheError) return e;
  if (e instanceof HostError) return e.inner;
  if (e instanceof KdbxWrongKeyError) return new OfflineCacheError('cache_wrong_password');
  if (e instanceof KdbxUnsupportedError) return new OfflineCacheError('cache_unsupported');
  if (
    e instanceof KdbxFormatError ||
    e instanceof TruncatedError ||
    e instanceof XmlError ||
    e instanceof RangeError ||
    e instanceof TypeError ||
    e instanceof SyntaxError
  ) {
    return new OfflineCacheError('cache_corrupt');
  }
  return e;
}

// ---------------------------------------------------------------- times

/** Seconds between 0001-01-01 and 1970-01-01 (KDBX 4 times count from the former). */
const EPOCH_OFFSET_S = 62135596800;

function kdbxTime(iso: string | null | undefined): string {
  const ms = iso ? Date.parse(iso) : NaN;
  const seconds = Number.isNaN(ms) ? EPOCH_OFFSET_S : Math.floor(ms / 1000) + EPOCH_OFFSET_S;
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(seconds), true);
  return toBase64(b);
}

function isoOfKdbxTime(text: string): string | null {
  const b = fromBase64(text.trim());
  if (!b || b.length !== 8) return null;
  const s = Number(new DataView(b.buffer).getBigInt64(0, true)) - EPOCH_OFFSET_S;
  const d = new Date(s * 1000);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// ---------------------------------------------------------------- writing

const STANDARD = ['Title', 'UserName', 'Password', 'URL', 'Notes'] as const;

/** What an entry keeps in `strongroom.entry` (only the parts KDBX cannot carry as they are). */
interface EntryExtra {
  createdAt: string;
  modifiedAt: string;
  expiresAt?: string;
  clientMeta?: Record<string, unknown>;
  /** Set when a tag holds a separator or is blank, so `Tags` cannot carry the list. */
  tags?: string[];
  /** KDBX key → custom field name, where the name could not be the key. */
  names?: Record<string, string>;
  /** Custom fields written protected only because XML cannot carry their characters. */
  unprotected?: string[];
  /** Attachment ids in order; file names where the binary's key differs. */
  attachments?: { id: string; fileName?: string }[];
  /** Set when the package's path is not folder path + '/' + name. */
  path?: string;
  /** Position in the package's list (groups hold their entries together; the package may not). */
  n: number;
}

function kdbxUuid(id: string, used: Set<string>, random: (n: number) => Uint8Array): string {
  const hex = id.replace(/-/g, '');
  let b = /^[0-9a-fA-F]{32}$/.test(hex) ? fromHex(hex)! : random(16);
  let s = toBase64(b);
  while (used.has(s)) {
    b = random(16);
    s = toBase64(b);
  }
  used.add(s);
  return s;
}

function uniqueKey(wanted: string, taken: Set<string>): string {
  let key = wanted === '' ? '(unnamed)' : wanted;
  for (let n = 2; taken.has(key); n++) key = `${wanted === '' ? '(unnamed)' : wanted} (${n})`;
  taken.add(key);
  return key;
}

class XmlWriter {
  readonly parts: string[] = [];
  readonly binaries: Uint8Array[] = [];
  constructor(private readonly stream: ChaCha20) {}

  el(name: string, text: string): void {
    this.parts.push(`<${name}>${escapeXml(text)}</${name}>`);
  }
  /** A `String` field; protected values go through the inner stream, in document order. */
  field(key: string, value: string, protect: boolean): void {
    const v = protect
      ? `<Value Protected="True">${toBase64(this.stream.xorInPlace(utf8(value)))}</Value>`
      : `<Value>${escapeXml(value)}</Value>`;
    this.parts.push(`<String><Key>${escapeXml(key)}</Key>${v}</String>`);
  }
  customData(items: [string, string][]): void {
    if (items.length === 0) return;
    this.parts.push('<CustomData>');
    for (const [k, v] of items) {
      this.parts.push(`<Item><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Item>`);
    }
    this.parts.push('</CustomData>');
  }
  times(created: string, modified: string, expires: string | null): void {
    const c = kdbxTime(created);
    const m = kdbxTime(modified);
    this.parts.push(
      `<Times><CreationTime>${c}</CreationTime><LastModificationTime>${m}</LastModificationTime>` +
        `<LastAccessTime>${m}</LastAccessTime><ExpiryTime>${kdbxTime(expires ?? created)}</ExpiryTime>` +
        `<Expires>${expires ? 'True' : 'False'}</Expires><UsageCount>0</UsageCount>` +
        `<LocationChanged>${m}</LocationChanged></Times>`,
    );
  }
}

function metaItems(pkg: OfflinePackage, serverUrl: string): [string, string][] {
  const items: [string, string][] = [
    [P + 'format', String(CACHE_FORMAT)],
    [P + 'serverUrl', serverUrl],
    [P + 'serverId', pkg.serverId],
    [P + 'loginName', pkg.loginName],
    [P + 'userId', pkg.user.id],
    [P + 'displayName', pkg.user.displayName],
    [P + 'cacheId', pkg.cacheId],
    [P + 'createdAt', pkg.createdAt],
    [P + 'revision', pkg.revision],
    [P + 'clientSettings', JSON.stringify(pkg.clientSettings)],
    [P + 'passwordRequirements', JSON.stringify(pkg.passwordRequirements)],
  ];
  if (pkg.expiresAt !== null) items.push([P + 'expiresAt', pkg.expiresAt]);
  if (pkg.maxOfflineUntil !== null) items.push([P + 'maxOfflineUntil', pkg.maxOfflineUntil]);
  return items;
}

function writeEntry(
  w: XmlWriter,
  e: OfflineEntry,
  n: number,
  folderPath: string,
  files: Plan['files'],
  used: Set<string>,
  random: (n: number) => Uint8Array,
): void {
  const extra: EntryExtra = { n, createdAt: e.createdAt, modifiedAt: e.modifiedAt };
  if (e.expiresAt !== null) extra.expiresAt = e.expiresAt;
  if (Object.keys(e.clientMeta).length > 0) extra.clientMeta = e.clientMeta;
  if (e.path !== `${folderPath}/${e.name}`) extra.path = e.path;
  const tagsFit = e.tags.every((t) => t !== '' && t.trim() === t && !/[;,]/.test(t));
  if (!tagsFit) extra.tags = e.tags;

  w.parts.push(`<Entry><UUID>${kdbxUuid(e.id, used, random)}</UUID><IconID>0</IconID>`);
  if (e.tags.length > 0 && tagsFit) w.el('Tags', e.tags.join(';'));
  w.times(e.createdAt, e.modifiedAt, e.expiresAt);

  // Values XML cannot carry go through the (base64) protected path, flagged to read back right.
  const std: [string, string, boolean][] = [
    ['Title', e.name, false],
    ['UserName', e.username, false],
    ['Password', e.password, true],
    ['URL', e.url, false],
    ['Notes', e.notes, false],
  ];
  for (const [k, v, p] of std) w.field(k, v, p || !isXmlSafe(v));
  const taken = new Set<string>(STANDARD);
  const names: Record<string, string> = {};
  const unprotected: string[] = [];
  for (const f of e.customFields) {
    const key = uniqueKey(f.name, taken);
    if (key !== f.name) names[key] = f.name;
    const safe = isXmlSafe(f.value);
    if (!f.protected && !safe) unprotected.push(key);
    w.field(key, f.value, f.protected || !safe);
  }
  if (Object.keys(names).length > 0) extra.names = names;
  if (unprotected.length > 0) extra.unprotected = unprotected;

  if (e.attachments.length > 0) {
    const takenFiles = new Set<string>();
    extra.attachments = [];
    for (const a of e.attachments) {
      const bytes = files.get(a)!;
      const key = uniqueKey(a.fileName, takenFiles);
      extra.attachments.push(
        key === a.fileName ? { id: a.id } : { id: a.id, fileName: a.fileName },
      );
      w.parts.push(
        `<Binary><Key>${escapeXml(key)}</Key><Value Ref="${w.binaries.length}"/></Binary>`,
      );
      w.binaries.push(bytes);
    }
  }
  w.customData([
    [P + 'id', e.id],
    [P + 'entry', JSON.stringify(extra)],
  ]);
  w.parts.push('</Entry>');
}

type Folder = OfflinePackage['folders'][number];

/** The package checked and indexed, before any key derivation starts. */
interface Plan {
  pkg: OfflinePackage;
  root: Folder | undefined;
  children: Map<string | null, Folder[]>;
  entriesOf: Map<string, [OfflineEntry, number][]>;
  order: Map<string, number>;
  /** Decoded attachment bytes. */
  files: Map<OfflineEntry['attachments'][number], Uint8Array>;
}

function planPackage(pkg: OfflinePackage): Plan {
  const children = new Map<string | null, Folder[]>();
  const order = new Map<string, number>();
  for (const [i, f] of pkg.folders.entries()) {
    if (order.has(f.id)) throw inconsistent('a folder appears twice');
    order.set(f.id, i);
    const list = children.get(f.parentId) ?? [];
    list.push(f);
    children.set(f.parentId, list);
  }
  const entriesOf = new Map<string, [OfflineEntry, number][]>();
  const files = new Map<OfflineEntry['attachments'][number], Uint8Array>();
  for (const [i, e] of pkg.entries.entries()) {
    if (!order.has(e.folderId)) throw inconsistent('an entry refers to a folder it lacks');
    const list = entriesOf.get(e.folderId) ?? [];
    list.push([e, i]);
    entriesOf.set(e.folderId, list);
    for (const a of e.attachments) {
      const bytes = fromBase64(a.dataBase64);
      if (!bytes) throw inconsistent('an attachment is not valid base64');
      files.set(a, bytes);
    }
  }
  const roots = children.get(null) ?? [];
  if (roots.length > 1 || (roots.length === 0 && pkg.folders.length > 0)) {
    throw inconsistent('it does not have exactly one root folder');
  }
  let reached = 0;
  const stack = [...roots];
  while (stack.length > 0) {
    const f = stack.pop()!;
    reached++;
    stack.push(...(children.get(f.id) ?? []));
  }
  if (reached !== pkg.folders.length) throw inconsistent('a folder is not under the root');
  return { pkg, root: roots[0], children, entriesOf, order, files };
}

function buildXml(
  plan: Plan,
  serverUrl: string,
  stream: ChaCha20,
  random: (n: number) => Uint8Array,
): { xml: string; binaries: Uint8Array[] } {
  const { pkg, children, entriesOf, order, files } = plan;
  const w = new XmlWriter(stream);
  const used = new Set<string>();

  w.parts.push('<?xml version="1.0" encoding="utf-8" standalone="yes"?><KeePassFile><Meta>');
  w.el('Generator', 'Strongroom');
  w.el('DatabaseName', `Strongroom offline cache (${pkg.loginName})`);
  w.el('DatabaseNameChanged', kdbxTime(pkg.createdAt));
  w.parts.push(
    '<MemoryProtection><ProtectTitle>False</ProtectTitle><ProtectUserName>False</ProtectUserName>' +
      '<ProtectPassword>True</ProtectPassword><ProtectURL>False</ProtectURL>' +
      '<ProtectNotes>False</ProtectNotes></MemoryProtection>' +
      '<RecycleBinEnabled>False</RecycleBinEnabled><HistoryMaxItems>0</HistoryMaxItems>',
  );
  w.customData(metaItems(pkg, serverUrl));
  w.parts.push('</Meta><Root>');

  const writeGroup = (f: Folder, path: string) => {
    w.parts.push(`<Group><UUID>${kdbxUuid(f.id, used, random)}</UUID>`);
    w.el('Name', f.name);
    w.parts.push('<IconID>48</IconID>');
    w.times(pkg.createdAt, pkg.createdAt, null);
    w.parts.push('<IsExpanded>True</IsExpanded>');
    const items: [string, string][] = [
      [P + 'id', f.id],
      [P + 'n', String(order.get(f.id))],
    ];
    if (f.path !== path) items.push([P + 'path', f.path]);
    w.customData(items);
    for (const [e, n] of entriesOf.get(f.id) ?? []) {
      writeEntry(w, e, n, f.path, files, used, random);
    }
    for (const c of children.get(f.id) ?? []) writeGroup(c, `${f.path}/${c.name}`);
    w.parts.push('</Group>');
  };
  if (plan.root) writeGroup(plan.root, plan.root.name);
  else {
    w.parts.push(`<Group><UUID>${toBase64(random(16))}</UUID><Name>Root</Name></Group>`);
  }
  w.parts.push('<DeletedObjects/></Root></KeePassFile>');
  return { xml: w.parts.join(''), binaries: w.binaries };
}

const inconsistent = (why: string) =>
  new OfflineCacheError('cache_unsupported', `The offline package is inconsistent: ${why}.`);

/** Turns an offline package into the bytes of a cache file. */
export async function buildCache(
  env: OfflineEnv,
  pkg: OfflinePackage,
  o: BuildCacheOptions,
): Promise<Uint8Array> {
  if (pkg.format !== OFFLINE_PACKAGE_FORMAT) {
    throw new OfflineCacheError(
      'cache_unsupported',
      `The server sent an offline package of format ${pkg.format}, which this client does not know; update the client.`,
    );
  }
  assertKdf(o.kdf);
  assertMachineKey(o.machineKey);
  const plan = planPackage(pkg);
  const crypto = cryptoOf(env);
  const publicCustomData: VariantDictionary = new Map<string, VdValue>([
    [P + 'cacheId', { type: 'string', value: pkg.cacheId }],
    [P + 'machineCheck', { type: 'string', value: machineCheckOf(o.machineKey, pkg.cacheId) }],
    [P + 'createdAt', { type: 'string', value: pkg.createdAt }],
  ]);
  if (pkg.expiresAt !== null) {
    publicCustomData.set(P + 'expiresAt', { type: 'string', value: pkg.expiresAt });
  }
  if (pkg.maxOfflineUntil !== null) {
    publicCustomData.set(P + 'maxOfflineUntil', { type: 'string', value: pkg.maxOfflineUntil });
  }
  const composite = await compositeKey(crypto, utf8(o.cachePassword), o.machineKey);
  o.onProgress?.('derive', false);
  const bytes = await writeKdbx({
    crypto,
    argon2id: env.argon2id,
    compositeKey: composite,
    kdf: o.kdf,
    random: (n) => env.randomBytes(n),
    publicCustomData,
    content: async (): Promise<InnerContent> => {
      const streamKey = env.randomBytes(64);
      const stream = await innerStream(crypto, streamKey);
      const { xml, binaries } = buildXml(plan, o.serverUrl, stream, (n) => env.randomBytes(n));
      return { streamKey, binaries, xml: utf8(xml) };
    },
    onDerived: () => {
      o.onProgress?.('derive', true);
      o.onProgress?.('encrypt', false);
    },
  });
  o.onProgress?.('encrypt', true);
  return bytes;
}

// ---------------------------------------------------------------- reading

const dec = new TextDecoder('utf-8', { fatal: true });

function customDataOf(el: XmlElement | undefined): Map<string, string> {
  const m = new Map<string, string>();
  const cd = el && child(el, 'CustomData');
  if (!cd) return m;
  for (const item of cd.children) {
    if (item.name !== 'Item') continue;
    const k = child(item, 'Key');
    const v = child(item, 'Value');
    if (k && v) m.set(k.text, v.text);
  }
  return m;
}

/** Replaces every protected value by its plain text, in document order (the stream's order). */
function unprotect(root: XmlElement, stream: ChaCha20): void {
  const walk = (el: XmlElement) => {
    if (el.name === 'Value' && el.attrs?.['Protected'] === 'True') {
      const b = fromBase64(el.text.trim());
      if (!b) throw new KdbxFormatError('protected value');
      el.text = dec.decode(stream.xorInPlace(b));
    }
    for (const c of el.children) walk(c);
  };
  walk(root);
}

function readMeta(meta: Map<string, string>): CacheMeta {
  const format = meta.get(P + 'format');
  if (format === undefined) throw new OfflineCacheError('cache_unsupported');
  if (format !== String(CACHE_FORMAT)) {
    throw new OfflineCacheError(
      'cache_unsupported',
      `This offline cache has format ${format}, which this client does not know; update the client.`,
    );
  }
  const need = (k: string): string => {
    const v = meta.get(P + k);
    if (v === undefined) throw new KdbxFormatError(`meta ${k}`);
    return v;
  };
  return {
    format: 1,
    serverUrl: need('serverUrl'),
    serverId: need('serverId'),
    loginName: need('loginName'),
    userId: need('userId'),
    displayName: need('displayName'),
    cacheId: need('cacheId'),
    createdAt: need('createdAt'),
    expiresAt: meta.get(P + 'expiresAt') ?? null,
    maxOfflineUntil: meta.get(P + 'maxOfflineUntil') ?? null,
    revision: need('revision'),
    clientSettings: JSON.parse(need('clientSettings')) as CacheMeta['clientSettings'],
    passwordRequirements: JSON.parse(
      need('passwordRequirements'),
    ) as CacheMeta['passwordRequirements'],
  };
}

function readEntry(
  el: XmlElement,
  folder: CachedFolder,
  binaries: Uint8Array[],
): { entry: CachedEntry; n: number } | null {
  const cd = customDataOf(el);
  const id = cd.get(P + 'id');
  if (id === undefined) return null;
  const extra = JSON.parse(cd.get(P + 'entry') ?? 'null') as EntryExtra | null;
  const std = new Map<string, string>();
  const customFields: CachedEntry['customFields'] = [];
  const files: { key: string; bytes: Uint8Array }[] = [];
  let tagsText = '';
  let expires = false;
  let expiryTime: string | null = null;
  let created: string | null = null;
  let modified: string | null = null;
  for (const c of el.children) {
    if (c.name === 'String') {
      const key = child(c, 'Key')?.text ?? '';
      const value = child(c, 'Value');
      const text = value?.text ?? '';
      if ((STANDARD as readonly string[]).includes(key)) std.set(key, text);
      else {
        const isProtected =
          value?.attrs?.['Protected'] === 'True' && !(extra?.unprotected ?? []).includes(key);
        customFields.push({
          name: extra?.names?.[key] ?? key,
          value: text,
          protected: isProtected,
        });
      }
    } else if (c.name === 'Binary') {
      const key = child(c, 'Key')?.text ?? '';
      const ref = child(c, 'Value')?.attrs?.['Ref'];
      const bytes = ref !== undefined && /^\d+$/.test(ref) ? binaries[Number(ref)] : undefined;
      if (!bytes) throw new KdbxFormatError('binary reference');
      files.push({ key, bytes });
    } else if (c.name === 'Tags') tagsText = c.text;
    else if (c.name === 'Times') {
      for (const t of c.children) {
        if (t.name === 'Expires') expires = t.text.trim() === 'True';
        else if (t.name === 'ExpiryTime') expiryTime = isoOfKdbxTime(t.text);
        else if (t.name === 'CreationTime') created = isoOfKdbxTime(t.text);
        else if (t.name === 'LastModificationTime') modified = isoOfKdbxTime(t.text);
      }
    }
  }
  const name = std.get('Title') ?? '';
  const ids = extra?.attachments ?? [];
  const attachments = files.map((f, i) => ({
    id: ids[i]?.id ?? '',
    fileName: ids[i]?.fileName ?? f.key,
    size: f.bytes.length,
    dataBase64: toBase64(f.bytes),
  }));
  const tags =
    extra?.tags ??
    tagsText
      .split(/[;,]/)
      .map((t) => t.trim())
      .filter((t) => t !== '');
  const entry: CachedEntry = {
    id,
    folderId: folder.id,
    path: extra?.path ?? `${folder.path}/${name}`,
    name,
    username: std.get('UserName') ?? '',
    password: std.get('Password') ?? '',
    url: std.get('URL') ?? '',
    notes: std.get('Notes') ?? '',
    tags,
    customFields,
    attachments,
    clientMeta: extra?.clientMeta ?? {},
    expiresAt: extra ? (extra.expiresAt ?? null) : expires ? expiryTime : null,
    createdAt: extra?.createdAt ?? created ?? '',
    modifiedAt: extra?.modifiedAt ?? modified ?? '',
  };
  return { entry, n: extra?.n ?? Number.MAX_SAFE_INTEGER };
}

function readDocument(
  xmlRoot: XmlElement,
  binaries: Uint8Array[],
): { metaItems: Map<string, string>; folders: CachedFolder[]; entries: CachedEntry[] } {
  if (xmlRoot.name !== 'KeePassFile') throw new KdbxFormatError('not a KeePass document');
  const meta = child(xmlRoot, 'Meta');
  const root = child(xmlRoot, 'Root');
  const top = root && child(root, 'Group');
  if (!meta || !top) throw new KdbxFormatError('document without Meta or Root');
  const folders: { folder: CachedFolder; n: number }[] = [];
  const entries: { entry: CachedEntry; n: number }[] = [];
  const walk = (g: XmlElement, parent: CachedFolder | null) => {
    const cd = customDataOf(g);
    const id = cd.get(P + 'id');
    if (id === undefined) return; // a group this library did not write
    const name = child(g, 'Name')?.text ?? '';
    const folder: CachedFolder = {
      id,
      parentId: parent?.id ?? null,
      name,
      path: cd.get(P + 'path') ?? (parent ? `${parent.path}/${name}` : name),
    };
    const n = Number(cd.get(P + 'n') ?? Number.MAX_SAFE_INTEGER);
    folders.push({ folder, n });
    for (const c of g.children) {
      if (c.name === 'Entry') {
        const e = readEntry(c, folder, binaries);
        if (e) entries.push(e);
      }
    }
    for (const c of g.children) if (c.name === 'Group') walk(c, folder);
  };
  walk(top, null);
  // Back to the package's order (a stable sort keeps the file's order for unnumbered items).
  folders.sort((a, b) => a.n - b.n);
  entries.sort((a, b) => a.n - b.n);
  return {
    metaItems: customDataOf(meta),
    folders: folders.map((f) => f.folder),
    entries: entries.map((e) => e.entry),
  };
}

/**
 * Opens a cache: machine check first (no Argon2 for a cache from another machine), then the
 * password, then the payload. Throws OfflineCacheError; an expired cache is `cache_expired`.
 */
export async function openCache(
  env: OfflineEnv,
  bytes: Uint8Array,
  o: OpenCacheOptions,
): Promise<OpenedCache> {
  assertMachineKey(o.machineKey);
  const crypto = cryptoOf(env);
  const parsed = parseHeader(bytes);
  try {
    // A damaged header is `cache_corrupt` before anything else is believed from it.
    await verifyHeaderHash(crypto, bytes, parsed);
  } catch (e) {
    throw mapError(e);
  }
  const header = headerOf(parsed);
  if (!machineMatches(bytes, o.machineKey)) throw new OfflineCacheError('cache_wrong_machine');
  let inner: InnerContent;
  try {
    inner = await readKdbx(bytes, parsed, {
      crypto,
      transform: async (a) => {
        if (a.argon2d || kdfProblem(a) !== null || a.salt.length < 16) {
          throw new KdbxUnsupportedError('KDF parameters');
        }
        const composite = await compositeKey(crypto, utf8(o.cachePassword), o.machineKey);
        o.onProgress?.('derive', false);
        const t = await env
          .argon2id(composite, a.salt, {
            memoryKiB: a.memoryKiB,
            iterations: a.iterations,
            parallelism: a.parallelism,
            length: 32,
          })
          .catch((err: unknown) => {
            throw new HostError(err);
          });
        o.onProgress?.('derive', true);
        return t;
      },
      onDecrypt: (done) => o.onProgress?.('decrypt', done),
    });
  } catch (e) {
    throw mapError(e);
  }
  o.onProgress?.('parse', false);
  let opened: OpenedCache;
  try {
    const stream = await innerStream(crypto, inner.streamKey);
    const doc = parseXml(dec.decode(inner.xml));
    unprotect(doc, stream);
    const { metaItems: items, folders, entries } = readDocument(doc, inner.binaries);
    const meta = readMeta(items);
    if (meta.cacheId !== header.cacheId) throw new KdbxFormatError('cache id mismatch');
    opened = { meta, folders, entries };
  } catch (e) {
    throw mapError(e);
  }
  o.onProgress?.('parse', true);
  const expired = expiryOf(opened.meta, env.now());
  if (expired) {
    throw new OfflineCacheError(
      'cache_expired',
      expired.reason === 'expired'
        ? `The offline cache expired at ${expired.at} and can no longer be opened.`
        : `The maximum time offline ended at ${expired.at}; the offline cache can no longer be opened.`,
      expired,
    );
  }
  return opened;
}
