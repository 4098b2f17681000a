import type { MeResponse } from '@strongroom/protocol';
import { flag, str, type Command } from '../command.js';
import type { Ctx } from '../context.js';
import { CliError } from '../errors.js';
import { ApiError, Unreachable, normaliseServerUrl } from '../http.js';
import type { LoginResult, LogoutResult, StatusResult } from '../results.js';
import type { Secrets } from '../secrets.js';
import {
  checkCache,
  flushPending,
  formatTime,
  loginOnline,
  isSessionUsers,
  probe,
  uploadJournal,
  type OfflineMode,
} from '../session.js';
import type { CacheInfo } from '../state.js';
import { LOGIN_STDIN, connectCore, otherUser, summary } from './offline.js';

/**
 * Work Offline: opens the cache (which checks the machine, the password, the owner and expiry)
 * and switches the client to Working Offline. The cache password is the one given, else the login
 * password given for the login, else asked.
 */
async function offlineLogin(
  ctx: Ctx,
  secrets: Secrets,
  serverUrl: string,
  loginName: string,
  info: CacheInfo | null,
  reason: string,
): Promise<LoginResult> {
  if (!info) {
    throw new CliError(
      'no_cache',
      'this client holds no offline cache: log in online and run strongroom disconnect to make one',
    );
  }
  if (info.serverUrl !== serverUrl) {
    throw new CliError('no_cache', `this client holds no offline cache for ${serverUrl}`);
  }
  if (info.loginName !== loginName) throw otherUser(loginName, info.loginName);
  const source = await ctx.offline.open(secrets, {
    loginName,
    fallbackPassword: await secrets.given('password'),
  });
  const previous = await ctx.state.mode();
  const mode: OfflineMode = {
    mode: 'offline',
    since: previous.mode === 'offline' ? previous.since : ctx.now().toISOString(),
    reason: previous.mode === 'offline' ? previous.reason : reason,
    serverUrl,
    loginName,
    userId: source.meta.userId,
    cacheId: source.meta.cacheId,
  };
  await ctx.state.saveMode(mode);
  return {
    kind: 'login',
    mode: 'offline',
    serverUrl,
    loginName,
    displayName: source.meta.displayName,
    sessionExpiresAt: null,
    offlineSince: mode.since,
    cache: summary(ctx, info),
    journal: null,
  };
}

export const login: Command = {
  name: 'login',
  summary: 'Log in to a server (or Work Offline from the cache)',
  usage: `strongroom login --server <url> --user <login name> [--offline] [--password-stdin] [--totp-stdin] [--cache-password-stdin]

Logs in and keeps the session in the configuration directory (mode 0600). The login name is
kept exactly as typed. The password is asked (not echoed), or read with --password-stdin or from
STRONGROOM_PASSWORD — never from the command line; the two-factor code is asked when the server
wants one (or --totp-stdin, STRONGROOM_TOTP). The server and login name default to the last ones.

If the server does not answer, or with --offline (Work Offline), the client opens its offline
cache instead: only the user who made it, with the login name typed exactly as then, can do so.
The cache password is asked, or comes from --cache-password-stdin or STRONGROOM_CACHE_PASSWORD;
a login password given by option or environment is tried as the cache password otherwise.`,
  options: {
    server: { type: 'string' },
    user: { type: 'string' },
    offline: { type: 'boolean' },
  },
  stdin: LOGIN_STDIN,
  positionals: { min: 0, max: 0 },
  async run(ctx, args, secrets): Promise<LoginResult> {
    const mode = await ctx.state.mode();
    const session = await ctx.state.session();
    const info = await ctx.offline.info();
    const rawServer =
      str(args, 'server') ??
      (mode.mode === 'offline' ? mode.serverUrl : undefined) ??
      session?.serverUrl ??
      info?.serverUrl;
    if (!rawServer) throw new CliError('usage', 'which server? give --server <url>');
    const serverUrl = normaliseServerUrl(rawServer);
    const loginName =
      str(args, 'user') ?? (mode.mode === 'offline' ? mode.loginName : session?.loginName);
    if (!loginName) throw new CliError('usage', 'who? give --user <login name>');

    if (mode.mode === 'offline') {
      // One user offline (offline-mode §1.12): only the cache's owner, typed exactly as then.
      if (loginName !== mode.loginName || serverUrl !== mode.serverUrl) {
        throw otherUser(loginName, mode.loginName);
      }
      if (flag(args, 'offline')) {
        return offlineLogin(ctx, secrets, serverUrl, loginName, info, 'Work Offline');
      }
      const c = await connectCore(ctx, secrets, serverUrl, loginName);
      const s = await ctx.state.session();
      return {
        kind: 'login',
        mode: 'online',
        serverUrl,
        loginName,
        displayName: s?.displayName ?? loginName,
        sessionExpiresAt: c.sessionExpiresAt,
        offlineSince: null,
        cache: null,
        journal: c.journal,
      };
    }

    if (flag(args, 'offline')) {
      return offlineLogin(ctx, secrets, serverUrl, loginName, info, 'Work Offline');
    }
    const down = await probe(ctx, serverUrl);
    if (down) {
      if (info && info.serverUrl === serverUrl) {
        if (info.loginName !== loginName) {
          throw new CliError(
            'server_unreachable',
            `${down.message}, and ${otherUser(loginName, info.loginName).message.replace('this client is Working Offline for another user', 'the offline cache here belongs to another user')}`,
          );
        }
        ctx.io.notice(
          `${down.message}: logging in offline, from the cache made ${formatTime(info.createdAt)}`,
        );
        return offlineLogin(
          ctx,
          secrets,
          serverUrl,
          loginName,
          info,
          `the server did not answer (${down.reasonText})`,
        );
      }
      throw new CliError(
        'server_unreachable',
        `${down.message}, and this client holds no offline cache for ${loginName}`,
      );
    }
    const { session: s } = await loginOnline(ctx, secrets, serverUrl, loginName);
    const api = ctx.api(serverUrl, s.token);
    await flushPending(ctx, api, s);
    let journal = null;
    if (isSessionUsers(info, s)) {
      journal = await uploadJournal(ctx, api, info.cacheId);
      const check = await checkCache(ctx, api, s);
      if (check.outcome === 'stale') {
        ctx.io.notice('your offline cache is out of date: strongroom disconnect refreshes it');
      }
    }
    return {
      kind: 'login',
      mode: 'online',
      serverUrl,
      loginName,
      displayName: s.displayName,
      sessionExpiresAt: s.expiresAt,
      offlineSince: null,
      cache: null,
      journal,
    };
  },
};

