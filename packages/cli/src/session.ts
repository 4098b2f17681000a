import type {
  LoginResponse,
  OfflineCacheStatusView,
  OfflineJournalResult,
} from '@strongroom/protocol';
import type { Ctx, OfflineCacheSource } from './context.js';
import { CliError } from './errors.js';
import { ApiError, Unreachable, cliErrorOf, type Api } from './http.js';
import { howToGive, type Secrets } from './secrets.js';
import type { ModeState, Session } from './state.js';
import { OnlineSource } from './online.js';
import type { VaultSource } from './vault.js';

/**
 * Online and offline, and the switch between them. Offline is decided only by "the server did
 * not answer" (`Unreachable`); any HTTP answer, error or not, keeps the client online.
 */

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export type OfflineMode = Extract<ModeState, { mode: 'offline' }>;

/** Whether a cache (or a pending clear) is the session user's, on the session's server. */
export function isSessionUsers<T extends { serverUrl: string; userId: string }>(
  cache: T | null | undefined,
  session: Pick<Session, 'serverUrl' | 'userId'>,
): cache is T {
  return !!cache && cache.serverUrl === session.serverUrl && cache.userId === session.userId;
}

export async function requireSession(ctx: Ctx): Promise<Session> {
  const s = await ctx.state.session();
  if (!s) {
    throw new CliError(
      'not_logged_in',
      'not logged in: strongroom login --server <url> --user <login name>',
    );
  }
  return s;
}

function offlineLine(mode: OfflineMode): string {
  return `Working Offline since ${formatTime(mode.since)} (read-only; strongroom connect goes back online)`;
}

/**
 * The server did not answer during a command: switch to Working Offline if this client holds a
 * cache of the session's user on that server, and say so in one line; otherwise the command fails.
 */
export async function fallBackOffline(
  ctx: Ctx,
  session: Session,
  err: Unreachable,
): Promise<OfflineMode> {
  const info = await ctx.offline.info();
  if (!isSessionUsers(info, session)) {
    throw new CliError(
      'server_unreachable',
      `${err.message}, and this client holds no offline cache for ${session.loginName}`,
    );
  }
  const mode: OfflineMode = {
    mode: 'offline',
    since: ctx.now().toISOString(),
    reason: `the server did not answer (${err.reasonText})`,
    serverUrl: info.serverUrl,
    loginName: info.loginName,
    userId: info.userId,
    cacheId: info.cacheId,
  };
  await ctx.state.saveMode(mode);
  ctx.io.notice(
    `${err.message}: Working Offline since ${formatTime(mode.since)}, from the cache made ${formatTime(info.createdAt)}`,
  );
  return mode;
}

async function openOffline(
  ctx: Ctx,
  secrets: Secrets,
  mode: OfflineMode,
): Promise<OfflineCacheSource> {
  return ctx.offline.open(secrets, { loginName: mode.loginName });
}

/** Runs a read command on the server, or on the cache when offline (falling back if need be). */
export async function withRead<T>(
  ctx: Ctx,
  secrets: Secrets,
  fn: (source: VaultSource) => Promise<T>,
): Promise<T> {
  const mode = await ctx.state.mode();
  if (mode.mode === 'offline') {
    ctx.io.notice(offlineLine(mode));
    return fn(await openOffline(ctx, secrets, mode));
  }
  const session = await requireSession(ctx);
  const api = ctx.api(session.serverUrl, session.token);
  try {
    await flushPending(ctx, api, session);
    return await fn(new OnlineSource(api));
  } catch (err) {
    if (err instanceof Unreachable) {
      const offline = await fallBackOffline(ctx, session, err);
      return fn(await openOffline(ctx, secrets, offline));
    }
    throw err;
  }
}

