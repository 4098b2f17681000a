import type { AuditActor, AuditInput, AuditRecorder } from '../audit/recorder.js';
import type { Clock } from '../shared/clock.js';
import * as repo from './repository.js';
import type { CacheRow, Db } from './repository.js';

/** Why the server revoked caches by itself (the audit records' `reason`). */
export const REVOKE_REASONS = {
  disabled: 'user disabled',
  deleted: 'user deleted',
  accessRemoved: 'offline access removed',
} as const;

/**
 * Marks caches revoked and writes one `Offline Cache Revoked` record each, inside the caller's
 * transaction (the change that causes the revocation commits or rolls back with it). Only caches
 * still active in the database are touched (and audited); returns them as revoked.
 */
export async function revokeCaches(
  trx: Db,
  deps: { audit: AuditRecorder; clock: Clock },
  caches: readonly CacheRow[],
  reason: string,
  by: AuditActor,
): Promise<CacheRow[]> {
  const candidates = caches.filter((c) => c.status === 'active');
  if (candidates.length === 0) return [];
  const at = deps.clock.now();
  const changed = new Set(
    await repo.setStatus(
      trx,
      candidates.map((c) => c.id),
      { status: 'revoked', at, reason, by: by.loginName },
    ),
  );
  const active = candidates.filter((c) => changed.has(c.id));
  if (active.length === 0) return [];
  const records: AuditInput[] = active.map((c) => ({
    event: 'Offline Cache Revoked',
    status: 'success',
    actor: by,
    target: c.login_name,
    details: {
      cacheId: c.id,
      userId: c.user_id,
      clientLabel: c.client_label,
      entryCount: c.entry_count,
      reason,
    },
  }));
  await deps.audit.recordMany(records, trx);
  return active.map((c) => ({
    ...c,
    status: 'revoked',
    status_changed_at: at,
    status_reason: reason,
    status_by: by.loginName,
  }));
}

/**
 * Revokes every active cache of a user inside the caller's transaction (used when the user is
 * disabled: the revocation is part of the same change).
 */
export async function revokeCachesOfUser(
  trx: Db,
  deps: { audit: AuditRecorder; clock: Clock },
  userId: string,
  reason: string,
  by: AuditActor,
): Promise<number> {
  const caches = await repo.activeCachesOf(trx, userId);
  return (await revokeCaches(trx, deps, caches, reason, by)).length;
}
