/**
 * The offline cache: an offline package (offline-mode §4) turned into a KDBX 4 file that only
 * the cache password plus this machine's key file open (offline-mode §3), and back.
 *
 * Layout (decision 43):
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
// Run-time imports from the schema-free entry only: the full one loads the schema library (slow).
import { OFFLINE_PACKAGE_FORMAT } from '@strongroom/protocol/lite';
import type { OfflineEntry, OfflinePackage } from '@strongroom/protocol';
import {
  TruncatedError,
  equalBytes,
  fromBase64,
  fromHex,
  fromUtf8,
  toBase64,
  toHex,
  utf8,
} from './bytes.js';
import { compressionOf, cryptoOf, type KdfParams, type OfflineEnv } from './env.js';
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
  type WriteContent,
  type ParsedHeader,
  type Stream,
  type VariantDictionary,
  type VdValue,
} from './kdbx.js';
import { hmacSha256 } from './sha256.js';
import {
  XmlError,
  decodeText,
  escapeXml,
  isXmlSafe,
  parseAttributes,
  scanXml,
  type XmlHandler,
} from './xml.js';

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

export type ProgressStep = 'derive' | 'encrypt' | 'decrypt' | 'parse';
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
  return toHex(machineCheckBytes(machineKey, cacheId));
}

function machineCheckBytes(machineKey: Uint8Array, cacheId: string): Uint8Array {
  assertMachineKey(machineKey);
  return hmacSha256(machineKey, utf8(MACHINE_CHECK_LABEL + cacheId));
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

/** The parsed header, its SHA-256 verified: a damaged header is `cache_corrupt` (decision 44). */
function parseVerifiedHeader(bytes: Uint8Array): ParsedHeader {
  const parsed = parseHeader(bytes);
  try {
    verifyHeaderHash(bytes, parsed);
  } catch (e) {
    throw mapError(e);
  }
  return parsed;
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

/**
 * Whether the cache was made with this machine key (no Argon2, no password). Verifies the
 * header's SHA-256 first: a damaged header throws `cache_corrupt`, it is not "another machine".
 */
export function machineMatches(bytes: Uint8Array, machineKey: Uint8Array): boolean {
  assertMachineKey(machineKey);
  return machineCheckPasses(headerOf(parseVerifiedHeader(bytes)), machineKey);
}

function machineCheckPasses(h: CacheHeader, machineKey: Uint8Array): boolean {
  const stored = fromHex(h.machineCheck);
  return stored !== null && equalBytes(stored, machineCheckBytes(machineKey, h.cacheId));
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

// ---------------------------------------------------------------- writing

const STANDARD = ['Title', 'UserName', 'Password', 'URL', 'Notes'] as const;

/**
 * What an entry keeps in `strongroom.entry` (its presence marks an entry as ours): exact times,
 * its position, and whatever KDBX cannot carry as it is.
 */
interface EntryExtra {
  /** Position in the package's list (groups hold their entries together; the package may not). */
  n: number;
  id: string;
  /** The package's times, exactly (KDBX times have whole seconds). */
  created: string;
  modified: string;
  expires?: string;
  clientMeta?: Record<string, unknown>;
  /** Set when `Tags` cannot carry the list as it is: several tags (order), separators, blanks. */
  tags?: string[];
  /** KDBX key → custom field name, where the name could not be the key. */
  names?: Record<string, string>;
  /** Custom fields written protected only because XML cannot carry their characters. */
  unprotected?: string[];
  /** KDBX keys of the custom fields in the package's order (KeePassXC sorts them on saving). */
  fields?: string[];
  /** Attachments in order: id, the binary's KDBX key, and the file name where it differs. */
  attachments?: { id: string; key: string; fileName?: string }[];
  /** Set when the package's path is not folder path + '/' + name. */
  path?: string;
}

/** The KDBX UUID (base64) for a server id: its own bytes when it is a GUID, else random. */
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

/** Writes the document as UTF-8 chunks of about 64 KiB (no single string of the whole). */
class XmlWriter {
  readonly chunks: Uint8Array[] = [];
  readonly binaries: Uint8Array[] = [];
  #text = '';
  constructor(private readonly stream: Stream) {}

  add(s: string): void {
    this.#text += s;
    if (this.#text.length >= 65536) this.flush();
  }
  flush(): Uint8Array[] {
    if (this.#text !== '') this.chunks.push(utf8(this.#text));
    this.#text = '';
    return this.chunks;
  }

  el(name: string, text: string): void {
    this.add(`<${name}>${escapeXml(text)}</${name}>`);
  }
  /** A `String` field; protected values go through the inner stream, in document order. */
  field(key: string, value: string, protect: boolean): void {
    const v = protect
      ? `<Value Protected="True">${toBase64(this.stream.xorInPlace(utf8(value)))}</Value>`
      : `<Value>${escapeXml(value)}</Value>`;
    this.add(`<String><Key>${escapeXml(key)}</Key>${v}</String>`);
  }
  customData(items: [string, string][]): void {
    if (items.length === 0) return;
    this.add('<CustomData>');
    for (const [k, v] of items) {
      this.add(`<Item><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Item>`);
    }
    this.add('</CustomData>');
  }
  times(created: string, modified: string, expires: string | null): void {
    this.add(
      `<Times><CreationTime>${kdbxTime(created)}</CreationTime>` +
        `<LastModificationTime>${kdbxTime(modified)}</LastModificationTime>` +
        (expires ? `<ExpiryTime>${kdbxTime(expires)}</ExpiryTime><Expires>True</Expires>` : '') +
        '</Times>',
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
  const extra: EntryExtra = { n, id: e.id, created: e.createdAt, modified: e.modifiedAt };
  if (e.expiresAt !== null) extra.expires = e.expiresAt;
  if (Object.keys(e.clientMeta).length > 0) extra.clientMeta = e.clientMeta;
  if (e.path !== `${folderPath}/${e.name}`) extra.path = e.path;
  // KDBX tags are a set (KeePassXC sorts them when it saves): the list keeps its order here.
  const tagsFit =
    e.tags.length < 2 && e.tags.every((t) => t !== '' && t.trim() === t && !/[;,]/.test(t));
  if (!tagsFit) extra.tags = e.tags;

  w.add(`<Entry><UUID>${kdbxUuid(e.id, used, random)}</UUID>`);
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
  if (e.customFields.length > 1) extra.fields = [...taken].slice(STANDARD.length);

  if (e.attachments.length > 0) {
    const takenFiles = new Set<string>();
    extra.attachments = [];
    for (const a of e.attachments) {
      const bytes = files.get(a)!;
      const key = uniqueKey(a.fileName, takenFiles);
      extra.attachments.push(
        key === a.fileName ? { id: a.id, key } : { id: a.id, key, fileName: a.fileName },
      );
      w.add(`<Binary><Key>${escapeXml(key)}</Key><Value Ref="${w.binaries.length}"/></Binary>`);
      w.binaries.push(bytes);
    }
  }
  w.customData([[P + 'entry', JSON.stringify(extra)]]);
  w.add('</Entry>');
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
  stream: Stream,
  random: (n: number) => Uint8Array,
): { xml: Uint8Array[]; binaries: Uint8Array[] } {
  const { pkg, children, entriesOf, order, files } = plan;
  const w = new XmlWriter(stream);
  const used = new Set<string>();

  w.add('<?xml version="1.0" encoding="utf-8" standalone="yes"?><KeePassFile><Meta>');
  w.el('Generator', 'Strongroom');
  w.el('DatabaseName', `Strongroom offline cache (${pkg.loginName})`);
  w.el('DatabaseNameChanged', kdbxTime(pkg.createdAt));
  w.add(
    '<MemoryProtection><ProtectTitle>False</ProtectTitle><ProtectUserName>False</ProtectUserName>' +
      '<ProtectPassword>True</ProtectPassword><ProtectURL>False</ProtectURL>' +
      '<ProtectNotes>False</ProtectNotes></MemoryProtection>' +
      '<RecycleBinEnabled>False</RecycleBinEnabled><HistoryMaxItems>0</HistoryMaxItems>',
  );
  w.customData(metaItems(pkg, serverUrl));
  w.add('</Meta><Root>');

  const writeGroup = (f: Folder, path: string) => {
    w.add(`<Group><UUID>${kdbxUuid(f.id, used, random)}</UUID>`);
    w.el('Name', f.name);
    w.add('<IconID>48</IconID>');
    w.times(pkg.createdAt, pkg.createdAt, null);
    w.add('<IsExpanded>True</IsExpanded>');
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
    w.add('</Group>');
  };
  if (plan.root) writeGroup(plan.root, plan.root.name);
  else {
    w.add(`<Group><UUID>${toBase64(random(16))}</UUID><Name>Root</Name></Group>`);
  }
  w.add('<DeletedObjects/></Root></KeePassFile>');
  return { xml: w.flush(), binaries: w.binaries };
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
    compression: compressionOf(env),
    argon2id: env.argon2id,
    compositeKey: composite,
    kdf: o.kdf,
    random: (n) => env.randomBytes(n),
    publicCustomData,
    content: async (): Promise<WriteContent> => {
      const streamKey = env.randomBytes(64);
      const stream = await innerStream(crypto, streamKey);
      const { xml, binaries } = buildXml(plan, o.serverUrl, stream, (n) => env.randomBytes(n));
      return { streamKey, binaries, xml };
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

/** UTF-8 to text; short ASCII values (most passwords) without a TextDecoder call. */
function decodeUtf8(b: Uint8Array): string {
  if (b.length > 256) return fromUtf8(b);
  let ascii = true;
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) ascii = false;
  return ascii ? String.fromCharCode.apply(null, b as unknown as number[]) : fromUtf8(b);
}

interface GroupCtx {
  n: number;
  name: string;
  data: Map<string, string>;
  parent: GroupCtx | null;
  folder?: CachedFolder | null;
}

interface EntryCtx {
  group: GroupCtx;
  /** The `strongroom.entry` custom data item (absent: not an entry this library wrote). */
  extra: string | undefined;
  strings: { key: string; value: string; protected: boolean }[];
  files: { key: string; ref: string }[];
  tags: string;
}

/**
 * Reads a KDBX XML document in one pass (decision 42): keeps the Meta custom data, the groups
 * and the entries written by this library, and decrypts every protected value in document
 * order, those of entries it skips (history) included, as the inner stream requires.
 */
class DocumentReader implements XmlHandler {
  readonly meta = new Map<string, string>();
  readonly groups: GroupCtx[] = [];
  readonly entries: EntryCtx[] = [];
  #names: string[] = [];
  #group: GroupCtx | null = null;
  #entry: EntryCtx | null = null;
  #historyDepth = 0;
  #capturing = false;
  #raw = '';
  #protected = false;
  #ref: string | null = null;
  #key = '';
  #itemKey = '';
  #itemValue = '';
  #value = '';
  #valueProtected = false;
  #sawRoot = false;

  constructor(private readonly stream: Stream) {}

  open(name: string, attrs: string | null): void {
    const names = this.#names;
    const parent = names[names.length - 1];
    names.push(name);
    this.#protected = false;
    if (name === 'Value') this.#ref = null;
    if (attrs !== null) {
      const a = parseAttributes(attrs);
      if (name === 'Value') {
        this.#protected = a['Protected'] === 'True';
        this.#ref = a['Ref'] ?? null;
      }
    }
    if (names.length === 1 && name !== 'KeePassFile') {
      throw new KdbxFormatError('not a KeePass document');
    }
    if (name === 'History' && parent === 'Entry') this.#historyDepth++;
    const live = this.#historyDepth === 0;
    if (name === 'Group' && live && (parent === 'Root' || parent === 'Group')) {
      if (parent === 'Root') {
        if (this.#sawRoot) throw new KdbxFormatError('two root groups');
        this.#sawRoot = true;
      }
      const g: GroupCtx = {
        n: Number.MAX_SAFE_INTEGER,
        name: '',
        data: new Map(),
        parent: this.#group,
      };
      this.groups.push(g);
      this.#group = g;
    } else if (name === 'Entry' && live && parent === 'Group' && this.#group) {
      this.#entry = {
        group: this.#group,
        extra: undefined,
        strings: [],
        files: [],
        tags: '',
      };
    } else if (name === 'String' || name === 'Binary') {
      this.#key = '';
      this.#value = '';
      this.#valueProtected = false;
    }
    // Capture the text of leaves: cheap to keep, and every protected value must be decrypted.
    this.#capturing = true;
    this.#raw = '';
  }

  text(src: string, start: number, end: number): void {
    if (this.#capturing) this.#raw += src.slice(start, end);
  }

  cdata(text: string): void {
    if (this.#capturing) this.#raw += text;
  }

  close(name: string): void {
    const names = this.#names;
    names.pop();
    const parent = names[names.length - 1];
    const grand = names[names.length - 2];
    const captured = this.#capturing;
    this.#capturing = false;
    let text = captured ? this.#raw : '';
    this.#raw = '';
    if (name === 'Value' && this.#protected) {
      const b = fromBase64(text.trim());
      if (!b) throw new KdbxFormatError('protected value');
      text = decodeUtf8(this.stream.xorInPlace(b));
      this.#valueProtected = true;
      this.#protected = false;
    } else if (captured && text.length > 0) {
      text = decodeText(text);
    }
    if (name === 'History' && parent === 'Entry') {
      this.#historyDepth--;
      return;
    }
    if (this.#historyDepth > 0) return;
    const entry = this.#entry;
    const group = this.#group;
    switch (name) {
      case 'Key':
        if (parent === 'Item') this.#itemKey = text;
        else this.#key = text;
        return;
      case 'Value':
        if (parent === 'Item') this.#itemValue = text;
        else {
          this.#value = text;
          if (parent === 'Binary' && entry)
            entry.files.push({ key: this.#key, ref: this.#ref ?? '' });
        }
        return;
      case 'Item': {
        if (grand === 'Entry') {
          if (entry && this.#itemKey === P + 'entry') entry.extra = this.#itemValue;
        } else {
          const owner = grand === 'Group' ? group?.data : grand === 'Meta' ? this.meta : undefined;
          owner?.set(this.#itemKey, this.#itemValue);
        }
        this.#itemKey = '';
        this.#itemValue = '';
        return;
      }
      case 'String':
        if (parent === 'Entry' && entry) {
          entry.strings.push({
            key: this.#key,
            value: this.#value,
            protected: this.#valueProtected,
          });
        }
        return;
      case 'Name':
        if (parent === 'Group' && group) group.name = text;
        return;
      case 'Tags':
        if (parent === 'Entry' && entry) entry.tags = text;
        return;
      case 'Entry':
        if (parent === 'Group' && entry) {
          this.entries.push(entry);
          this.#entry = null;
        }
        return;
      case 'Group':
        if ((parent === 'Root' || parent === 'Group') && group) this.#group = group.parent;
        return;
    }
  }
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

/** The folder of a group this library wrote (null for any other group, and below it). */
function folderOf(g: GroupCtx): CachedFolder | null {
  if (g.folder !== undefined) return g.folder;
  const id = g.data.get(P + 'id');
  const parent = g.parent ? folderOf(g.parent) : null;
  if (id === undefined || (g.parent && !parent)) {
    g.folder = null;
    return null;
  }
  g.n = Number(g.data.get(P + 'n') ?? Number.MAX_SAFE_INTEGER);
  g.folder = {
    id,
    parentId: parent?.id ?? null,
    name: g.name,
    path: g.data.get(P + 'path') ?? (parent ? `${parent.path}/${g.name}` : g.name),
  };
  return g.folder;
}

const isStandard = (key: string) =>
  key === 'Title' || key === 'UserName' || key === 'Password' || key === 'URL' || key === 'Notes';

/**
 * An attachment whose base64 text is made on first read: listing a cache does not pay for
 * encoding every attachment. Enumerable, so it compares and serialises like a plain value.
 */
function lazyAttachment(id: string, fileName: string, bytes: Uint8Array): CachedAttachment {
  let text: string | undefined;
  const a = { id, fileName, size: bytes.length } as CachedAttachment;
  Object.defineProperty(a, 'dataBase64', {
    enumerable: true,
    get: () => (text ??= toBase64(bytes)),
  });
  return a;
}

type CachedAttachment = CachedEntry['attachments'][number];

function entryOf(e: EntryCtx, binaries: Uint8Array[]): { entry: CachedEntry; n: number } | null {
  const json = e.extra;
  if (json === undefined) return null; // an entry this library did not write
  const folder = folderOf(e.group);
  if (!folder) return null;
  const extra = JSON.parse(json) as EntryExtra;
  const std = new Map<string, string>();
  let customFields: (CachedEntry['customFields'][number] & { key: string })[] = [];
  for (const s of e.strings) {
    if (isStandard(s.key)) std.set(s.key, s.value);
    else {
      customFields.push({
        key: s.key,
        name: extra.names?.[s.key] ?? s.key,
        value: s.value,
        protected: s.protected && !(extra.unprotected ?? []).includes(s.key),
      });
    }
  }
  if (extra.fields) {
    const rank = new Map(extra.fields.map((k, i) => [k, i]));
    const at = (k: string) => rank.get(k) ?? Number.MAX_SAFE_INTEGER;
    customFields = customFields.sort((a, b) => at(a.key) - at(b.key));
  }
  const byKey = new Map<string, Uint8Array>();
  for (const f of e.files) {
    const bytes = /^\d+$/.test(f.ref) ? binaries[Number(f.ref)] : undefined;
    if (!bytes) throw new KdbxFormatError('binary reference');
    byKey.set(f.key, bytes);
  }
  const attachments = (extra.attachments ?? []).map((a) => {
    const bytes = byKey.get(a.key);
    if (!bytes) throw new KdbxFormatError('attachment missing');
    return lazyAttachment(a.id, a.fileName ?? a.key, bytes);
  });
  if (typeof extra.id !== 'string' || typeof extra.created !== 'string') {
    throw new KdbxFormatError('entry data');
  }
  const id = extra.id;
  const name = std.get('Title') ?? '';
  const entry: CachedEntry = {
    id,
    folderId: folder.id,
    path: extra.path ?? `${folder.path}/${name}`,
    name,
    username: std.get('UserName') ?? '',
    password: std.get('Password') ?? '',
    url: std.get('URL') ?? '',
    notes: std.get('Notes') ?? '',
    tags:
      extra.tags ??
      (e.tags === ''
        ? []
        : e.tags
            .split(/[;,]/)
            .map((t) => t.trim())
            .filter((t) => t !== '')),
    customFields: customFields.map(({ name, value, protected: p }) => ({
      name,
      value,
      protected: p,
    })),
    attachments,
    clientMeta: extra.clientMeta ?? {},
    expiresAt: extra.expires ?? null,
    createdAt: extra.created,
    modifiedAt: extra.modified,
  };
  return { entry, n: typeof extra.n === 'number' ? extra.n : Number.MAX_SAFE_INTEGER };
}

/**
 * Back to the package's order: each item carries its position. Placed directly when the
 * positions are exactly 0..n-1 (always, for a file this library wrote); otherwise a stable sort.
 */
function inPackageOrder<T>(items: { item: T; n: number }[]): T[] {
  const out = new Array<T>(items.length);
  let direct = true;
  const seen = new Uint8Array(items.length);
  for (const { n } of items) {
    if (!Number.isInteger(n) || n < 0 || n >= items.length || seen[n]) {
      direct = false;
      break;
    }
    seen[n] = 1;
  }
  if (direct) {
    for (const { item, n } of items) out[n] = item;
    return out;
  }
  return [...items].sort((a, b) => a.n - b.n).map((x) => x.item);
}

function readDocument(
  xml: string,
  stream: Stream,
  binaries: Uint8Array[],
): { meta: Map<string, string>; folders: CachedFolder[]; entries: CachedEntry[] } {
  const r = new DocumentReader(stream);
  scanXml(xml, r);
  if (r.groups.length === 0) throw new KdbxFormatError('document without a root group');
  const folders = r.groups.filter((g) => folderOf(g) !== null);
  const entries: { entry: CachedEntry; n: number }[] = [];
  for (const e of r.entries) {
    const x = entryOf(e, binaries);
    if (x) entries.push(x);
  }
  return {
    meta: r.meta,
    folders: inPackageOrder(folders.map((g) => ({ item: g.folder!, n: g.n }))),
    entries: inPackageOrder(entries.map((e) => ({ item: e.entry, n: e.n }))),
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
  // A damaged header is `cache_corrupt` before anything else is believed from it.
  const parsed = parseVerifiedHeader(bytes);
  const header = headerOf(parsed);
  if (!machineCheckPasses(header, o.machineKey)) {
    throw new OfflineCacheError('cache_wrong_machine');
  }
  let inner: InnerContent;
  try {
    inner = await readKdbx(bytes, parsed, {
      crypto,
      compression: compressionOf(env),
      transform: async (a) => {
        if (a.argon2d || kdfProblem(a) !== null || a.salt.length < 16) {
          throw new KdbxUnsupportedError('KDF parameters');
        }
        const composite = await compositeKey(crypto, utf8(o.cachePassword), o.machineKey);
        o.onProgress?.('derive', false);
        const pending = env
          .argon2id(composite, a.salt, {
            memoryKiB: a.memoryKiB,
            iterations: a.iterations,
            parallelism: a.parallelism,
            length: 32,
          })
          .catch((err: unknown) => {
            throw new HostError(err);
          });
        const t = await pending;
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
    const doc = readDocument(fromUtf8(inner.xml), stream, inner.binaries);
    const meta = readMeta(doc.meta);
    const { folders, entries } = doc;
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
