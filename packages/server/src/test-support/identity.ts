import { randomBytes } from 'node:crypto';
import type { AppPermission } from '@strongroom/protocol';
import type { Services } from '../compose.js';
import type { App } from '../http/app.js';
import { identityOf } from '../users/identity.js';
import { SYSTEM_ACTOR } from '../users/context.js';
import { testSecret, type TestContext } from './harness.js';

/**
 * Creates a user directly through the users service (no HTTP, no forced password change).
 * `roles` are role ids the user becomes a direct member of; `administrator` adds Administrators.
 */
export async function createUser(
  services: Services,
  opts: {
    loginName: string;
    password?: string;
    roles?: string[];
    administrator?: boolean;
    displayName?: string;
  },
): Promise<{ id: string; loginName: string; password: string }> {
  const password = opts.password ?? testSecret('pw');
  const user = await identityOf(services).users.create(SYSTEM_ACTOR, {
    loginName: opts.loginName,
    password,
    displayName: opts.displayName,
    roles: opts.roles,
    administrator: opts.administrator,
    mustChangePassword: false,
  });
  return { id: user.id, loginName: user.loginName, password };
}

/**
 * Creates a custom role with optional application permissions; with `parent`, the new role
 * becomes a sub-role of that role (its members count as members of the parent).
 */
export async function createRole(
  services: Services,
  name: string,
  opts: { parent?: string; permissions?: AppPermission[] } = {},
): Promise<string> {
  const { roles } = identityOf(services);
  const role = await roles.create(SYSTEM_ACTOR, { name, permissions: opts.permissions });
  if (opts.parent) await roles.addSubRole(SYSTEM_ACTOR, opts.parent, role.id);
  return role.id;
}

/**
 * Logs in through POST /api/v1/auth/login and returns the bearer token. Each call comes from its
 * own loopback address, so set-up logins don't spend a test's per-IP login rate limit.
 */
export async function login(app: App, loginName: string, password: string): Promise<string> {
  const b = randomBytes(3);
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress: `127.${b[0]}.${b[1]}.${b[2]}`,
    payload: { loginName, password },
  });
  if (res.statusCode !== 200) {
    throw new Error(`login of ${loginName} failed: ${res.statusCode} ${res.body}`);
  }
  return (res.json() as { token: string }).token;
}

/** Creates a new administrator (a unique login name each call) and returns a token of theirs. */
export async function adminToken(ctx: Pick<TestContext, 'services' | 'app'>): Promise<string> {
  const admin = await createUser(ctx.services, {
    loginName: `admin-${randomBytes(4).toString('hex')}`,
    administrator: true,
  });
  return login(ctx.app, admin.loginName, admin.password);
}
