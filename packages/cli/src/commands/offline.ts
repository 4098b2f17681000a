import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { checkPasswordRequirements, OFFLINE_LIMITS } from '@strongroom/protocol/lite';
import type { EffectivePolicy, OfflinePackage } from '@strongroom/protocol';
import { newUuid } from '@strongroom/crypto';
import { chooseCachePassword } from '../cache-password.js';
import { flag, str, type Command } from '../command.js';
import type { Ctx } from '../context.js';
import { CliError } from '../errors.js';
import { ApiError, Unreachable, type Api } from '../http.js';
import type {
  CacheSummary,
  ClearCacheResult,
  ConnectResult,
  DisconnectResult,
  ExportKeyResult,
  ImportCacheResult,
} from '../results.js';
import type { Secrets } from '../secrets.js';
import {
  checkCache,
  fallBackOffline,
  flushPending,
  formatTime,
  isSessionUsers,
  loginOnline,
  requireSession,
  uploadJournal,
  type OfflineMode,
} from '../session.js';
import type { CacheInfo, Session } from '../state.js';

export function summary(ctx: Ctx, info: CacheInfo): CacheSummary {
  return {
    cacheId: info.cacheId,
    file: ctx.paths.cache,
    createdAt: info.createdAt,
    expiresAt: info.expiresAt,
    maxOfflineUntil: info.maxOfflineUntil,
    entryCount: info.entryCount,
  };
}

/** This installation's label in the server's cache inventory (a new cache supersedes its own). */
async function defaultLabel(ctx: Ctx): Promise<string> {
  let client = await ctx.state.client();
  if (!client) {
    client = { installId: newUuid() };
    await ctx.state.saveClient(client);
  }
  const host = hostname().slice(0, 60);
  return `strongroom cli on ${host} (${client.installId.slice(0, 8)})`.slice(
    0,
    OFFLINE_LIMITS.clientLabelMax,
  );
}

/**
 * Asks for the cache password (checked against the caller's policy before anything is
 * registered on the server), fetches the offline package and writes the cache.
 */
async function makeCache(
  ctx: Ctx,
  api: Api,
  session: Session,
  secrets: Secrets,
  o: { label?: string | undefined; comment?: string | undefined; loginPassword: string | null },
): Promise<CacheInfo> {
  const policy = await api.get<EffectivePolicy>('/me/policy');
  const cachePassword = await chooseCachePassword(ctx, secrets, {
    requirements: policy.settings.passwordRequirements,
    loginPassword: o.loginPassword,
    session,
  });
  const clientLabel = o.label ?? (await defaultLabel(ctx));
  ctx.io.progress('Downloading the offline package…');
  let pkg: OfflinePackage;
  try {
    pkg = await api.post<OfflinePackage>(
      '/offline/package',
      { clientLabel, ...(o.comment !== undefined ? { comment: o.comment } : {}) },
      {
        onDownload: (n) =>
          ctx.io.progress(`Downloading the offline package… ${(n / 1024 / 1024).toFixed(1)} MiB`),
      },
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 'validation_failed' && err.field === '/comment') {
      throw new CliError(
        'input_needed',
        'taking entries offline needs a usage comment here: give --comment "<why>"',
      );
    }
    throw err;
  }
  ctx.io.progress('Downloading the offline package… done', true);
  // The rules travel in the package too; they are the ones in force when it was made.
  const stillOk = checkPasswordRequirements(cachePassword, pkg.passwordRequirements);
  if (!stillOk.ok) {
    throw new CliError(
      'cache_password_rejected',
      `the cache password does not meet the password requirements: ${stillOk.message}`,
    );
  }
  return ctx.offline.write(pkg, {
    serverUrl: session.serverUrl,
    loginName: session.loginName,
    cachePassword,
  });
}

