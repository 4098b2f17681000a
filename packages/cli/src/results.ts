import type { JournalUpload } from './session.js';
import type { EntryDetail, ViewEntry, ViewFolder } from './vault.js';

/** What each command returns; `render.ts` prints it as text or, with --json, as JSON. */

export interface CacheSummary {
  cacheId: string;
  file: string;
  createdAt: string;
  expiresAt: string | null;
  maxOfflineUntil: string | null;
  entryCount: number;
}

export interface LoginResult {
  kind: 'login';
  mode: 'online' | 'offline';
  serverUrl: string;
  loginName: string;
  displayName: string;
  sessionExpiresAt: string | null;
  offlineSince: string | null;
  cache: CacheSummary | null;
  journal: JournalUpload | null;
}

export interface LogoutResult {
  kind: 'logout';
  loggedOut: boolean;
  serverSessionEnded: boolean;
  mode: 'online' | 'offline';
}

export interface StatusResult {
  kind: 'status';
  mode: 'online' | 'offline';
  offlineSince: string | null;
  offlineReason: string | null;
  serverUrl: string | null;
  loginName: string | null;
  displayName: string | null;
  session: { expiresAt: string; valid: boolean | null } | null;
  serverReachable: boolean | null;
  cache:
    | (CacheSummary & {
        ageSeconds: number;
        loginName: string;
        revision: string;
        journalRecords: number | null;
      })
    | null;
  cacheFile: string;
  machineKeyFile: string;
}

export interface LsResult {
  kind: 'ls';
  source: 'server' | 'cache';
  folder: { id: string; path: string };
  recursive: boolean;
  long: boolean;
  folders: ViewFolder[];
  entries: ViewEntry[];
}

export interface ShowResult {
  kind: 'show';
  source: 'server' | 'cache';
  entry: EntryDetail;
  revealed: boolean;
  /** Present only with --reveal. */
  password?: string;
  copied: boolean;
  clipboardClearSeconds: number | null;
}

export interface SearchResultOut {
  kind: 'search';
  source: 'server' | 'cache';
  query: string;
  entries: (ViewEntry & { matched: string[] })[];
  folders: ViewFolder[];
  truncated: boolean;
}

export interface ChangeResult {
  kind: 'change';
  action: 'added' | 'edited' | 'moved' | 'archived';
  type: 'entry' | 'folder';
  id: string;
  path: string;
  /** For an edit: the fields that changed. */
  fields?: string[];
  generatedPassword?: boolean;
}

export interface DisconnectResult {
  kind: 'disconnect';
  mode: 'offline';
  offlineSince: string;
  usedPreviousCache: boolean;
  cache: CacheSummary;
  journal: JournalUpload | null;
}

export interface ConnectResult {
  kind: 'connect';
  mode: 'online';
  serverUrl: string;
  loginName: string;
  sessionExpiresAt: string;
  journal: JournalUpload | null;
  cache: 'none' | 'current' | 'refreshed' | 'deleted';
  cacheDeletedBecause: string | null;
  pendingClearsSent: number;
}

export interface ClearCacheResult {
  kind: 'clear-cache';
  cleared: boolean;
  cacheId: string | null;
  serverTold: boolean;
  journal: JournalUpload | null;
}

export interface ImportCacheResult extends CacheSummary {
  kind: 'import-cache';
  reencrypted: boolean;
}

export interface ExportKeyResult {
  kind: 'export-key-file';
  path: string;
  cacheFile: string;
}

export interface AttachmentResult {
  kind: 'attachment';
  source: 'server' | 'cache';
  entry: string;
  fileName: string;
  size: number;
  path: string;
}

interface TextResult {
  kind: 'text';
  text: string;
}

export type Result =
  | LoginResult
  | LogoutResult
  | StatusResult
  | LsResult
  | ShowResult
  | SearchResultOut
  | ChangeResult
  | DisconnectResult
  | ConnectResult
  | ClearCacheResult
  | ImportCacheResult
  | ExportKeyResult
  | AttachmentResult
  | TextResult;
