import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Actor } from '../http/auth.js';
import { parseStoredJson } from '../shared/json.js';
import { EffectivePermissions, type FolderShape, type GrantShape } from './engine.js';
import { Perms } from './permission-set.js';
import type { PermissionFlags } from '@strongroom/protocol';

/** The caller as the permission engine sees them. */
export type Principal = Pick<Actor, 'userId' | 'roleIds' | 'isAdministrator'>;

/** Every access level as permission masks (one query). */
export async function loadLevels(db: Kysely<Database>): Promise<Map<string, Perms>> {
  const rows = await db
    .selectFrom('access_levels')
    .select(['id', 'allow', 'grant_flags'])
    .execute();
  return new Map(
    rows.map((r) => [
      r.id,
      Perms.fromFlags({
        allow: parseStoredJson<PermissionFlags['allow']>(r.allow, []),
        grant: parseStoredJson<PermissionFlags['grant']>(r.grant_flags, []),
      }),
    ]),
  );
}

/** The shape of the whole folder tree, archived folders included (one query). */
export async function loadFolderShapes(db: Kysely<Database>): Promise<Map<string, FolderShape>> {
  const rows = await db
    .selectFrom('folders')
    .select(['id', 'parent_id', 'block_inheritance'])
    .execute();
  return new Map(
    rows.map((r) => [
      r.id,
      { id: r.id, parentId: r.parent_id, blockInheritance: r.block_inheritance === 1 },
    ]),
  );
}

/** The grants made to the user or to any of their roles (one query). */
export async function loadPrincipalGrants(
  db: Kysely<Database>,
  principal: Principal,
): Promise<GrantShape[]> {
  const ids = [principal.userId, ...principal.roleIds];
  const rows = await db
    .selectFrom('grants')
    .select([
      'node_type',
      'node_id',
      'access_level_id',
      'expires_at',
      'principal_type',
      'principal_id',
    ])
    .where('principal_id', 'in', ids)
    .execute();
  const roles = new Set(principal.roleIds);
  return rows
    .filter((r) =>
      r.principal_type === 'user' ? r.principal_id === principal.userId : roles.has(r.principal_id),
    )
    .map((r) => ({
      nodeType: r.node_type === 'entry' ? 'entry' : 'folder',
      nodeId: r.node_id,
      accessLevelId: r.access_level_id,
      expiresAt: r.expires_at,
    }));
}

/**
 * Effective permissions of the caller over the whole vault in three queries, whatever the size
 * of the tree. Administrators hold every permission everywhere.
 */
export async function loadEffectivePermissions(
  db: Kysely<Database>,
  principal: Principal,
  now: number,
): Promise<EffectivePermissions> {
  const [folders, grants, levels] = await Promise.all([
    loadFolderShapes(db),
    principal.isAdministrator ? Promise.resolve([]) : loadPrincipalGrants(db, principal),
    principal.isAdministrator ? Promise.resolve(new Map<string, Perms>()) : loadLevels(db),
  ]);
  return new EffectivePermissions(folders, grants, levels, now, principal.isAdministrator);
}
