import {
  burnPasswordCheck,
  hashPassword,
  hashToken,
  newToken,
  newUuid,
  verifyPassword,
} from '@strongroom/crypto';
import {
  APP_PERMISSIONS,
  checkPasswordRequirements,
  type LoginResponse,
  type MeResponse,
} from '@strongroom/protocol';
import type { AuditActor } from '../audit/recorder.js';
import type { Actor } from '../http/auth.js';
import { AppError, invalid } from '../shared/errors.js';
import { checkNewPassword, iso, isLocked, roleRef, type IdentityDeps } from './context.js';
import * as repo from './repository.js';
import { twoFactorOf } from './two-factor.js';

export type ClientKind = 'web' | 'api';

export interface LoginInput {
  loginName: string;
  password: string;
  client?: ClientKind | undefined;
  totpCode?: string | undefined;
  recoveryCode?: string | undefined;
}

const invalidCredentials = (): AppError =>
  new AppError('invalid_credentials', 'The login name or password is wrong.');

const MINUTE_MS = 60_000;

/** Stale rate-limit rows and dead sessions are swept at most this often per process. */
const HOUSEKEEPING_INTERVAL_MS = 60_000;

/** Login, logout, changing one's own password, and who the caller is. */
export class AuthService {
  private lastHousekeeping = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: IdentityDeps) {}

  private get db() {
    return this.deps.store.db;
  }

  /**
   * Counts an attempt against fixed-window limits kept in the database (so they hold across
   * server processes); throws 429 with the seconds until the window ends once a limit is passed,
   * saying what was limited (`what`).
   */
  async checkRateLimit(keys: readonly string[], what = 'login attempts'): Promise<void> {
    const { attempts, windowMs } = this.deps.config.loginRateLimit;
    if (attempts <= 0 || windowMs <= 0) return;
    const now = this.deps.clock.now();
    const hits = await this.deps.store.transaction(async (trx) => {
      const out: Array<{ key: string; count: number; windowStart: number }> = [];
      for (const key of keys)
        out.push({ key, ...(await repo.hitRateLimit(trx, key, now, windowMs)) });
      return out;
    });
    await this.housekeeping(now);
    const over = hits.filter((h) => h.count > attempts);
    if (over.length > 0) {
      const until = Math.max(...over.map((h) => h.windowStart + windowMs));
      throw new AppError('rate_limited', `Too many ${what}. Wait and try again.`, {
        retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)),
        logDetail: `rate limit passed for ${over.map((h) => h.key.split(':').slice(0, 2).join(':')).join(', ')}`,
      });
    }
  }

  private async housekeeping(now: number): Promise<void> {
    if (now - this.lastHousekeeping < HOUSEKEEPING_INTERVAL_MS && now >= this.lastHousekeeping) {
      return;
    }
    this.lastHousekeeping = now;
    await repo.deleteStaleRateLimits(this.db, now - this.deps.config.loginRateLimit.windowMs);
    await repo.deleteDeadSessions(this.db, now);
  }

  async login(input: LoginInput, ip: string): Promise<LoginResponse> {
    const key = repo.loginKey(input.loginName);
    await this.checkRateLimit([`login:ip:${ip}`, `login:name:${key}`]);
    const params = this.deps.config.passwordHash;
    const attempt: AuditActor = { userId: null, loginName: input.loginName, ip };
    const user = await repo.findUserByKey(this.db, key);
    if (!user) {
      await burnPasswordCheck(input.password, params);
      await this.deps.audit.record({
        event: 'Login Failed',
        status: 'denied',
        actor: attempt,
        target: input.loginName,
        details: { reason: 'unknown login name' },
      });
      throw invalidCredentials();
    }
    const who: AuditActor = { userId: user.id, loginName: user.login_name, ip };
    const now = this.deps.clock.now();
    if (isLocked(user, now)) {
      // The password is not even checked: a locked account tells nothing about it.
      await this.deps.audit.record({
        event: 'Login Locked',
        status: 'denied',
        actor: who,
        target: user.login_name,
      });
      throw this.lockedError(user, now);
    }
    const check = await verifyPassword(user.password_hash, input.password, params);
    if (user.enabled !== 1) {
      await this.deps.audit.record({
        event: 'Login Failed',
        status: 'denied',
        actor: who,
        target: user.login_name,
        details: { reason: 'account disabled' },
      });
      throw invalidCredentials();
    }
    if (!check.ok) {
      await this.countFailure(user, who, 'wrong password');
      throw invalidCredentials();
    }

    // Lifetimes and the two-factor rule come from the policy in force now; they are fixed in the
    // session row, so requests need no policy lookup.
    const policy = (await this.deps.policies.effectiveForUser(user.id)).settings;
    const hasTwoFactor = user.totp_enabled === 1;
    if (hasTwoFactor && input.totpCode === undefined && input.recoveryCode === undefined) {
      // Not a failure: the password was right and the client asks for the second factor next.
      throw new AppError('two_factor_required', 'Enter the code from your authenticator app.');
    }
    const mustEnrol = !hasTwoFactor && policy.twoFactor === 'required';
    const { timeouts } = policy;
    const client: ClientKind = input.client ?? 'web';
    const token = newToken();
    const lifetimeMinutes =
      client === 'api' ? timeouts.apiTokenLifetimeMinutes : timeouts.sessionLifetimeMinutes;
    const expiresAt = now + lifetimeMinutes * MINUTE_MS;
    const rehash = check.needsRehash ? await hashPassword(input.password, params) : null;
    const factor = { totpCode: input.totpCode, recoveryCode: input.recoveryCode };
    // The second factor is spent in the transaction that opens the session: both or neither.
    const done = await this.deps.store.transaction(async (trx) => {
      let method: 'totp' | 'recovery' | null = null;
      if (hasTwoFactor) {
        const result = await twoFactorOf(this.deps).verifyLoginFactor(trx, user, factor);
        if (!result.ok) return false;
        method = result.method;
      }
      await repo.updateUser(trx, user.id, {
        failed_logins: 0,
        locked_until: null,
        last_login_at: now,
      });
      if (rehash) {
        // Only if the hash is still the one verified (an administrator may have just reset it).
        await trx
          .updateTable('users')
          .set({ password_hash: rehash })
          .where('id', '=', user.id)
          .where('password_hash', '=', user.password_hash)
          .execute();
      }
      await repo.insertSession(trx, {
        id: newUuid(),
        user_id: user.id,
        token_hash: hashToken(token),
        kind: client,
        created_at: now,
        last_used_at: now,
        expires_at: expiresAt,
        ip,
        idle_timeout_ms: client === 'web' ? timeouts.sessionIdleMinutes * MINUTE_MS : null,
        two_factor_pending: mustEnrol ? 1 : 0,
      });
      await this.deps.audit.record(
        {
          event: 'Login',
          status: 'success',
          actor: who,
          target: user.login_name,
          details: {
            client,
            ...(method ? { twoFactor: method } : {}),
            ...(mustEnrol ? { mustEnrolTwoFactor: true } : {}),
            ...(rehash ? { passwordHashUpgraded: true } : {}),
          },
        },
        trx,
      );
      return true;
    });
    if (!done) {
      await this.countFailure(user, who, 'wrong two-factor code');
      throw new AppError(
        'invalid_two_factor_code',
        'The two-factor code is wrong, was already used or has expired.',
      );
    }
    return {
      token,
      expiresAt: iso(expiresAt),
      mustChangePassword: user.must_change_password === 1,
      mustEnrolTwoFactor: mustEnrol,
      user: { id: user.id, loginName: user.login_name, displayName: user.display_name },
    };
  }

  private lockedError(user: repo.UserRow, now: number): AppError {
    const timed = user.locked_indefinitely !== 1 && user.locked_until !== null;
    return new AppError(
      'account_locked',
      timed
        ? 'The account is locked after too many failed logins. Try again later.'
        : 'The account is locked after too many failed logins. An administrator must unlock it.',
      timed ? { retryAfterSeconds: Math.max(1, Math.ceil((user.locked_until! - now) / 1000)) } : {},
    );
  }

  /**
   * Counts a failed login (a wrong password, or a wrong two-factor code: `reason` says which, in
   * the audit record) in the user's row, and locks the account when the count reaches the
   * threshold of the user's effective policy: for its duration, or until an administrator unlocks
   * it (duration null). A threshold of 0 never locks.
   */
  async countFailure(user: repo.UserRow, who: AuditActor, reason: string): Promise<void> {
    await this.deps.store.transaction(async (trx) => {
      const { threshold, durationMinutes } = (
        await this.deps.policies.effectiveForUser(user.id, trx)
      ).settings.lockout;
      const durationMs = durationMinutes === null ? null : durationMinutes * MINUTE_MS;
      const now = this.deps.clock.now();
      const failures = await repo.countFailedLogin(trx, user.id, now);
      await this.deps.audit.record(
        {
          event: 'Login Failed',
          status: 'denied',
          actor: who,
          target: user.login_name,
          details: { reason, consecutiveFailures: failures },
        },
        trx,
      );
      if (threshold > 0 && failures >= threshold) {
        const lock =
          durationMs !== null
            ? { locked_until: now + durationMs, locked_indefinitely: 0 }
            : { locked_indefinitely: 1 };
        await repo.updateUser(trx, user.id, lock);
        await this.deps.audit.record(
          {
            event: 'Login Locked',
            status: 'denied',
            actor: who,
            target: user.login_name,
            details: {
              reason: 'too many failed logins',
              consecutiveFailures: failures,
              lockedUntil: durationMs !== null ? iso(now + durationMs) : 'until unlocked',
            },
          },
          trx,
        );
      }
    });
  }

  async logout(actor: Actor): Promise<void> {
    await this.deps.store.transaction(async (trx) => {
      await repo.deleteSession(trx, actor.sessionId);
      await this.deps.audit.record(
        {
          event: 'Logout',
          status: 'success',
          actor: { userId: actor.userId, loginName: actor.loginName, ip: actor.ip },
          target: actor.loginName,
        },
        trx,
      );
    });
  }

  /**
   * Changes the caller's own password: needs the current one; ends every other session of the
   * user and keeps the current one; clears a forced change.
   */
  async changePassword(actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
    checkNewPassword(newPassword);
    // The requirements of the caller's policy; an administrator's one-time password is exempt.
    const { passwordRequirements } = (
      await this.deps.policies.effectiveFor(actor.userId, actor.roleIds)
    ).settings;
    const rules = checkPasswordRequirements(newPassword, passwordRequirements);
    if (!rules.ok) {
      throw new AppError('validation_failed', rules.message, {
        field: '/newPassword',
        logDetail: `new password fails the policy rule ${rules.rule}`,
      });
    }
    await this.checkRateLimit([`password:user:${actor.userId}`], 'password change attempts');
    const params = this.deps.config.passwordHash;
    const who: AuditActor = { userId: actor.userId, loginName: actor.loginName, ip: actor.ip };
    const user = await repo.findUserById(this.db, actor.userId);
    const check = user
      ? await verifyPassword(user.password_hash, currentPassword, params)
      : { ok: false, needsRehash: false };
    if (!user || !check.ok) {
      await this.deps.audit.record({
        event: 'Password Changed',
        status: 'denied',
        actor: who,
        target: actor.loginName,
        details: { reason: 'wrong current password' },
      });
      throw invalid('/currentPassword', 'The current password is wrong.');
    }
    if (newPassword === currentPassword) {
      throw invalid('/newPassword', 'The new password must differ from the current one.');
    }
    const hash = await hashPassword(newPassword, params);
    await this.deps.store.transaction(async (trx) => {
      const now = this.deps.clock.now();
      await repo.updateUser(trx, user.id, {
        password_hash: hash,
        must_change_password: 0,
        password_changed_at: now,
        updated_at: now,
      });
      await repo.deleteUserSessions(trx, user.id, actor.sessionId);
      await repo.touchSession(trx, actor.sessionId, now);
      await this.deps.audit.record(
        { event: 'Password Changed', status: 'success', actor: who, target: user.login_name },
        trx,
      );
    });
  }

  /** The caller: profile, effective roles and application permissions. */
  async me(actor: Actor): Promise<MeResponse> {
    const user = await repo.findUserById(this.db, actor.userId);
    if (!user) throw new AppError('unauthenticated', 'Log in first: the session has ended.');
    const roles = await repo.rolesByIds(this.db, actor.roleIds);
    return {
      id: user.id,
      loginName: user.login_name,
      displayName: user.display_name,
      email: user.email,
      roles: roles.map(roleRef),
      appPermissions: APP_PERMISSIONS.filter((p) => actor.appPermissions.has(p)),
      isAdministrator: actor.isAdministrator,
      mustChangePassword: actor.mustChangePassword,
      mustEnrolTwoFactor: actor.mustEnrolTwoFactor === true,
    };
  }
}
