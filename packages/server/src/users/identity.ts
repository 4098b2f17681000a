import type { IdentityDeps } from './context.js';
import { AuthService } from './auth-service.js';
import { RoleService } from './role-service.js';
import { UserService } from './user-service.js';

/** The identity services of one composed server. */
export interface Identity {
  users: UserService;
  roles: RoleService;
  auth: AuthService;
}

const cache = new WeakMap<IdentityDeps, Identity>();

/**
 * The identity services for `services` (made once per composed server and reused: they keep no
 * state another process would need, only a throttle for housekeeping).
 */
export function identityOf(services: IdentityDeps): Identity {
  let identity = cache.get(services);
  if (!identity) {
    identity = {
      users: new UserService(services),
      roles: new RoleService(services),
      auth: new AuthService(services),
    };
    cache.set(services, identity);
  }
  return identity;
}