export const logout: Command = {
  name: 'logout',
  summary: 'End the server session and forget the token',
  usage: `strongroom logout

Ends the session on the server and forgets the token. While Working Offline nothing is sent to
the server: the token is forgotten here and the session ends on the server when it expires; the
client stays Working Offline (strongroom connect goes back online).`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx): Promise<LogoutResult> {
    const mode = await ctx.state.mode();
    const session = await ctx.state.session();
    if (!session)
      return { kind: 'logout', loggedOut: false, serverSessionEnded: false, mode: mode.mode };
    let ended = false;
    if (mode.mode === 'online') {
      try {
        await ctx.api(session.serverUrl, session.token).post('/auth/logout');
        ended = true;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'unauthenticated') ended = true;
        else if (!(err instanceof Unreachable) && !(err instanceof ApiError)) throw err;
      }
    }
    await ctx.state.forgetSession();
    return { kind: 'logout', loggedOut: true, serverSessionEnded: ended, mode: mode.mode };
  },
};

export const status: Command = {
  name: 'status',
  summary: 'Online or Working Offline, since when; the session; the cache, its age and expiry',
  usage: `strongroom status

Says whether the client is online (and whether the server answers and the session is valid) or
Working Offline (since when, and why), and describes the offline cache (age, expiry, journal
records waiting for upload). --json also gives the cache file and machine key file paths.
It needs no password and changes nothing, except that an expired cache is deleted.`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx): Promise<StatusResult> {
    let mode = await ctx.state.mode();
    const session = await ctx.state.session();
    let info = await ctx.offline.info();
    const now = ctx.now();
    if (info) {
      const over = [info.expiresAt, info.maxOfflineUntil].find(
        (t) => t !== null && new Date(t).getTime() <= now.getTime(),
      );
      if (over) {
        await ctx.offline.erase();
        await ctx.state.addPending(info, now);
        if (mode.mode === 'offline') {
          mode = { mode: 'online' };
          await ctx.state.saveMode(mode);
        }
        ctx.io.notice(`the offline cache expired on ${formatTime(over!)} and has been deleted`);
        info = null;
      }
    }
    let reachable: boolean | null = null;
    let valid: boolean | null = null;
    let displayName = session?.displayName ?? null;
    if (mode.mode === 'online' && session) {
      try {
        const me = await ctx.api(session.serverUrl, session.token).get<MeResponse>('/me');
        reachable = true;
        valid = true;
        displayName = me.displayName;
      } catch (err) {
        if (err instanceof Unreachable) reachable = false;
        else if (err instanceof ApiError) {
          reachable = true;
          if (err.status === 401) valid = false;
        } else throw err;
      }
    }
    let journalRecords: number | null = null;
    if (info) {
      journalRecords = await ctx.offline
        .journal(info.cacheId)
        .then((j) => j.records())
        .then(
          (r) => r.length,
          () => null,
        );
    }
    return {
      kind: 'status',
      mode: mode.mode,
      offlineSince: mode.mode === 'offline' ? mode.since : null,
      offlineReason: mode.mode === 'offline' ? mode.reason : null,
      serverUrl: mode.mode === 'offline' ? mode.serverUrl : (session?.serverUrl ?? null),
      loginName: mode.mode === 'offline' ? mode.loginName : (session?.loginName ?? null),
      displayName: mode.mode === 'offline' ? (info?.displayName ?? null) : displayName,
      session: session ? { expiresAt: session.expiresAt, valid } : null,
      serverReachable: reachable,
      cache: info
        ? {
            ...summary(ctx, info),
            ageSeconds: Math.round((now.getTime() - new Date(info.createdAt).getTime()) / 1000),
            loginName: info.loginName,
            revision: info.revision,
            journalRecords,
          }
        : null,
      cacheFile: ctx.paths.cache,
      machineKeyFile: ctx.paths.machineSecret,
    };
  },
};