export const disconnect: Command = {
  name: 'disconnect',
  summary: 'Disconnect/Cache: make or refresh the offline cache and work offline',
  usage: `strongroom disconnect [--label TEXT] [--comment TEXT] [--cache-password-stdin] [--password-stdin]

Fetches every entry you may take offline, asks the cache password (Enter: your login password;
it must meet your password requirements), writes the encrypted cache bound to this machine, and
switches the client to Working Offline. If the server does not answer, the previous cache is
used; without one, the command fails: a cache can only be made while connected.

  --label TEXT              name of this client in the server's cache inventory
  --comment TEXT            why you take entries offline (required if your settings say so)
  --cache-password-stdin    read the cache password from standard input
  --password-stdin          read your login password from standard input (used as the cache
                            password when no cache password is given)`,
  options: {
    label: { type: 'string' },
    comment: { type: 'string' },
  },
  stdin: { 'password-stdin': 'password', 'cache-password-stdin': 'cachePassword' },
  positionals: { min: 0, max: 0 },
  async run(ctx, args, secrets): Promise<DisconnectResult> {
    const session = await requireSession(ctx);
    let mode = await ctx.state.mode();
    const api = ctx.api(session.serverUrl, session.token);
    const info = await ctx.offline.info();
    const mine = isSessionUsers(info, session);
    let journal = null;
    let written: CacheInfo;
    try {
      await flushPending(ctx, api, session);
      if (mine) journal = await uploadJournal(ctx, api, info.cacheId);
      written = await makeCache(ctx, api, session, secrets, {
        label: str(args, 'label'),
        comment: str(args, 'comment'),
        loginPassword: null,
      });
    } catch (err) {
      if (!(err instanceof Unreachable)) throw err;
      const current = await ctx.offline.info();
      if (!current || !mine) {
        throw new CliError(
          'server_unreachable',
          `${err.message}: there is no offline cache here, and one can only be made while connected; reconnect and run strongroom disconnect again`,
        );
      }
      const offline: OfflineMode =
        mode.mode === 'offline' ? mode : await fallBackOffline(ctx, session, err);
      return {
        kind: 'disconnect',
        mode: 'offline',
        offlineSince: offline.since,
        usedPreviousCache: true,
        cache: summary(ctx, current),
        journal,
      };
    }
    const since = mode.mode === 'offline' ? mode.since : ctx.now().toISOString();
    mode = {
      mode: 'offline',
      since,
      reason: 'Disconnect/Cache',
      serverUrl: written.serverUrl,
      loginName: written.loginName,
      userId: written.userId,
      cacheId: written.cacheId,
    };
    await ctx.state.saveMode(mode);
    return {
      kind: 'disconnect',
      mode: 'offline',
      offlineSince: since,
      usedPreviousCache: false,
      cache: summary(ctx, written),
      journal,
    };
  },
};

/**
 * Goes back online: logs in (two-factor applies again), tells the server about caches cleared
 * while it was away, uploads the journal, deletes a revoked cache, refreshes a stale one.
 */
export async function connectCore(
  ctx: Ctx,
  secrets: Secrets,
  serverUrl: string,
  loginName: string,
  o: { label?: string | undefined; comment?: string | undefined } = {},
): Promise<ConnectResult> {
  let login;
  try {
    login = await loginOnline(ctx, secrets, serverUrl, loginName);
  } catch (err) {
    if (err instanceof Unreachable) {
      const mode = await ctx.state.mode();
      throw new CliError(
        'server_unreachable',
        mode.mode === 'offline'
          ? `${err.message}: still Working Offline (since ${formatTime(mode.since)})`
          : err.message,
      );
    }
    throw err;
  }
  const { session, password } = login;
  const api = ctx.api(serverUrl, session.token);
  const pendingClearsSent = await flushPending(ctx, api, session);
  const info = await ctx.offline.info();
  const mine = isSessionUsers(info, session);
  const journal = mine ? await uploadJournal(ctx, api, info.cacheId) : null;
  const check = await checkCache(ctx, api, session);
  let cache: ConnectResult['cache'] = check.outcome === 'stale' ? 'current' : check.outcome;
  if (check.outcome === 'stale') {
    try {
      await makeCache(ctx, api, session, secrets, { ...o, loginPassword: password });
      cache = 'refreshed';
    } catch (err) {
      if (
        err instanceof CliError &&
        (err.code === 'input_needed' || err.code === 'cache_password_rejected')
      ) {
        ctx.io.notice(`the offline cache is out of date and was not refreshed: ${err.message}`);
      } else {
        throw err;
      }
    }
  }
  await ctx.state.saveMode({ mode: 'online' });
  return {
    kind: 'connect',
    mode: 'online',
    serverUrl,
    loginName,
    sessionExpiresAt: session.expiresAt,
    journal,
    cache,
    cacheDeletedBecause: check.outcome === 'deleted' ? (check.reason ?? check.why) : null,
    pendingClearsSent,
  };
}

/** The secrets of a login (login and connect): password, two-factor code, cache password. */
export const LOGIN_STDIN: Command['stdin'] = {
  'password-stdin': 'password',
  'totp-stdin': 'totp',
  'cache-password-stdin': 'cachePassword',
};

