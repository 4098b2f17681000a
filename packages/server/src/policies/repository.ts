import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, PolicyTable } from '../db/schema.js';

type Db = Kysely<Database>;
export type PolicyRow = Selectable<PolicyTable>;

/** Where a candidate policy of a user comes from. */
export type PolicySource = 'user' | 'role' | 'default';

/** Normalises numbers PostgreSQL returns as strings for bigint columns. */
function norm<T extends PolicyRow>(row: T): T {
  return {
    ...row,
    is_default: Number(row.is_default),
    position: row.position === null ? null : Number(row.position),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

export async function findPolicy(db: Db, id: string): Promise<PolicyRow | undefined> {
  const row = await db.selectFrom('policies').selectAll().where('id', '=', id).executeTakeFirst();
  return row && norm(row);
}

export async function findPolicyByNameKey(db: Db, key: string): Promise<PolicyRow | undefined> {
  const row = await db
    .selectFrom('policies')
    .selectAll()
    .where('name_key', '=', key)
    .executeTakeFirst();
  return row && norm(row);
}

export async function listPolicies(db: Db): Promise<PolicyRow[]> {
  return (await db.selectFrom('policies').selectAll().execute()).map(norm);
}

/** Roles each policy is assigned to, and how many users have it directly, in two small queries. */
export async function assignmentsByPolicy(
  db: Db,
): Promise<{ roles: Map<string, string[]>; users: Map<string, number> }> {
  const roleRows = await db
    .selectFrom('policy_roles')
    .select(['policy_id', 'role_id'])
    .orderBy('role_id')
    .execute();
  const userRows = await db
    .selectFrom('users')
    .select(['policy_id', (eb) => eb.fn.countAll().as('n')])
    .where('policy_id', 'is not', null)
    .groupBy('policy_id')
    .execute();
  const roles = new Map<string, string[]>();
  for (const r of roleRows) roles.set(r.policy_id, [...(roles.get(r.policy_id) ?? []), r.role_id]);
  const users = new Map(userRows.map((r) => [r.policy_id!, Number(r.n)]));
  return { roles, users };
}

/**
 * In one query, every policy that could apply to the user: their own (users.policy_id), those of
 * the given roles, and the Default Policy, each tagged with where it comes from.
 */
export async function candidatePolicies(
  db: Db,
  userId: string,
  roleIds: readonly string[],
): Promise<Array<PolicyRow & { source: PolicySource }>> {
  let query = db
    .selectFrom('users as u')
    .innerJoin('policies as p', 'p.id', 'u.policy_id')
    .selectAll('p')
    .select(sql<PolicySource>`'user'`.as('source'))
    .where('u.id', '=', userId)
    .unionAll(
      db
        .selectFrom('policies as p')
        .selectAll('p')
        .select(sql<PolicySource>`'default'`.as('source'))
        .where('p.is_default', '=', 1),
    );
  if (roleIds.length > 0) {
    query = query.unionAll(
      db
        .selectFrom('policy_roles as pr')
        .innerJoin('policies as p', 'p.id', 'pr.policy_id')
        .selectAll('p')
        .select(sql<PolicySource>`'role'`.as('source'))
        .where('pr.role_id', 'in', roleIds),
    );
  }
  return (await query.execute()).map(norm);
}

export async function maxPosition(db: Db): Promise<number> {
  const row = await db
    .selectFrom('policies')
    .select((eb) => eb.fn.max('position').as('p'))
    .executeTakeFirst();
  return row?.p == null ? 0 : Number(row.p);
}

export async function insertPolicy(db: Db, row: PolicyRow): Promise<void> {
  await db.insertInto('policies').values(row).execute();
}

export async function updatePolicy(
  db: Db,
  id: string,
  changes: Partial<Omit<PolicyRow, 'id' | 'created_at' | 'is_default'>>,
): Promise<void> {
  await db.updateTable('policies').set(changes).where('id', '=', id).execute();
}

/** Deletes a policy and every assignment of it (users fall back to role policies or the default). */
export async function deletePolicy(db: Db, id: string): Promise<void> {
  await db.updateTable('users').set({ policy_id: null }).where('policy_id', '=', id).execute();
  await db.deleteFrom('policy_roles').where('policy_id', '=', id).execute();
  await db.deleteFrom('policies').where('id', '=', id).execute();
}

export async function userPolicyId(
  db: Db,
  userId: string,
): Promise<{ login_name: string; policy_id: string | null } | undefined> {
  return db
    .selectFrom('users')
    .select(['login_name', 'policy_id'])
    .where('id', '=', userId)
    .executeTakeFirst();
}

export async function setUserPolicy(
  db: Db,
  userId: string,
  policyId: string | null,
): Promise<void> {
  await db.updateTable('users').set({ policy_id: policyId }).where('id', '=', userId).execute();
}

export async function rolePolicyId(
  db: Db,
  roleId: string,
): Promise<{ name: string; policy_id: string | null } | undefined> {
  return db
    .selectFrom('roles as r')
    .leftJoin('policy_roles as pr', 'pr.role_id', 'r.id')
    .select(['r.name', 'pr.policy_id'])
    .where('r.id', '=', roleId)
    .executeTakeFirst();
}

export async function setRolePolicy(
  db: Db,
  roleId: string,
  policyId: string | null,
): Promise<void> {
  await db.deleteFrom('policy_roles').where('role_id', '=', roleId).execute();
  if (policyId !== null) {
    await db.insertInto('policy_roles').values({ role_id: roleId, policy_id: policyId }).execute();
  }
}
