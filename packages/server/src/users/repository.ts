import { deleteRulesForPrincipal } from '../clientconfig/repository.js';
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, RoleTable, UserTable } from '../db/schema.js';
import type { RoleEdge } from './role-graph.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID, roleDescendants } from './role-graph.js';

/** Kysely queries of the identity area (users, roles, sessions, login rate limits). */

export type Db = Kysely<Database>;
export type UserRow = Selectable<UserTable>;
export type RoleRow = Selectable<RoleTable>;

/** The lookup key of a login name: compared case-insensitively, stored as typed. */
export function loginKey(loginName: string): string {
  return loginName.normalize('NFC').toLowerCase();
}

export const nameKey = loginKey;

// ---- users ----

export function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findUserByKey(db: Db, key: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('login_key', '=', key).executeTakeFirst();
}

/** A new, enabled, unlocked user row (the one place that knows every column's start value). */
export function newUserRow(u: {
  id: string;
  loginName: string;
  displayName: string;
  email: string;
  passwordHash: string;
  mustChangePassword: boolean;
  now: number;
}): UserRow {
  return {
    id: u.id,
    login_name: u.loginName,
    login_key: loginKey(u.loginName),
    display_name: u.displayName,
    email: u.email,
    enabled: 1,
    password_hash: u.passwordHash,
    must_change_password: u.mustChangePassword ? 1 : 0,
    password_changed_at: u.now,
    failed_logins: 0,
    locked_until: null,
    locked_indefinitely: 0,
    policy_id: null,
    totp_secret_sealed: null,
    totp_enabled: 0,
    totp_last_step: null,
    totp_enrolled_at: null,
    created_at: u.now,
    updated_at: u.now,
    last_login_at: null,
  };
}

export async function insertUser(db: Db, row: UserRow): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export async function listUsers(
  db: Db,
  opts: { limit: number; offset: number; q?: string | undefined },
): Promise<{ rows: UserRow[]; total: number }> {
  let base = db.selectFrom('users');
  if (opts.q) {
    const pattern = `%${escapeLike(opts.q.toLowerCase())}%`;
    base = base.where((eb) =>
      eb.or([
        eb('login_key', 'like', sql<string>`${pattern} escape '\\'`),
        eb(eb.fn('lower', ['display_name']), 'like', sql<string>`${pattern} escape '\\'`),
      ]),
    );
  }
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('login_key').limit(opts.limit).offset(opts.offset).execute(),
    base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function updateUser(
  db: Db,
  id: string,
  values: Partial<Omit<UserRow, 'id'>>,
): Promise<void> {
  await db.updateTable('users').set(values).where('id', '=', id).execute();
}

/**
 * Counts one failed login atomically (safe across processes): a lock that has run out starts
 * the count again. Returns the new count.
 */
export async function countFailedLogin(db: Db, id: string, now: number): Promise<number> {
  const r = await db
    .updateTable('users')
    .set({
      failed_logins: sql<number>`case when locked_until is not null and locked_until <= ${now} then 1 else failed_logins + 1 end`,
      locked_until: sql<
        number | null
      >`case when locked_until is not null and locked_until <= ${now} then null else locked_until end`,
    })
    .where('id', '=', id)
    .returning('failed_logins')
    .executeTakeFirst();
  return r ? Number(r.failed_logins) : 0;
}

export async function deleteUserRow(db: Db, id: string): Promise<void> {
  // Grants and client configuration rules have no foreign key to their principal: remove the
  // user's own with them.
  await db
    .deleteFrom('grants')
    .where('principal_type', '=', 'user')
    .where('principal_id', '=', id)
    .execute();
  await deleteRulesForPrincipal(db, 'user', id);
  await db.deleteFrom('users').where('id', '=', id).execute();
}

// ---- roles ----

export function findRoleById(db: Db, id: string): Promise<RoleRow | undefined> {
  return db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst();
}

export function findRoleByKey(db: Db, key: string): Promise<RoleRow | undefined> {
  return db.selectFrom('roles').selectAll().where('name_key', '=', key).executeTakeFirst();
}

export function listRoles(db: Db): Promise<RoleRow[]> {
  return db.selectFrom('roles').selectAll().orderBy('name_key').execute();
}

export function rolesByIds(db: Db, ids: readonly string[]): Promise<RoleRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('roles').selectAll().where('id', 'in', ids).orderBy('name_key').execute();
}

export async function insertRole(db: Db, row: RoleRow): Promise<void> {
  await db.insertInto('roles').values(row).execute();
}

