import type { Services } from '../compose.js';
import type { AuditInput } from '../audit/recorder.js';
import { SYSTEM_ACTOR } from '../users/context.js';
import { loadFolderIndex } from './paths.js';
import * as repo from './repository.js';

export type SweepServices = Pick<Services, 'store' | 'clock' | 'audit'>;

/**
 * Deletes every grant whose remove-access-after time has come (`expires_at <= now`) and writes
 * one `Expired Access Deleted` record per grant, all in one transaction. It holds a lock shared by
 * every server process, so concurrent sweeps never delete or record a grant twice. Returns the
 * number of grants deleted.
 */
export async function sweepExpiredGrants(services: SweepServices): Promise<number> {
  return services.store.exclusive('strongroom.sweep', async (trx) => {
    const now = services.clock.now();
    const expired = await repo.listExpiredGrants(trx, now);
    if (expired.length === 0) return 0;
    const index = await loadFolderIndex(trx);
    const entries = new Map(
      (
        await repo.findEntries(
          trx,
          expired.filter((g) => g.node_type === 'entry').map((g) => g.node_id),
        )
      ).map((e) => [e.id, e]),
    );
    await repo.deleteGrantsByIds(
      trx,
      expired.map((g) => g.id),
    );
    const records: AuditInput[] = expired.map((g) => {
      const entry = g.node_type === 'entry' ? entries.get(g.node_id) : undefined;
      const target = entry ? index.entryPath(entry.folder_id, entry.name) : index.path(g.node_id);
      const principal =
        g.principal_type === 'user'
          ? g.user_display_name || g.user_login_name || '(deleted user)'
          : (g.role_name ?? '(deleted role)');
      return {
        event: 'Expired Access Deleted',
        status: 'success',
        actor: SYSTEM_ACTOR,
        target,
        details: {
          nodeType: g.node_type,
          nodeId: g.node_id,
          grantId: g.id,
          principalType: g.principal_type,
          principalId: g.principal_id,
          principal,
          accessLevelId: g.access_level_id,
          accessLevel: g.level_name,
          expiresAt: new Date(g.expires_at ?? now).toISOString(),
        },
      };
    });
    await services.audit.recordMany(records, trx);
    return expired.length;
  });
}

/**
 * Runs the sweep every `config.sweepIntervalMs` on this process (every process may run it).
 * A failed run is reported to `onError` and retried at the next interval.
 */
export function startSweep(
  services: SweepServices & Pick<Services, 'config'>,
  onError: (err: unknown) => void = (err) => console.error('expired-grant sweep failed', err),
): NodeJS.Timeout {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredGrants(services)
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, services.config.sweepIntervalMs);
  timer.unref();
  return timer;
}
