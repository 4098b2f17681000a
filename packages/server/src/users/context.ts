import {
  APP_PERMISSIONS,
  LOGIN_NAME_MAX,
  LOGIN_NAME_PATTERN,
  PASSWORD_MAX,
  PASSWORD_MIN,
  type AppPermission,
  type RoleRef,
  type UserView,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import type { AuditActor } from '../audit/recorder.js';
import { conflict, invalid } from '../shared/errors.js';
import type { Db, RoleRow, UserRow } from './repository.js';
import { enabledAdministratorIds } from './repository.js';

/** What the identity services need from the composition root. */
export type IdentityDeps = Pick<
  Services,
  'store' | 'clock' | 'audit' | 'config' | 'policies' | 'sealer'
>;

/** Name of the cross-process lock every change of users, roles and memberships takes. */
export const IDENTITY_LOCK = 'strongroom.identity';

/** The actor of changes made by the server itself (first start). */
export const SYSTEM_ACTOR: AuditActor = { userId: null, loginName: 'strongroom', ip: '' };

const LOGIN_NAME_RE = new RegExp(LOGIN_NAME_PATTERN, 'u');

/** The same rules as the route schema, for callers that are not HTTP (command line, seeding). */
export function checkLoginName(loginName: string, field = '/loginName'): void {
  if (
    loginName.length === 0 ||
    loginName.length > LOGIN_NAME_MAX ||
    !LOGIN_NAME_RE.test(loginName)
  ) {
    throw invalid(
      field,
      `The login name must be 1 to ${LOGIN_NAME_MAX} characters, without control characters or surrounding spaces.`,
    );
  }
}

export function checkNewPassword(password: string, field = '/newPassword'): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw invalid(
      field,
      `The password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long.`,
    );
  }
}

export const iso = (t: number): string => new Date(t).toISOString();
export const isoOrNull = (t: number | null): string | null => (t === null ? null : iso(t));

export function builtinOf(role: Pick<RoleRow, 'builtin'>): 'administrators' | 'users' | null {
  return role.builtin === 'administrators' || role.builtin === 'users' ? role.builtin : null;
}

export function roleRef(role: RoleRow): RoleRef {
  return { id: role.id, name: role.name, builtin: builtinOf(role) };
}

export function isLocked(
  user: Pick<UserRow, 'locked_indefinitely' | 'locked_until'>,
  now: number,
): boolean {
  return user.locked_indefinitely === 1 || (user.locked_until !== null && user.locked_until > now);
}

export function userView(user: UserRow, directRoles: RoleRow[], now: number): UserView {
  const locked = isLocked(user, now);
  return {
    id: user.id,
    loginName: user.login_name,
    displayName: user.display_name,
    email: user.email,
    enabled: user.enabled === 1,
    locked,
    lockedUntil: locked && user.locked_indefinitely !== 1 ? isoOrNull(user.locked_until) : null,
    mustChangePassword: user.must_change_password === 1,
    twoFactorEnabled: user.totp_enabled === 1,
    roles: directRoles.map(roleRef),
    createdAt: iso(user.created_at),
    updatedAt: iso(user.updated_at),
    lastLoginAt: isoOrNull(user.last_login_at),
  };
}

/** Keeps only known application permissions, in catalogue order. */
export function knownPermissions(values: Iterable<string>): AppPermission[] {
  const set = new Set(values);
  return APP_PERMISSIONS.filter((p) => set.has(p));
}

/**
 * Runs a change and refuses it (409, rolled back) if it would leave no enabled administrator
 * where there was one. Call inside the identity lock so two changes can't each remove "the
 * other" administrator.
 */
export async function keepingAnAdministrator<T>(trx: Db, change: () => Promise<T>): Promise<T> {
  const before = await enabledAdministratorIds(trx);
  const result = await change();
  if (before.size > 0) {
    const after = await enabledAdministratorIds(trx);
    if (after.size === 0) {
      throw conflict(
        'This would leave no enabled administrator: keep at least one enabled member of Administrators.',
      );
    }
  }
  return result;
}
