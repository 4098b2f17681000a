import type { Insertable, Kysely, Selectable } from 'kysely';
import type { AccessLevelTable, Database, GrantTable } from '../db/schema.js';

/** Kysely queries of the access area: access levels and grants. No rules here. */

export type LevelRow = Selectable<AccessLevelTable>;
export type GrantRow = Selectable<GrantTable>;

export type NodeType = 'folder' | 'entry';
export type PrincipalType = 'user' | 'role';

/** A grant with the names a listing shows. */
export interface GrantListRow extends GrantRow {
  level_name: string;
  user_login_name: string | null;
  user_display_name: string | null;
  role_name: string | null;
}

export async function listLevels(db: Kysely<Database>): Promise<LevelRow[]> {
  return db.selectFrom('access_levels').selectAll().execute();
}

export async function findLevel(db: Kysely<Database>, id: string): Promise<LevelRow | undefined> {
  return db.selectFrom('access_levels').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findLevelByBuiltinKey(
  db: Kysely<Database>,
  key: string,
): Promise<LevelRow | undefined> {
  return db
    .selectFrom('access_levels')
    .selectAll()
    .where('builtin_key', '=', key)
    .executeTakeFirst();
}

export async function findLevelByNameKey(
  db: Kysely<Database>,
  nameKey: string,
): Promise<LevelRow | undefined> {
  return db
    .selectFrom('access_levels')
    .selectAll()
    .where('name_key', '=', nameKey)
    .executeTakeFirst();
}

export async function insertLevel(
  db: Kysely<Database>,
  row: Insertable<AccessLevelTable>,
): Promise<void> {
  await db.insertInto('access_levels').values(row).execute();
}

/** Inserts a level unless one with the same id, name or built-in key exists. */
export async function insertLevelIfAbsent(
  db: Kysely<Database>,
  row: Insertable<AccessLevelTable>,
): Promise<void> {
  await db
    .insertInto('access_levels')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function updateLevel(
  db: Kysely<Database>,
  id: string,
  changes: Partial<
    Pick<
      AccessLevelTable,
      'name' | 'name_key' | 'description' | 'allow' | 'grant_flags' | 'updated_at'
    >
  >,
): Promise<void> {
  await db.updateTable('access_levels').set(changes).where('id', '=', id).execute();
}

export async function deleteLevel(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('access_levels').where('id', '=', id).execute();
}

/** Number of grants per access level id (levels without grants are absent). */
export async function grantCountsByLevel(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('grants')
    .select(['access_level_id', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('access_level_id')
    .execute();
  return new Map(rows.map((r) => [r.access_level_id, Number(r.n)]));
}

export async function countGrantsOfLevel(db: Kysely<Database>, levelId: string): Promise<number> {
  const row = await db
    .selectFrom('grants')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('access_level_id', '=', levelId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Moves every grant of level `from` to level `to`; returns how many moved. */
export async function reassignGrants(
  db: Kysely<Database>,
  from: string,
  to: string,
): Promise<number> {
  const res = await db
    .updateTable('grants')
    .set({ access_level_id: to })
    .where('access_level_id', '=', from)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function findGrant(db: Kysely<Database>, id: string): Promise<GrantRow | undefined> {
  return db.selectFrom('grants').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function insertGrant(
  db: Kysely<Database>,
  row: Insertable<GrantTable>,
): Promise<void> {
  await db.insertInto('grants').values(row).execute();
}

export async function deleteGrant(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('grants').where('id', '=', id).execute();
}

/** An identical grant (same node, principal and level), if one exists. */
export async function findSameGrant(
  db: Kysely<Database>,
  g: Pick<
    GrantTable,
    'node_type' | 'node_id' | 'principal_type' | 'principal_id' | 'access_level_id'
  >,
): Promise<GrantRow | undefined> {
  return db
    .selectFrom('grants')
    .selectAll()
    .where('node_type', '=', g.node_type)
    .where('node_id', '=', g.node_id)
    .where('principal_type', '=', g.principal_type)
    .where('principal_id', '=', g.principal_id)
    .where('access_level_id', '=', g.access_level_id)
    .executeTakeFirst();
}

/** Grants with their level's name and their principal's names (one join, no query per row). */
function grantListQuery(db: Kysely<Database>) {
  return db
    .selectFrom('grants')
    .innerJoin('access_levels', 'access_levels.id', 'grants.access_level_id')
    .leftJoin('users', (j) =>
      j.onRef('users.id', '=', 'grants.principal_id').on('grants.principal_type', '=', 'user'),
    )
    .leftJoin('roles', (j) =>
      j.onRef('roles.id', '=', 'grants.principal_id').on('grants.principal_type', '=', 'role'),
    )
    .selectAll('grants')
    .select([
      'access_levels.name as level_name',
      'users.login_name as user_login_name',
      'users.display_name as user_display_name',
      'roles.name as role_name',
    ]);
}

/**
 * The grants made on the given folders and on the given entry, with the names of their principals
 * and levels (one query).
 */
export async function listNodeGrants(
  db: Kysely<Database>,
  folderIds: readonly string[],
  entryId: string | null,
): Promise<GrantListRow[]> {
  if (folderIds.length === 0 && entryId === null) return [];
  return grantListQuery(db)
    .where((eb) => {
      const ors = [];
      if (folderIds.length > 0) {
        ors.push(
          eb.and([eb('grants.node_type', '=', 'folder'), eb('grants.node_id', 'in', folderIds)]),
        );
      }
      if (entryId !== null) {
        ors.push(
          eb.and([eb('grants.node_type', '=', 'entry'), eb('grants.node_id', '=', entryId)]),
        );
      }
      return eb.or(ors);
    })
    .execute();
}

/** Grants whose remove-access-after time has come (`expires_at <= now`). */
export async function listExpiredGrants(
  db: Kysely<Database>,
  now: number,
): Promise<GrantListRow[]> {
  return grantListQuery(db)
    .where('grants.expires_at', 'is not', null)
    .where('grants.expires_at', '<=', now)
    .orderBy('grants.expires_at')
    .orderBy('grants.id')
    .execute();
}

export async function deleteGrantsByIds(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<number> {
  let n = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const res = await db
      .deleteFrom('grants')
      .where('id', 'in', ids.slice(i, i + 500))
      .executeTakeFirst();
    n += Number(res.numDeletedRows);
  }
  return n;
}

/** Deletes every grant made on the given nodes (a node deleted for good takes its grants along). */
export async function deleteGrantsOnNodes(
  db: Kysely<Database>,
  nodeType: NodeType,
  nodeIds: readonly string[],
): Promise<number> {
  let n = 0;
  for (let i = 0; i < nodeIds.length; i += 500) {
    const res = await db
      .deleteFrom('grants')
      .where('node_type', '=', nodeType)
      .where('node_id', 'in', nodeIds.slice(i, i + 500))
      .executeTakeFirst();
    n += Number(res.numDeletedRows);
  }
  return n;
}

/** Deletes every grant made to a user or role (the principal is deleted). */
export async function deleteGrantsOfPrincipal(
  db: Kysely<Database>,
  principalType: PrincipalType,
  principalId: string,
): Promise<number> {
  const res = await db
    .deleteFrom('grants')
    .where('principal_type', '=', principalType)
    .where('principal_id', '=', principalId)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

export async function principalExists(
  db: Kysely<Database>,
  type: PrincipalType,
  id: string,
): Promise<boolean> {
  const row =
    type === 'user'
      ? await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst()
      : await db.selectFrom('roles').select('id').where('id', '=', id).executeTakeFirst();
  return row !== undefined;
}

export interface EntryRef {
  id: string;
  folder_id: string;
  name: string;
  archived_at: number | null;
}

export async function findEntry(db: Kysely<Database>, id: string): Promise<EntryRef | undefined> {
  return db
    .selectFrom('entries')
    .select(['id', 'folder_id', 'name', 'archived_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function findEntries(
  db: Kysely<Database>,
  ids: readonly string[],
): Promise<EntryRef[]> {
  const out: EntryRef[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    out.push(
      ...(await db
        .selectFrom('entries')
        .select(['id', 'folder_id', 'name', 'archived_at'])
        .where('id', 'in', ids.slice(i, i + 500))
        .execute()),
    );
  }
  return out;
}

export async function setBlockInheritance(
  db: Kysely<Database>,
  folderId: string,
  block: boolean,
  now: number,
): Promise<void> {
  await db
    .updateTable('folders')
    .set({ block_inheritance: block ? 1 : 0, modified_at: now })
    .where('id', '=', folderId)
    .execute();
}
