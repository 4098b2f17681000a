import type { AppPermission } from '@strongroom/protocol';
import type { Actor } from '../http/auth.js';

/** An Actor for service-level tests (HTTP tests log in for real). */
export function testActor(partial: Partial<Actor> & { userId: string }): Actor {
  return {
    loginName: partial.userId,
    sessionId: 'test-session',
    isAdministrator: false,
    appPermissions: new Set<AppPermission>(),
    roleIds: [],
    mustChangePassword: false,
    ip: '127.0.0.1',
    ...partial,
  };
}