/** Inserts the built-in roles if they are missing; safe when several processes start at once. */
export async function insertRolesIfMissing(db: Db, rows: RoleRow[]): Promise<void> {
  await db
    .insertInto('roles')
    .values(rows)
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function updateRole(
  db: Db,
  id: string,
  values: Partial<Omit<RoleRow, 'id'>>,
): Promise<void> {
  await db.updateTable('roles').set(values).where('id', '=', id).execute();
}

export async function deleteRoleRow(db: Db, id: string): Promise<void> {
  await db
    .deleteFrom('grants')
    .where('principal_type', '=', 'role')
    .where('principal_id', '=', id)
    .execute();
  await deleteRulesForPrincipal(db, 'role', id);
  await db.deleteFrom('roles').where('id', '=', id).execute();
}

export function allRoleEdges(db: Db): Promise<RoleEdge[]> {
  return db.selectFrom('role_children').select(['role_id', 'child_role_id']).execute();
}

export async function directRoleIds(db: Db, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('role_members')
    .select('role_id')
    .where('user_id', '=', userId)
    .execute();
  return rows.map((r) => r.role_id);
}

/** Direct role memberships of several users (one query). */
export async function directRolesOf(
  db: Db,
  userIds: readonly string[],
): Promise<Map<string, RoleRow[]>> {
  const out = new Map<string, RoleRow[]>();
  if (userIds.length === 0) return out;
  const rows = await db
    .selectFrom('role_members')
    .innerJoin('roles', 'roles.id', 'role_members.role_id')
    .selectAll('roles')
    .select('role_members.user_id')
    .where('role_members.user_id', 'in', userIds)
    .orderBy('roles.name_key')
    .execute();
  for (const { user_id, ...role } of rows) {
    const list = out.get(user_id);
    if (list) list.push(role);
    else out.set(user_id, [role]);
  }
  return out;
}

export async function addMember(db: Db, roleId: string, userId: string): Promise<void> {
  await db
    .insertInto('role_members')
    .values({ role_id: roleId, user_id: userId })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function removeMember(db: Db, roleId: string, userId: string): Promise<boolean> {
  const r = await db
    .deleteFrom('role_members')
    .where('role_id', '=', roleId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function addChild(db: Db, roleId: string, childId: string): Promise<void> {
  await db
    .insertInto('role_children')
    .values({ role_id: roleId, child_role_id: childId })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function removeChild(db: Db, roleId: string, childId: string): Promise<boolean> {
  const r = await db
    .deleteFrom('role_children')
    .where('role_id', '=', roleId)
    .where('child_role_id', '=', childId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function roleMembers(
  db: Db,
  roleId: string,
): Promise<Array<Pick<UserRow, 'id' | 'login_name' | 'display_name'>>> {
  return db
    .selectFrom('role_members')
    .innerJoin('users', 'users.id', 'role_members.user_id')
    .select(['users.id', 'users.login_name', 'users.display_name'])
    .where('role_members.role_id', '=', roleId)
    .orderBy('users.login_key')
    .execute();
}

export async function childRoles(db: Db, roleId: string): Promise<RoleRow[]> {
  return db
    .selectFrom('role_children')
    .innerJoin('roles', 'roles.id', 'role_children.child_role_id')
    .selectAll('roles')
    .where('role_children.role_id', '=', roleId)
    .orderBy('roles.name_key')
    .execute();
}

export async function permissionsOf(
  db: Db,
  roleIds: readonly string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (roleIds.length === 0) return out;
  const rows = await db
    .selectFrom('role_permissions')
    .select(['role_id', 'permission'])
    .where('role_id', 'in', roleIds)
    .orderBy('permission')
    .execute();
  for (const r of rows) {
    const list = out.get(r.role_id);
    if (list) list.push(r.permission);
    else out.set(r.role_id, [r.permission]);
  }
  return out;
}

export async function setPermissions(
  db: Db,
  roleId: string,
  permissions: readonly string[],
): Promise<void> {
  await db.deleteFrom('role_permissions').where('role_id', '=', roleId).execute();
  if (permissions.length > 0) {
    await db
      .insertInto('role_permissions')
      .values(permissions.map((permission) => ({ role_id: roleId, permission })))
      .execute();
  }
}

/**
 * Ids of the enabled users who are administrators: members of Administrators directly or
 * through its sub-roles (every user, if Users was nested inside it).
 */
export async function enabledAdministratorIds(db: Db): Promise<Set<string>> {
  const adminRoles = roleDescendants(ADMINISTRATORS_ROLE_ID, await allRoleEdges(db));
  if (adminRoles.has(USERS_ROLE_ID)) {
    const rows = await db.selectFrom('users').select('id').where('enabled', '=', 1).execute();
    return new Set(rows.map((r) => r.id));
  }
  const rows = await db
    .selectFrom('role_members')
    .innerJoin('users', 'users.id', 'role_members.user_id')
    .select('users.id')
    .where('role_members.role_id', 'in', [...adminRoles])
    .where('users.enabled', '=', 1)
    .execute();
  return new Set(rows.map((r) => r.id));
}

// ---- sessions ----

export interface SessionWithUser {
  session_id: string;
  kind: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  idle_timeout_ms: number | null;
  two_factor_pending: number;
  user_id: string;
  login_name: string;
  enabled: number;
  must_change_password: number;
}

/** The session of a token hash joined with its user (one query). */
export function findSessionByTokenHash(
  db: Db,
  tokenHash: string,
): Promise<SessionWithUser | undefined> {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id as session_id',
      'sessions.kind',
      'sessions.created_at',
      'sessions.last_used_at',
      'sessions.expires_at',
      'sessions.idle_timeout_ms',
      'sessions.two_factor_pending',
      'users.id as user_id',
      'users.login_name',
      'users.enabled',
      'users.must_change_password',
    ])
    .where('sessions.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/**
 * The rest of what an Actor needs, in one query: the user's direct memberships, every sub-role
 * edge and every role permission (all small tables).
 */
export async function identityGraph(
  db: Db,
  userId: string,
): Promise<{
  direct: string[];
  edges: RoleEdge[];
  permissions: Array<{ role_id: string; permission: string }>;
}> {
  const rows = await db
    .selectFrom('role_members')
    .select([sql<string>`'m'`.as('t'), 'role_id', 'user_id as v'])
    .where('user_id', '=', userId)
    .unionAll(
      db
        .selectFrom('role_children')
        .select([sql<string>`'c'`.as('t'), 'role_id', 'child_role_id as v']),
    )
    .unionAll(
      db
        .selectFrom('role_permissions')
        .select([sql<string>`'p'`.as('t'), 'role_id', 'permission as v']),
    )
    .execute();
  const direct: string[] = [];
  const edges: RoleEdge[] = [];
  const permissions: Array<{ role_id: string; permission: string }> = [];
  for (const r of rows) {
    if (r.t === 'm') direct.push(r.role_id);
    else if (r.t === 'c') edges.push({ role_id: r.role_id, child_role_id: r.v });
    else permissions.push({ role_id: r.role_id, permission: r.v });
  }
  return { direct, edges, permissions };
}

export async function insertSession(db: Db, row: Selectable<Database['sessions']>): Promise<void> {
  await db.insertInto('sessions').values(row).execute();
}

export async function touchSession(db: Db, id: string, now: number): Promise<void> {
  await db.updateTable('sessions').set({ last_used_at: now }).where('id', '=', id).execute();
}

export async function deleteSession(db: Db, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

/** Revokes every session of the user, except `keepSessionId` when given. */
export async function deleteUserSessions(
  db: Db,
  userId: string,
  keepSessionId?: string,
): Promise<void> {
  let q = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepSessionId) q = q.where('id', '!=', keepSessionId);
  await q.execute();
}

export async function deleteDeadSessions(db: Db, now: number): Promise<void> {
  await db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
}

// ---- rate limits ----

/**
 * Counts one hit in the fixed window of `key` atomically (an upsert, safe across processes) and
 * returns the count and the window's start.
 */
export async function hitRateLimit(
  db: Db,
  key: string,
  now: number,
  windowMs: number,
): Promise<{ count: number; windowStart: number }> {
  const stale = now - windowMs;
  const r = await db
    .insertInto('rate_limits')
    .values({ key, window_start: now, count: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        count: sql<number>`case when rate_limits.window_start <= ${stale} then 1 else rate_limits.count + 1 end`,
        window_start: sql<number>`case when rate_limits.window_start <= ${stale} then ${now} else rate_limits.window_start end`,
      }),
    )
    .returning(['count', 'window_start'])
    .executeTakeFirstOrThrow();
  return { count: Number(r.count), windowStart: Number(r.window_start) };
}

export async function deleteStaleRateLimits(db: Db, before: number): Promise<void> {
  await db.deleteFrom('rate_limits').where('window_start', '<=', before).execute();
}