export const connect: Command = {
  name: 'connect',
  summary: 'Connect: log in again, upload the offline journal, go back online',
  usage: `strongroom connect [--user <login name>] [--label TEXT] [--comment TEXT] [--password-stdin] [--totp-stdin] [--cache-password-stdin]

Logs in to the server again (password, and the two-factor code if your account has one), uploads
the journal of passwords shown or copied offline, deletes the cache if the server revoked it,
refreshes it if it is out of date (asking the cache password; Enter: your login password), and
switches the client back online. Only the user who made the cache can connect.

  --user NAME               the login name (default: the session's, or the cache's); while
                            Working Offline it must be the cache's owner, typed as then
  --label TEXT              name of this client in the server's cache inventory (on a refresh)
  --comment TEXT            why you take entries offline (on a refresh, if your settings say so)
  --password-stdin          read your login password from standard input
  --totp-stdin              read the two-factor code from standard input
  --cache-password-stdin    read the cache password from standard input (on a refresh)`,
  options: {
    user: { type: 'string' },
    label: { type: 'string' },
    comment: { type: 'string' },
  },
  stdin: LOGIN_STDIN,
  positionals: { min: 0, max: 0 },
  async run(ctx, args, secrets): Promise<ConnectResult> {
    const mode = await ctx.state.mode();
    const session = await ctx.state.session();
    const info = await ctx.offline.info();
    const user = str(args, 'user');
    let serverUrl: string | undefined;
    let loginName: string | undefined;
    if (mode.mode === 'offline') {
      if (user !== undefined && user !== mode.loginName) throw otherUser(user, mode.loginName);
      serverUrl = mode.serverUrl;
      loginName = mode.loginName;
    } else {
      serverUrl = session?.serverUrl ?? info?.serverUrl;
      loginName = user ?? session?.loginName ?? info?.loginName;
    }
    if (!serverUrl || !loginName) {
      throw new CliError(
        'not_logged_in',
        'nothing to connect to: strongroom login --server <url> --user <login name>',
      );
    }
    return connectCore(ctx, secrets, serverUrl, loginName, {
      label: str(args, 'label'),
      comment: str(args, 'comment'),
    });
  },
};

/** Someone other than the cache's owner (or the owner's name typed differently) while offline. */
export function otherUser(typed: string, owner: string): CliError {
  const same = typed.normalize('NFC').toLowerCase() === owner.normalize('NFC').toLowerCase();
  return new CliError(
    'offline_other_user',
    same
      ? 'while Working Offline, the login name must be typed exactly as when the offline cache was made'
      : 'this client is Working Offline for another user: nobody else can log in through it until it is back online (that user runs strongroom connect)',
  );
}

export const clearCache: Command = {
  name: 'clear-cache',
  summary: 'Clear offline cache: erase the cache and its journal, tell the server',
  usage: `strongroom clear-cache

Uploads the offline journal if the server answers, then overwrites and deletes the cache and the
journal, and tells the server (now, or at the next contact if it does not answer). A client that
was Working Offline goes back to online mode.`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx): Promise<ClearCacheResult> {
    const info = await ctx.offline.info();
    const mode = await ctx.state.mode();
    if (!info) {
      const erased = await ctx.offline.erase();
      if (mode.mode === 'offline') await ctx.state.saveMode({ mode: 'online' });
      return {
        kind: 'clear-cache',
        cleared: erased !== null,
        cacheId: null,
        serverTold: false,
        journal: null,
      };
    }
    const session = await ctx.state.session();
    let journal = null;
    let serverTold = false;
    const canTell = mode.mode === 'online' && session !== null && isSessionUsers(info, session);
    if (canTell) {
      const api = ctx.api(session.serverUrl, session.token);
      try {
        journal = await uploadJournal(ctx, api, info.cacheId);
        await api.delete(`/offline/caches/${info.cacheId}`);
        serverTold = true;
      } catch (err) {
        if (err instanceof ApiError && (err.code === 'not_found' || err.code === 'conflict'))
          serverTold = true;
        else if (!(err instanceof Unreachable) && !(err instanceof ApiError)) throw err;
      }
    }
    await ctx.offline.erase();
    const journalLeft = (await ctx.offline.journalCacheIds()).includes(info.cacheId);
    if (journalLeft && !journal) {
      // Records not uploaded yet: the journal is erased too, as asked; say so.
      const j = await ctx.offline.journal(info.cacheId);
      const n = await j.records().then(
        (r) => r.length,
        () => 0,
      );
      await j.clear();
      if (n > 0)
        ctx.io.notice(
          `${n} offline journal records that the server had not received were erased with the cache`,
        );
    }
    if (!serverTold) await ctx.state.addPending(info, ctx.now());
    if (mode.mode === 'offline') await ctx.state.saveMode({ mode: 'online' });
    return { kind: 'clear-cache', cleared: true, cacheId: info.cacheId, serverTold, journal };
  },
};

