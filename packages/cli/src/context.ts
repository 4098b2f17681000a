import type { OfflinePackage } from '@strongroom/protocol';
import { Api, type TransportOptions } from './http.js';
import type { Io } from './io.js';
import { clientPaths, type ClientPaths } from './paths.js';
import type { Secrets } from './secrets.js';
import { StateStore, type CacheInfo } from './state.js';
import type { VaultSource } from './vault.js';

/** What the offline side offers the commands (implemented in `offline/access.ts`). */
export interface OfflineAccess {
  /** Public facts about the current cache; null when there is none. */
  info(): Promise<CacheInfo | null>;
  /**
   * Opens the current cache: machine binding first, then the cache password (asked, or given),
   * then the owner (login name exactly as typed when it was made) and expiry. An expired cache is
   * deleted. Throws a `CliError` with a cache code.
   */
  open(
    secrets: Secrets,
    o: { loginName: string; fallbackPassword?: string | null },
  ): Promise<OfflineCacheSource>;
  /** Builds the cache from a package and makes it the current one (crash-safe). */
  write(
    pkg: OfflinePackage,
    o: { serverUrl: string; loginName: string; cachePassword: string },
  ): Promise<CacheInfo>;
  /** Erases the current cache and its public facts (the journal stays until uploaded). */
  erase(): Promise<CacheInfo | null>;
  /** Records of a cache's journal not yet uploaded (none if there is no journal). */
  journal(cacheId: string): Promise<JournalAccess>;
  /** Caches whose journal file is still here (the current one and deleted ones). */
  journalCacheIds(): Promise<string[]>;
  /** The derived machine key. */
  machineKey(): Promise<Uint8Array>;
  /** The cache file at `file`, opened with its password and the machine key (for import). */
  openFile(
    file: string,
    password: string,
  ): Promise<{
    bytes: Uint8Array;
    meta: CacheMetaView;
    rebuild(password: string): Promise<Uint8Array>;
  }>;
  /** Makes these bytes the current cache. */
  install(bytes: Uint8Array, meta: CacheMetaView): Promise<CacheInfo>;
  keyFileXml(): Promise<string>;
}

/** What the cache says of itself (encrypted metadata): the state file's facts but when written. */
export type CacheMetaView = Omit<CacheInfo, 'writtenAt'> & {
  passwordRequirements: OfflinePackage['passwordRequirements'];
};

export interface JournalAccess {
  records(): Promise<
    { id: string; entryId: string; action: 'viewed' | 'copied'; occurredAt: string }[]
  >;
  /** Removes the records the server confirmed, keeping any written since; returns how many are left. */
  remove(ids: readonly string[]): Promise<number>;
  clear(): Promise<void>;
  /** Moves a journal that fails verification aside (kept for inspection); returns its new path. */
  setAside(): Promise<string>;
}

export interface OfflineCacheSource extends VaultSource {
  readonly kind: 'cache';
  readonly meta: CacheMetaView;
  readonly clipboardClearSeconds: number;
}

export interface Ctx {
  readonly env: NodeJS.ProcessEnv;
  readonly io: Io;
  readonly paths: ClientPaths;
  readonly state: StateStore;
  readonly offline: OfflineAccess;
  readonly json: boolean;
  now(): Date;
  api(serverUrl: string, token?: string | null): Api;
}

function transportOptions(env: NodeJS.ProcessEnv): TransportOptions {
  const seconds = Number(env.STRONGROOM_CONNECT_TIMEOUT_SECONDS ?? '5');
  return {
    connectTimeoutMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5000,
    idleTimeoutMs: 120_000,
  };
}

/**
 * The clock. Test-only: STRONGROOM_TEST_NOW (ISO 8601) moves "now" forward, to test expiry; it
 * can never move it back (that would keep an expired cache open).
 */
function clockOf(env: NodeJS.ProcessEnv): () => Date {
  const later = Date.parse(env.STRONGROOM_TEST_NOW ?? '');
  if (Number.isNaN(later)) return () => new Date();
  return () => new Date(Math.max(Date.now(), later));
}

export function baseContext(
  env: NodeJS.ProcessEnv,
  io: Io,
  json: boolean,
  makeOffline: (ctx: Omit<Ctx, 'offline'>) => OfflineAccess,
): Ctx {
  const paths = clientPaths(env);
  const transport = transportOptions(env);
  const base = {
    env,
    io,
    paths,
    state: new StateStore(paths),
    json,
    now: clockOf(env),
    api: (serverUrl: string, token: string | null = null) => new Api(serverUrl, token, transport),
  };
  return { ...base, offline: makeOffline(base) };
}
