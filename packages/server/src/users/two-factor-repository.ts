import type { Db } from './repository.js';

/**
 * Kysely queries of TOTP two-factor: the `users.totp_*` columns, `recovery_codes` and the
 * sessions' `two_factor_pending` flag. Every change that must hold across server processes is
 * one conditional UPDATE whose row count says whether it won.
 */

/** Stores a new pending enrolment (secret sealed, not enabled) unless two-factor is enabled. */
export async function storePendingSecret(
  db: Db,
  userId: string,
  sealed: Buffer,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('users')
    .set({
      totp_secret_sealed: sealed,
      totp_enabled: 0,
      totp_last_step: null,
      totp_enrolled_at: null,
      updated_at: now,
    })
    .where('id', '=', userId)
    .where('totp_enabled', '=', 0)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Turns the pending enrolment whose sealed secret is exactly `sealed` into an enabled one. False
 * if it changed meanwhile (enabled by another request, replaced by a new enrolment, reset).
 */
export async function enable(
  db: Db,
  userId: string,
  sealed: Buffer,
  step: number,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('users')
    .set({ totp_enabled: 1, totp_last_step: step, totp_enrolled_at: now, updated_at: now })
    .where('id', '=', userId)
    .where('totp_enabled', '=', 0)
    .where('totp_secret_sealed', '=', sealed)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Records `step` as the last TOTP step used, only if it is later than the one recorded: of two
 * requests (in any processes) presenting the same code, exactly one gets true.
 */
export async function consumeStep(db: Db, userId: string, step: number): Promise<boolean> {
  const r = await db
    .updateTable('users')
    .set({ totp_last_step: step })
    .where('id', '=', userId)
    .where('totp_enabled', '=', 1)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', step)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Spends a recovery code once: true for exactly one caller. */
export async function useRecoveryCode(
  db: Db,
  userId: string,
  codeHash: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Replaces every recovery code of the user (used or not) by these hashes. */
export async function replaceRecoveryCodes(
  db: Db,
  userId: string,
  hashes: readonly string[],
  now: number,
): Promise<void> {
  await deleteRecoveryCodes(db, userId);
  if (hashes.length === 0) return;
  await db
    .insertInto('recovery_codes')
    .values(
      hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now, used_at: null })),
    )
    .execute();
}

export async function deleteRecoveryCodes(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
}

export async function unusedRecoveryCodes(db: Db, userId: string): Promise<number> {
  const r = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Removes the secret and everything that goes with it (disable, administrator's reset). */
export async function clearTwoFactor(db: Db, userId: string, now: number): Promise<void> {
  await db
    .updateTable('users')
    .set({
      totp_secret_sealed: null,
      totp_enabled: 0,
      totp_last_step: null,
      totp_enrolled_at: null,
      updated_at: now,
    })
    .where('id', '=', userId)
    .execute();
  await deleteRecoveryCodes(db, userId);
}

/** The user's sessions no longer wait for a forced enrolment. */
export async function clearPendingSessions(db: Db, userId: string): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ two_factor_pending: 0 })
    .where('user_id', '=', userId)
    .where('two_factor_pending', '=', 1)
    .execute();
}
