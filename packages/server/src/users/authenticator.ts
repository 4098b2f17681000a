import { hashToken } from '@strongroom/crypto';
import { APP_PERMISSIONS, isAppPermission, type AppPermission } from '@strongroom/protocol';
import type { Actor, Authenticator } from '../http/auth.js';
import type { IdentityDeps } from './context.js';
import * as repo from './repository.js';
import { ADMINISTRATORS_ROLE_ID, roleClosure } from './role-graph.js';

/** `last_used_at` is written at most this often per session, to spare writes. */
export const SESSION_TOUCH_INTERVAL_MS = 60_000;

/** Tokens we issue are far shorter; anything longer is not ours and is not even hashed. */
const MAX_TOKEN_LENGTH = 256;

/**
 * Resolves a bearer token to its caller in two queries (session joined with its user; then the
 * user's memberships, all sub-role edges and all role permissions in one union), plus a write of
 * `last_used_at` at most once a minute. Nothing is cached in the process, so a revocation,
 * a role change or a disabled user takes effect at once on every server process.
 */
export class SessionAuthenticator implements Authenticator {
  constructor(private readonly deps: Pick<IdentityDeps, 'store' | 'clock' | 'config'>) {}

  async authenticate(token: string, ip: string): Promise<Actor | null> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) return null;
    const db = this.deps.store.db;
    const row = await repo.findSessionByTokenHash(db, hashToken(token));
    if (!row) return null;
    const now = this.deps.clock.now();
    const idleMs = row.idle_timeout_ms === null ? null : Number(row.idle_timeout_ms);
    const idleOut = idleMs !== null && now - row.last_used_at >= idleMs;
    if (row.expires_at <= now || idleOut) {
      await repo.deleteSession(db, row.session_id);
      return null;
    }
    if (row.enabled !== 1) return null;

    const graph = await repo.identityGraph(db, row.user_id);
    const roleIds = roleClosure(graph.direct, graph.edges);
    const isAdministrator = roleIds.includes(ADMINISTRATORS_ROLE_ID);
    let appPermissions: Set<AppPermission>;
    if (isAdministrator) {
      appPermissions = new Set(APP_PERMISSIONS);
    } else {
      const mine = new Set(roleIds);
      appPermissions = new Set();
      for (const p of graph.permissions) {
        if (mine.has(p.role_id) && isAppPermission(p.permission)) appPermissions.add(p.permission);
      }
    }
    if (now - row.last_used_at >= SESSION_TOUCH_INTERVAL_MS) {
      await repo.touchSession(db, row.session_id, now);
    }
    return {
      userId: row.user_id,
      loginName: row.login_name,
      sessionId: row.session_id,
      isAdministrator,
      appPermissions,
      roleIds,
      mustChangePassword: row.must_change_password === 1,
      mustEnrolTwoFactor: Number(row.two_factor_pending) === 1,
      ip,
    };
  }
}