export const importCache: Command = {
  name: 'import-cache',
  summary: 'Make a cache file (opened with its own, older password) the current cache',
  usage: `strongroom import-cache <file> [--reencrypt] [--cache-password-stdin] [--new-cache-password-stdin]

After your server password changed, a cache made with the old one no longer opens with the new
one. import-cache opens <file> (a cache made on this machine) with the password it was made
with and makes it the current cache. By default it keeps that password; with --reencrypt it
asks a new cache password (which must meet your password requirements) and re-encrypts the
cache with it. An expired cache is refused.

  --cache-password-stdin       read the file's password from standard input
  --new-cache-password-stdin   read the new cache password (with --reencrypt)`,
  options: {
    reencrypt: { type: 'boolean' },
  },
  stdin: {
    'cache-password-stdin': 'cachePassword',
    'new-cache-password-stdin': 'newCachePassword',
  },
  positionals: { min: 1, max: 1 },
  async run(ctx, args, secrets): Promise<ImportCacheResult> {
    const file = resolve(args.positionals[0]!);
    const mode = await ctx.state.mode();
    const password = await secrets.get(
      'cachePassword',
      'Password of the cache file (the one it was made with): ',
      'the password of the cache file',
    );
    const opened = await ctx.offline.openFile(file, password);
    const meta = opened.meta;
    if (
      mode.mode === 'offline' &&
      (meta.loginName !== mode.loginName || meta.serverUrl !== mode.serverUrl)
    ) {
      throw otherUser(meta.loginName, mode.loginName);
    }
    const current = await ctx.offline.info();
    if (current && current.cacheId !== meta.cacheId) {
      const pending = await (await ctx.offline.journal(current.cacheId)).records().catch(() => []);
      if (pending.length > 0) {
        throw new CliError(
          'failed',
          `the current cache's offline journal holds ${pending.length} records the server has not received: connect first, then import`,
        );
      }
    }
    let bytes = opened.bytes;
    const reencrypt = flag(args, 'reencrypt');
    if (reencrypt) {
      let next = await secrets.given('newCachePassword');
      if (next === null) {
        if (!secrets.interactive) {
          throw new CliError(
            'input_needed',
            'the new cache password is needed: give it with --new-cache-password-stdin or in STRONGROOM_NEW_CACHE_PASSWORD',
          );
        }
        for (;;) {
          const a = await ctx.io.promptHidden('New cache password: ');
          const b = await ctx.io.promptHidden('Repeat the new cache password: ');
          if (a !== b) {
            ctx.io.notice('the two passwords differ; try again');
            continue;
          }
          const r = checkPasswordRequirements(a, meta.passwordRequirements);
          if (r.ok) {
            next = a;
            break;
          }
          ctx.io.notice(`${r.message} Choose another cache password.`);
        }
      } else {
        const r = checkPasswordRequirements(next, meta.passwordRequirements);
        if (!r.ok) {
          throw new CliError(
            'cache_password_rejected',
            `the cache password does not meet the password requirements: ${r.message}`,
          );
        }
      }
      bytes = await opened.rebuild(next);
    }
    const info = await ctx.offline.install(bytes, meta);
    if (mode.mode === 'offline') await ctx.state.saveMode({ ...mode, cacheId: info.cacheId });
    return { kind: 'import-cache', ...summary(ctx, info), reencrypted: reencrypt };
  },
};

export const exportKeyFile: Command = {
  name: 'export-key-file',
  summary: 'Write the machine key file, for opening the cache in KeePassXC (break-glass)',
  usage: `strongroom export-key-file <path> [--force]

Writes this machine's key file (KeePass XML key file 2.0, mode 0600) to <path>. With it and the
cache password, KeePassXC opens the cache: keepassxc-cli ls -R -k <path> <cache file>.
Anyone holding the key file, the cache file and the password can read the cache: keep the key
file on this machine and delete it when done. --force replaces an existing file.`,
  options: { force: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(ctx, args): Promise<ExportKeyResult> {
    const path = resolve(args.positionals[0]!);
    const xml = await ctx.offline.keyFileXml();
    try {
      await writeFile(path, xml, { mode: 0o600, flag: flag(args, 'force') ? 'w' : 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CliError('usage', `${path} exists already (--force replaces it)`);
      }
      throw new CliError('failed', `cannot write ${path}: ${(err as Error).message}`);
    }
    return { kind: 'export-key-file', path, cacheFile: ctx.paths.cache };
  },
};
