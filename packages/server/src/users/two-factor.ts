import {
  base32Encode,
  constantTimeEqual,
  hashToken,
  hotp,
  newTotpSecret,
  otpauthUri,
  randomBytesOf,
  totpStep,
} from '@strongroom/crypto';
import {
  RECOVERY_CODE_COUNT,
  type TwoFactorEnrolment,
  type TwoFactorStatus,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import type { AuditActor } from '../audit/recorder.js';
import type { Actor } from '../http/auth.js';
import { AppError, conflict, invalid, notFound } from '../shared/errors.js';
import { iso } from './context.js';
import { qrImages } from './qr-code.js';
import * as repo from './repository.js';
import * as tf from './two-factor-repository.js';

/**
 * What the two-factor service needs from the composition root. `policies` (spec §4) says whether
 * the caller's policy requires two-factor; without it, two-factor counts as optional.
 */
export type TwoFactorDeps = Pick<Services, 'store' | 'clock' | 'audit' | 'sealer'> &
  Partial<Pick<Services, 'policies'>> & {
    /** Source of new TOTP secrets (tests pass a fixed one); default 20 random bytes. */
    newTotpSecret?: () => Buffer;
  };

export type LoginFactorInput = { totpCode?: string | undefined; recoveryCode?: string | undefined };
export type LoginFactorResult = { ok: true; method: 'totp' | 'recovery' } | { ok: false };

/** Shown in authenticator apps beside the login name. */
export const TOTP_ISSUER = 'Strongroom';
/** Steps accepted either side of the current one (clock drift between phone and server). */
const WINDOW = 1;

/** Where the sealed secret lives: the envelope opens only in this row and column. */
const secretContext = (userId: string) => `users:${userId}:totp_secret`;

const TOTP_RE = /^[0-9]{6}$/;
const RECOVERY_RE = /^[a-z2-7]{10}$/;

/** A recovery code as typed (any case, spaces, dashes) in its canonical form, or null. */
export function normaliseRecoveryCode(text: string): string | null {
  const clean = text.replace(/[\s-]/g, '').toLowerCase();
  return RECOVERY_RE.test(clean) ? clean : null;
}

/**
 * A new recovery code: 10 base32 characters (50 random bits) shown as `xxxxx-xxxxx`. Stored as
 * SHA-256 only (`hashToken`): with 50 random bits, and only 10 guesses a minute per user, a
 * salted slow hash would add nothing.
 */
function newRecoveryCode(): string {
  const chars = base32Encode(randomBytesOf(7)).slice(0, 10).toLowerCase();
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

function newRecoveryCodes(): string[] {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newRecoveryCode());
  return [...codes];
}

const hashRecoveryCode = (code: string) => hashToken(normaliseRecoveryCode(code)!);

/**
 * The step within ±WINDOW of now whose code is `code` and which is later than `lastStep`, or
 * null. Every candidate is computed and compared in constant time.
 */
function matchStep(
  secret: Uint8Array,
  code: string,
  now: number,
  lastStep: number | null,
): number | null {
  if (!TOTP_RE.test(code)) return null;
  const current = totpStep(now);
  let matched: number | null = null;
  for (let step = current - WINDOW; step <= current + WINDOW; step++) {
    const same = constantTimeEqual(hotp(secret, step), code);
    if (same && matched === null && (lastStep === null || step > lastStep)) matched = step;
  }
  return matched;
}

const who = (actor: Actor): AuditActor => ({
  userId: actor.userId,
  loginName: actor.loginName,
  ip: actor.ip,
});

/**
 * TOTP two-factor (spec §4): enrolment by the user (secret sealed at rest, QR code), single-use
 * recovery codes stored hashed, disabling, the administrator's reset, and the check login makes.
 * A TOTP code is accepted once: the last step used is recorded with a conditional UPDATE, so
 * two requests with one code (even in two server processes) cannot both pass. Codes are never
 * logged, audited or put in an error message.
 */
export class TwoFactorService {
  constructor(private readonly deps: TwoFactorDeps) {}

  private get db() {
    return this.deps.store.db;
  }

  private async requireSelf(db: repo.Db, actor: Actor): Promise<repo.UserRow> {
    const user = await repo.findUserById(db, actor.userId);
    if (!user) throw new AppError('unauthenticated', 'Log in first: the session has ended.');
    return user;
  }

  private openSecret(user: repo.UserRow): Buffer {
    return this.deps.sealer.openSecret(user.totp_secret_sealed!, secretContext(user.id));
  }

  /** Whether the caller's policy requires two-factor. */
  private async required(actor: Actor): Promise<boolean> {
    if (!this.deps.policies) return false;
    const effective = await this.deps.policies.effectiveFor(actor.userId, actor.roleIds);
    return effective.settings.twoFactor === 'required';
  }

  async status(actor: Actor): Promise<TwoFactorStatus> {
    const user = await this.requireSelf(this.db, actor);
    const enabled = user.totp_enabled === 1;
    return {
      enabled,
      enrolledAt: enabled && user.totp_enrolled_at !== null ? iso(user.totp_enrolled_at) : null,
      recoveryCodesLeft: enabled ? await tf.unusedRecoveryCodes(this.db, user.id) : 0,
      pendingEnrolment: !enabled && user.totp_secret_sealed !== null,
      required: await this.required(actor),
    };
  }

  /**
   * Starts (or starts again) an enrolment: a new secret, sealed, waiting for its first code.
   * Refused while two-factor is enabled.
   */
  async beginEnrolment(actor: Actor): Promise<TwoFactorEnrolment> {
    const user = await this.requireSelf(this.db, actor);
    if (user.totp_enabled === 1) throw alreadyEnabled();
    const secret = (this.deps.newTotpSecret ?? newTotpSecret)();
    const sealed = this.deps.sealer.sealSecret(secret, secretContext(user.id));
    const now = this.deps.clock.now();
    const stored = await this.deps.store.transaction((trx) =>
      tf.storePendingSecret(trx, user.id, sealed, now),
    );
    if (!stored) throw alreadyEnabled();
    const uri = otpauthUri(secret, TOTP_ISSUER, user.login_name);
    return { secret: base32Encode(secret), otpauthUri: uri, qrCode: await qrImages(uri) };
  }

  /**
   * Completes the enrolment with a code from the app; returns the recovery codes (shown once).
   * Sessions waiting for a forced enrolment go on normally.
   */
  async confirmEnrolment(actor: Actor, code: string): Promise<{ recoveryCodes: string[] }> {
    const user = await this.requireSelf(this.db, actor);
    if (user.totp_enabled === 1) throw alreadyEnabled();
    const sealed = user.totp_secret_sealed;
    if (sealed === null) {
      throw conflict(
        'No enrolment is waiting: begin one first (POST /api/v1/me/two-factor/enrolment).',
      );
    }
    const now = this.deps.clock.now();
    const step = matchStep(this.openSecret(user), code, now, null);
    if (step === null) throw wrongCode('/code');
    const codes = newRecoveryCodes();
    await this.deps.store.transaction(async (trx) => {
      if (!(await tf.enable(trx, user.id, sealed, step, now))) {
        throw conflict('The enrolment changed meanwhile: begin it again.');
      }
      await tf.replaceRecoveryCodes(trx, user.id, codes.map(hashRecoveryCode), now);
      await tf.clearPendingSessions(trx, user.id);
      await this.deps.audit.record(
        {
          event: 'Two-Factor Enrolled',
          status: 'success',
          actor: who(actor),
          target: user.login_name,
        },
        trx,
      );
    });
    return { recoveryCodes: codes };
  }

  /** New recovery codes for a current TOTP code; the old ones (used or not) stop working. */
  async regenerateRecoveryCodes(actor: Actor, code: string): Promise<{ recoveryCodes: string[] }> {
    const user = await this.requireSelf(this.db, actor);
    if (user.totp_enabled !== 1) throw notEnabled();
    const codes = newRecoveryCodes();
    const done = await this.deps.store.transaction(async (trx) => {
      const check = await this.verifyLoginFactor(trx, user, { totpCode: code });
      if (!check.ok) return false;
      await tf.replaceRecoveryCodes(
        trx,
        user.id,
        codes.map(hashRecoveryCode),
        this.deps.clock.now(),
      );
      await this.deps.audit.record(
        {
          event: 'Recovery Codes Regenerated',
          status: 'success',
          actor: who(actor),
          target: user.login_name,
        },
        trx,
      );
      return true;
    });
    if (!done) {
      await this.deps.audit.record({
        event: 'Recovery Codes Regenerated',
        status: 'denied',
        actor: who(actor),
        target: user.login_name,
        details: { reason: 'wrong code' },
      });
      throw wrongCode('/code');
    }
    return { recoveryCodes: codes };
  }

  /**
   * Turns two-factor off with a current TOTP code or an unused recovery code. Refused (409)
   * when the caller's policy requires two-factor.
   */
  async disable(actor: Actor, input: { code?: string; recoveryCode?: string }): Promise<void> {
    const byCode = input.code !== undefined;
    if (byCode === (input.recoveryCode !== undefined)) {
      throw invalid('/', 'Send either code (from the app) or recoveryCode, not both.');
    }
    const user = await this.requireSelf(this.db, actor);
    if (user.totp_enabled !== 1) throw notEnabled();
    if (await this.required(actor)) {
      throw conflict(
        'Your policy requires two-factor: it cannot be turned off. An administrator can reset it.',
      );
    }
    const method = await this.deps.store.transaction(async (trx) => {
      const check = await this.verifyLoginFactor(
        trx,
        user,
        byCode ? { totpCode: input.code } : { recoveryCode: input.recoveryCode },
      );
      if (!check.ok) return null;
      await tf.clearTwoFactor(trx, user.id, this.deps.clock.now());
      await this.deps.audit.record(
        {
          event: 'Two-Factor Disabled',
          status: 'success',
          actor: who(actor),
          target: user.login_name,
          details: { method: check.method },
        },
        trx,
      );
      return check.method;
    });
    if (method === null) {
      await this.deps.audit.record({
        event: 'Two-Factor Disabled',
        status: 'denied',
        actor: who(actor),
        target: user.login_name,
        details: { reason: byCode ? 'wrong code' : 'wrong recovery code' },
      });
      throw wrongCode(byCode ? '/code' : '/recoveryCode');
    }
  }

  /**
   * An administrator's reset: the user's secret, recovery codes and pending enrolment are
   * removed and every session of theirs ends (the caller's own too, if they reset themselves).
   * They can enrol again at once; if their policy requires it, they must at their next login.
   */
  async adminReset(actor: Actor, userId: string): Promise<void> {
    await this.deps.store.transaction(async (trx) => {
      const user = await repo.findUserById(trx, userId);
      if (!user) throw notFound('The user');
      await tf.clearTwoFactor(trx, user.id, this.deps.clock.now());
      await repo.deleteUserSessions(trx, user.id);
      await this.deps.audit.record(
        {
          event: 'Two-Factor Reset',
          status: 'success',
          actor: who(actor),
          target: user.login_name,
          details: { wasEnabled: user.totp_enabled === 1 },
        },
        trx,
      );
    });
  }

  /**
   * The second factor at login (or for a change that asks for one). TOTP: a code of the steps
   * within ±1 of now that is later than the last step used; the step is recorded with a
   * conditional UPDATE, so of two concurrent logins with one code exactly one passes. Recovery
   * code: any case, spaces and dashes; spent with a conditional UPDATE (used once). A user
   * without two-factor enabled never passes. Nothing is logged; the caller audits.
   */
  async verifyLoginFactor(
    trx: repo.Db,
    user: repo.UserRow,
    input: LoginFactorInput,
  ): Promise<LoginFactorResult> {
    if (user.totp_enabled !== 1 || user.totp_secret_sealed === null) return { ok: false };
    const now = this.deps.clock.now();
    if (input.totpCode !== undefined) {
      const step = matchStep(this.openSecret(user), input.totpCode, now, user.totp_last_step);
      if (step !== null && (await tf.consumeStep(trx, user.id, step))) {
        return { ok: true, method: 'totp' };
      }
    }
    if (input.recoveryCode !== undefined) {
      const code = normaliseRecoveryCode(input.recoveryCode);
      if (code !== null && (await tf.useRecoveryCode(trx, user.id, hashToken(code), now))) {
        return { ok: true, method: 'recovery' };
      }
    }
    return { ok: false };
  }
}

const alreadyEnabled = () =>
  conflict(
    'Two-factor is already enabled: turn it off first, or ask an administrator to reset it.',
  );
const notEnabled = () => conflict('Two-factor is not enabled.');
const wrongCode = (field: string) =>
  invalid(field, 'The code is wrong, was already used or has expired.');

const cache = new WeakMap<object, TwoFactorService>();

/**
 * The two-factor service of a composed server (made once per services object and reused, like
 * `identityOf`). Login reaches it with `twoFactorOf(services).verifyLoginFactor(trx, user, …)`.
 */
export function twoFactorOf(deps: TwoFactorDeps): TwoFactorService {
  let service = cache.get(deps);
  if (!service) {
    service = new TwoFactorService(deps);
    cache.set(deps, service);
  }
  return service;
}
