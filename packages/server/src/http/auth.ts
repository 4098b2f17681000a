import type { AppPermission } from '@strongroom/protocol';

/**
 * What a route requires of its caller. Every route declares one (a test walks the route table);
 * the check is done centrally in one hook, never in handlers.
 * - 'public': nobody needs to be logged in (login, health, the OpenAPI document).
 * - 'session': any valid session, even one that must change its password or enrol two-factor
 *   first (me, logout, change own password, own policy, two-factor enrolment).
 * - 'user': a valid session with no pending forced password change or two-factor enrolment.
 *   Vault permissions are per node and checked by the vault services against effective
 *   permissions.
 * - { app }: a user whose roles hold that application permission (administrators hold all).
 */
export type RouteAuth = 'public' | 'session' | 'user' | { app: AppPermission };

/** The authenticated caller of a request. */
export interface Actor {
  userId: string;
  /** Login name exactly as stored. */
  loginName: string;
  sessionId: string;
  isAdministrator: boolean;
  appPermissions: ReadonlySet<AppPermission>;
  /** Every role the user belongs to, directly or through sub-roles (built-in Users included). */
  roleIds: readonly string[];
  mustChangePassword: boolean;
  /**
   * The session was opened while the user's policy required two-factor and they had none: only
   * 'session' routes (including enrolment) until they enrol. Absent = false.
   */
  mustEnrolTwoFactor?: boolean;
  ip: string;
}

/** Resolves a bearer token to its caller, or null (unknown, expired, revoked, disabled user). */
export interface Authenticator {
  authenticate(token: string, ip: string): Promise<Actor | null>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    /**
     * The route also takes a bare token in `Authorization` (no `Bearer ` scheme), as Pleasant
     * clients send it. Only the Pleasant-compatible routes set it.
     */
    bareToken?: boolean;
  }
  interface FastifyRequest {
    actor: Actor | null;
  }
}

/** The caller as audit records name it. */
export function auditActor(actor: Actor | null, ip: string) {
  return actor
    ? { userId: actor.userId, loginName: actor.loginName, ip: actor.ip }
    : { userId: null, loginName: '', ip };
}