/** Runs a change command on the server; refused while Working Offline. */
export async function withChange<T>(
  ctx: Ctx,
  command: string,
  fn: (api: Api, session: Session) => Promise<T>,
): Promise<T> {
  const mode = await ctx.state.mode();
  if (mode.mode === 'offline') throw readOnly(command, mode);
  const session = await requireSession(ctx);
  const api = ctx.api(session.serverUrl, session.token);
  try {
    await flushPending(ctx, api, session);
    return await fn(api, session);
  } catch (err) {
    if (err instanceof Unreachable) {
      const offline = await fallBackOffline(ctx, session, err);
      throw readOnly(command, offline);
    }
    throw err;
  }
}

function readOnly(command: string, mode: OfflineMode): CliError {
  return new CliError(
    'offline_read_only',
    `${command} is not possible while Working Offline (since ${formatTime(mode.since)}): the offline cache is read-only; strongroom connect goes back online`,
  );
}

/** Checks whether the server answers at all (no authentication). */
export async function probe(ctx: Ctx, serverUrl: string): Promise<Unreachable | null> {
  try {
    await ctx.api(serverUrl).get('/health');
    return null;
  } catch (err) {
    if (err instanceof Unreachable) return err;
    return null; // it answered something: it is there
  }
}

const TOTP = /^[0-9]{6}$/;

/**
 * Logs in online: the password (given or asked), then the two-factor code when the server asks
 * for it. The new session replaces the stored one (whose token is ended on the server).
 */
export async function loginOnline(
  ctx: Ctx,
  secrets: Secrets,
  serverUrl: string,
  loginName: string,
): Promise<{ session: Session; password: string; response: LoginResponse }> {
  const api = ctx.api(serverUrl);
  const password = await secrets.get('password', `Password for ${loginName}: `, 'the password');
  const body = { loginName, password, client: 'api' as const };
  let response: LoginResponse;
  try {
    response = await api.post<LoginResponse>('/auth/login', body);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'two_factor_required') throw err;
    if (!secrets.interactive && !secrets.has('totp')) {
      throw new CliError(
        'two_factor_required',
        `this account has two-factor: the two-factor code is needed: ${howToGive('totp')}`,
      );
    }
    const code = (
      await secrets.get(
        'totp',
        'Two-factor code (or a recovery code): ',
        'the two-factor code',
        true,
      )
    ).trim();
    response = await api.post<LoginResponse>('/auth/login', {
      ...body,
      ...(TOTP.test(code) ? { totpCode: code } : { recoveryCode: code }),
    });
  }
  const previous = await ctx.state.session();
  const session: Session = {
    serverUrl,
    loginName,
    userId: response.user.id,
    displayName: response.user.displayName,
    token: response.token,
    expiresAt: response.expiresAt,
    loggedInAt: ctx.now().toISOString(),
  };
  await ctx.state.saveSession(session);
  if (previous && previous.token !== session.token) {
    // End the replaced session on its server; if that fails it simply expires.
    await ctx
      .api(previous.serverUrl, previous.token)
      .post('/auth/logout')
      .catch(() => undefined);
  }
  if (response.mustChangePassword) {
    ctx.io.notice('you must change your password before anything else (in the web application)');
  }
  if (response.mustEnrolTwoFactor) {
    ctx.io.notice(
      'your policy requires two-factor: enrol in the web application before anything else',
    );
  }
  return { session, password, response };
}

/** Tells the server about caches cleared here while it could not be reached. */
export async function flushPending(ctx: Ctx, api: Api, session: Session): Promise<number> {
  const pending = await ctx.state.pending();
  const mine = pending.filter((p) => isSessionUsers(p, session));
  if (mine.length === 0) return 0;
  const done = new Set<string>();
  for (const p of mine) {
    await uploadJournal(ctx, api, p.cacheId).catch((err: unknown) => {
      if (err instanceof Unreachable) throw err;
    });
    try {
      await api.delete(`/offline/caches/${p.cacheId}`);
      done.add(p.cacheId);
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'not_found' || err.code === 'conflict')) {
        done.add(p.cacheId);
      } else if (err instanceof ApiError && err.code === 'unauthenticated') {
        break;
      } else {
        throw err;
      }
    }
  }
  if (done.size > 0) {
    await ctx.state.savePending(
      (await ctx.state.pending()).filter(
        (p) => !(done.has(p.cacheId) && p.userId === session.userId),
      ),
    );
  }
  return done.size;
}

