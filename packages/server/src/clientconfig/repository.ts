import type { Kysely, Selectable } from 'kysely';
import type { ClientConfigRuleTable, Database } from '../db/schema.js';

export type RuleRow = Selectable<ClientConfigRuleTable>;
/** Normalises numbers PostgreSQL returns as strings for bigint columns. */
function norm(row: RuleRow): RuleRow {
  return {
    ...row,
    position: row.position === null ? null : Number(row.position),
    created_at: Number(row.created_at),
    updated_at: Number(row.updated_at),
  };
}

export async function findRule(d: Kysely<Database>, id: string): Promise<RuleRow | undefined> {
  const row = await d
    .selectFrom('client_config_rules')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  return row && norm(row);
}

export async function findRuleForPrincipal(
  d: Kysely<Database>,
  type: 'user' | 'role',
  principalId: string,
): Promise<RuleRow | undefined> {
  const row = await d
    .selectFrom('client_config_rules')
    .selectAll()
    .where('principal_type', '=', type)
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  return row && norm(row);
}

/**
 * Every rule whose principal still exists (or the Default Rule). Rules of deleted users and roles
 * are left out: they can never apply again.
 */
export async function listLiveRules(d: Kysely<Database>): Promise<RuleRow[]> {
  const rows = await d
    .selectFrom('client_config_rules as r')
    .leftJoin('users as u', (j) =>
      j.onRef('u.id', '=', 'r.principal_id').on('r.principal_type', '=', 'user'),
    )
    .leftJoin('roles as g', (j) =>
      j.onRef('g.id', '=', 'r.principal_id').on('r.principal_type', '=', 'role'),
    )
    .selectAll('r')
    .where((eb) =>
      eb.or([
        eb('r.principal_type', 'is', null),
        eb('u.id', 'is not', null),
        eb('g.id', 'is not', null),
      ]),
    )
    .execute();
  return rows.map(norm);
}

/** The rules of these principals: the user's own and those of the given roles. */
export async function rulesForActor(
  d: Kysely<Database>,
  userId: string,
  roleIds: readonly string[],
): Promise<RuleRow[]> {
  const rows = await d
    .selectFrom('client_config_rules')
    .selectAll()
    .where((eb) => {
      const ors = [eb.and([eb('principal_type', '=', 'user'), eb('principal_id', '=', userId)])];
      if (roleIds.length > 0) {
        ors.push(eb.and([eb('principal_type', '=', 'role'), eb('principal_id', 'in', roleIds)]));
      }
      ors.push(eb('principal_type', 'is', null));
      return eb.or(ors);
    })
    .execute();
  return rows.map(norm);
}

export async function maxRolePosition(d: Kysely<Database>): Promise<number> {
  const row = await d
    .selectFrom('client_config_rules')
    .select((eb) => eb.fn.max('position').as('p'))
    .where('principal_type', '=', 'role')
    .executeTakeFirst();
  return row?.p == null ? 0 : Number(row.p);
}

export async function insertRule(d: Kysely<Database>, row: RuleRow): Promise<void> {
  await d.insertInto('client_config_rules').values(row).execute();
}

export async function updateRule(
  d: Kysely<Database>,
  id: string,
  changes: Partial<Omit<RuleRow, 'id' | 'created_at'>>,
): Promise<void> {
  await d.updateTable('client_config_rules').set(changes).where('id', '=', id).execute();
}

export async function deleteRule(d: Kysely<Database>, id: string): Promise<void> {
  await d.deleteFrom('client_config_rules').where('id', '=', id).execute();
}

/** Removes the rule of a user or role; for the identity area to call when it deletes one. */
export async function deleteRulesForPrincipal(
  d: Kysely<Database>,
  type: 'user' | 'role',
  principalId: string,
): Promise<void> {
  await d
    .deleteFrom('client_config_rules')
    .where('principal_type', '=', type)
    .where('principal_id', '=', principalId)
    .execute();
}

export async function principalExists(
  d: Kysely<Database>,
  type: 'user' | 'role',
  id: string,
): Promise<boolean> {
  const row =
    type === 'user'
      ? await d.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()
      : await d.selectFrom('roles').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}
