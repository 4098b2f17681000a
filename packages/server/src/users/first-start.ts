import { hashPassword, newOneTimePassword, newUuid } from '@strongroom/crypto';
import type { Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import { IDENTITY_LOCK, SYSTEM_ACTOR, type IdentityDeps } from './context.js';
import * as repo from './repository.js';
import { ADMINISTRATORS_ROLE_ID, BUILTIN_ROLES } from './role-graph.js';

/** Creates the built-in roles if missing. Idempotent and safe when processes start together. */
export async function ensureBuiltinRoles(store: Store, clock: Clock): Promise<void> {
  const now = clock.now();
  await repo.insertRolesIfMissing(
    store.db,
    BUILTIN_ROLES.map((r) => ({
      id: r.id,
      name: r.name,
      name_key: repo.nameKey(r.name),
      description: '',
      builtin: r.builtin,
      created_at: now,
      updated_at: now,
    })),
  );
}

export const FIRST_ADMIN_LOGIN = 'admin';

/**
 * On first start (no users at all), creates `admin` in Administrators with a one-time password
 * that must be changed at first login, and returns it so it can be shown once. Returns null when
 * users exist. Two processes starting at once create one administrator between them.
 */
export async function ensureFirstAdministrator(
  services: IdentityDeps,
): Promise<{ loginName: string; oneTimePassword: string } | null> {
  if ((await repo.countUsers(services.store.db)) > 0) return null;
  await ensureBuiltinRoles(services.store, services.clock);
  const oneTimePassword = newOneTimePassword();
  const hash = await hashPassword(oneTimePassword, services.config.passwordHash);
  return services.store.exclusive(IDENTITY_LOCK, async (trx) => {
    if ((await repo.countUsers(trx)) > 0) return null;
    const now = services.clock.now();
    const id = newUuid();
    await repo.insertUser(
      trx,
      repo.newUserRow({
        id,
        loginName: FIRST_ADMIN_LOGIN,
        displayName: 'Administrator',
        email: '',
        passwordHash: hash,
        mustChangePassword: true,
        now,
      }),
    );
    await repo.addMember(trx, ADMINISTRATORS_ROLE_ID, id);
    await services.audit.record(
      {
        event: 'User Created',
        status: 'success',
        actor: SYSTEM_ACTOR,
        target: FIRST_ADMIN_LOGIN,
        details: { roles: ['Administrators'], firstStart: true },
      },
      trx,
    );
    return { loginName: FIRST_ADMIN_LOGIN, oneTimePassword };
  });
}