export interface JournalUpload {
  cacheId: string;
  records: number;
  accepted: number;
  duplicates: number;
}

/**
 * Uploads the journal of a cache and removes the uploaded records once the server confirms. A journal that fails
 * verification is set aside (kept for inspection) and reported, never uploaded or deleted.
 */
export async function uploadJournal(
  ctx: Ctx,
  api: Api,
  cacheId: string,
): Promise<JournalUpload | null> {
  const journal = await ctx.offline.journal(cacheId);
  let records;
  try {
    records = await journal.records();
  } catch (err) {
    if (err instanceof CliError && err.code === 'journal_tampered') {
      const kept = await journal.setAside();
      ctx.io.notice(
        `the offline journal failed its integrity check and was not uploaded; it is kept in ${kept}`,
      );
      return null;
    }
    throw err;
  }
  if (records.length === 0) {
    await journal.remove([]); // erases the empty journal, unless a record arrived meanwhile
    return null;
  }
  let accepted = 0;
  let duplicates = 0;
  for (let i = 0; i < records.length; i += 10_000) {
    const r = await api.post<OfflineJournalResult>(`/offline/caches/${cacheId}/journal`, {
      records: records.slice(i, i + 10_000),
    });
    accepted += r.accepted;
    duplicates += r.duplicates;
  }
  // Only what the server confirmed: a password shown meanwhile by another client process stays
  // for the next upload.
  await journal.remove(records.map((r) => r.id));
  return { cacheId, records: records.length, accepted, duplicates };
}

type CacheCheck =
  | { outcome: 'none' }
  | { outcome: 'current'; cacheId: string }
  | { outcome: 'stale'; cacheId: string }
  | {
      outcome: 'deleted';
      cacheId: string;
      why: 'revoked' | 'cleared' | 'expired' | 'unknown';
      reason: string | null;
    };

/**
 * What the server says about this client's cache (when it is the session user's): a revoked,
 * cleared or expired cache is deleted at once.
 */
export async function checkCache(ctx: Ctx, api: Api, session: Session): Promise<CacheCheck> {
  const info = await ctx.offline.info();
  if (!isSessionUsers(info, session)) {
    return { outcome: 'none' };
  }
  let status: OfflineCacheStatusView;
  try {
    status = await api.get<OfflineCacheStatusView>(`/offline/caches/${info.cacheId}/status`);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found') {
      ctx.io.notice(
        "the server does not know this client's offline cache (it may come from another server); it was kept",
      );
      return { outcome: 'current', cacheId: info.cacheId };
    }
    throw err;
  }
  const why = status.revoked
    ? 'revoked'
    : status.status === 'cleared'
      ? 'cleared'
      : status.expired
        ? 'expired'
        : null;
  if (why) {
    await ctx.offline.erase();
    const text =
      why === 'revoked'
        ? `the offline cache was revoked on the server${status.reason ? ` (${status.reason})` : ''} and has been deleted`
        : why === 'cleared'
          ? 'the server no longer lists this offline cache (it was replaced or cleared); it has been deleted'
          : 'the offline cache expired and has been deleted';
    ctx.io.notice(text);
    return { outcome: 'deleted', cacheId: info.cacheId, why, reason: status.reason };
  }
  return { outcome: status.stale ? 'stale' : 'current', cacheId: info.cacheId };
}

/** Maps anything thrown by the transport to the client's error type. */
export function asCliError(err: unknown): unknown {
  if (err instanceof ApiError) return cliErrorOf(err);
  if (err instanceof Unreachable) return new CliError('server_unreachable', err.message);
  return err;
}
