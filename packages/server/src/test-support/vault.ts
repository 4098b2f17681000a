import { randomUUID } from 'node:crypto';
import type { Services } from '../compose.js';
import type { Actor } from '../http/auth.js';
import type { Selectable } from 'kysely';
import type { AuditLogTable } from '../db/schema.js';
import { testActor } from './actors.js';

/**
 * Test fixture of the vault area: actors, grants and block-inheritance flags written directly
 * (so vault tests don't depend on the access routes), and audit records read back.
 */

type Svc = Pick<Services, 'store' | 'clock'>;

export function adminActor(loginName = 'admin'): Actor {
  return testActor({ userId: randomUUID(), loginName, isAdministrator: true });
}

export function userActor(loginName: string, roleIds: string[] = []): Actor {
  return testActor({ userId: randomUUID(), loginName, roleIds });
}

/** Grants a built-in level ('read-only', 'full', 'full-grant'…) or a level id on a node. */
export async function grant(
  services: Svc,
  opts: {
    node: string;
    nodeType?: 'folder' | 'entry';
    to: string;
    principalType?: 'user' | 'role';
    level: string;
    expiresAt?: number | null;
  },
): Promise<string> {
  const db = services.store.db;
  const level = await db
    .selectFrom('access_levels')
    .select('id')
    .where((eb) => eb.or([eb('builtin_key', '=', opts.level), eb('id', '=', opts.level)]))
    .executeTakeFirstOrThrow();
  const id = randomUUID();
  await db
    .insertInto('grants')
    .values({
      id,
      node_type: opts.nodeType ?? 'folder',
      node_id: opts.node,
      principal_type: opts.principalType ?? 'user',
      principal_id: opts.to,
      access_level_id: level.id,
      expires_at: opts.expiresAt ?? null,
      created_at: services.clock.now(),
      created_by: null,
    })
    .execute();
  return id;
}

/** A custom access level with exactly these A flags (no G flags). */
export async function customLevel(services: Svc, allow: string[]): Promise<string> {
  const id = randomUUID();
  const now = services.clock.now();
  await services.store.db
    .insertInto('access_levels')
    .values({
      id,
      name: `custom-${id}`,
      name_key: `custom-${id}`,
      description: '',
      builtin_key: null,
      allow: JSON.stringify(allow),
      grant_flags: '[]',
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

export async function setBlockInheritance(
  services: Svc,
  folderId: string,
  block: boolean,
): Promise<void> {
  await services.store.db
    .updateTable('folders')
    .set({ block_inheritance: block ? 1 : 0 })
    .where('id', '=', folderId)
    .execute();
}

/** Audit records, oldest first, optionally of one event. */
export async function auditRecords(
  services: Svc,
  event?: string,
): Promise<Selectable<AuditLogTable>[]> {
  let q = services.store.db.selectFrom('audit_log').selectAll();
  if (event) q = q.where('event', '=', event);
  return q.orderBy('seq').execute();
}
