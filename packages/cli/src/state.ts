import type { ClientPaths } from './paths.js';
import { eraseFile, readJson, writeJson } from './fsutil.js';

/** The server session (config dir, mode 0600). */
export interface Session {
  serverUrl: string;
  /** Exactly as typed at login. */
  loginName: string;
  userId: string;
  displayName: string;
  token: string;
  expiresAt: string;
  loggedInAt: string;
}

/** Online, or Working Offline (config dir). */
export type ModeState =
  | { mode: 'online' }
  | {
      mode: 'offline';
      since: string;
      /** Why: `disconnect`, `login --offline`, or the server did not answer. */
      reason: string;
      serverUrl: string;
      /** The cache owner's login name as typed when the cache was made. */
      loginName: string;
      userId: string;
      cacheId: string;
    };

/**
 * Public facts about the current cache (data dir), kept beside it so that `status` and the
 * offline login check need no password. The authoritative copy is inside the encrypted cache;
 * expiry and the owner are checked against that copy at every open.
 */
export interface CacheInfo {
  cacheId: string;
  serverUrl: string;
  serverId: string;
  loginName: string;
  userId: string;
  displayName: string;
  createdAt: string;
  expiresAt: string | null;
  maxOfflineUntil: string | null;
  revision: string;
  entryCount: number;
  writtenAt: string;
}

interface KdfSettings {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
  calibratedAt: string;
}

/** Per-installation facts (data dir). */
interface ClientFile {
  /** Random id that names this installation in the server's cache inventory. */
  installId: string;
  /** KDF parameters calibrated once on this machine. */
  kdf?: KdfSettings;
}

/** A cache cleared here that the server has not been told about yet. */
interface PendingClear {
  serverUrl: string;
  cacheId: string;
  userId: string;
  loginName: string;
  clearedAt: string;
}

export class StateStore {
  constructor(readonly paths: ClientPaths) {}

  session(): Promise<Session | null> {
    return readJson<Session>(this.paths.session);
  }
  saveSession(s: Session): Promise<void> {
    return writeJson(this.paths.session, s);
  }
  async forgetSession(): Promise<void> {
    await eraseFile(this.paths.session);
  }

  async mode(): Promise<ModeState> {
    return (await readJson<ModeState>(this.paths.state)) ?? { mode: 'online' };
  }
  saveMode(m: ModeState): Promise<void> {
    return writeJson(this.paths.state, m);
  }

  cacheInfo(): Promise<CacheInfo | null> {
    return readJson<CacheInfo>(this.paths.cacheInfo);
  }
  saveCacheInfo(c: CacheInfo): Promise<void> {
    return writeJson(this.paths.cacheInfo, c);
  }

  client(): Promise<ClientFile | null> {
    return readJson<ClientFile>(this.paths.client);
  }
  saveClient(c: ClientFile): Promise<void> {
    return writeJson(this.paths.client, c);
  }

  async pending(): Promise<PendingClear[]> {
    return (await readJson<PendingClear[]>(this.paths.pending)) ?? [];
  }
  savePending(p: PendingClear[]): Promise<void> {
    return writeJson(this.paths.pending, p);
  }
  /** Remembers to tell the server that this cache was deleted here. */
  async addPending(info: CacheInfo, at: Date): Promise<void> {
    const p = (await this.pending()).filter((x) => x.cacheId !== info.cacheId);
    p.push({
      serverUrl: info.serverUrl,
      cacheId: info.cacheId,
      userId: info.userId,
      loginName: info.loginName,
      clearedAt: at.toISOString(),
    });
    await this.savePending(p);
  }
}
