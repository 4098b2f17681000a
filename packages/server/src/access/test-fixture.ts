import { newUuid } from '@strongroom/crypto';
import type { Services } from '../compose.js';

/**
 * Test fixture of the access area: folders, entries and grants inserted directly, so access tests
 * don't depend on the vault service.
 */

type Svc = Pick<Services, 'store' | 'clock'>;

/** Column values the vault would fill in; irrelevant to access. */
export const FOLDER_DEFAULTS = {
  notes: '',
  tags: '[]',
  custom_fields: '[]',
  client_meta: '{}',
  block_inheritance: 0,
} as const;
export const ENTRY_DEFAULTS = {
  username: '',
  url: '',
  tags: '[]',
  client_meta: '{}',
  version: 1,
} as const;

/** The id of the root folder, creating one if the vault has not. */
export async function rootFolderId(services: Svc): Promise<string> {
  const db = services.store.db;
  const found = await db
    .selectFrom('folders')
    .select('id')
    .where('kind', '=', 'root')
    .executeTakeFirst();
  if (found) return found.id;
  const id = newUuid();
  const now = services.clock.now();
  await db
    .insertInto('folders')
    .values({
      ...FOLDER_DEFAULTS,
      id,
      parent_id: null,
      name: 'Root',
      kind: 'root',
      created_at: now,
      modified_at: now,
    })
    .execute();
  return id;
}

export async function insertFolder(
  services: Svc,
  parentId: string,
  name: string,
  opts: { block?: boolean; archived?: boolean; kind?: string } = {},
): Promise<string> {
  const id = newUuid();
  const now = services.clock.now();
  await services.store.db
    .insertInto('folders')
    .values({
      ...FOLDER_DEFAULTS,
      id,
      parent_id: parentId,
      name,
      kind: opts.kind ?? 'folder',
      block_inheritance: opts.block ? 1 : 0,
      created_at: now,
      modified_at: now,
      archived_at: opts.archived ? now : null,
    })
    .execute();
  return id;
}

export async function insertEntry(
  services: Svc,
  folderId: string,
  name: string,
  opts: { archived?: boolean } = {},
): Promise<string> {
  const id = newUuid();
  const now = services.clock.now();
  await services.store.db
    .insertInto('entries')
    .values({
      ...ENTRY_DEFAULTS,
      id,
      folder_id: folderId,
      name,
      created_at: now,
      modified_at: now,
      archived_at: opts.archived ? now : null,
    })
    .execute();
  return id;
}

/** Id of a level by built-in key ('full-grant'), name or id. */
export async function levelId(services: Svc, keyOrName: string): Promise<string> {
  const row = await services.store.db
    .selectFrom('access_levels')
    .select('id')
    .where((eb) =>
      eb.or([
        eb('builtin_key', '=', keyOrName),
        eb('name', '=', keyOrName),
        eb('id', '=', keyOrName),
      ]),
    )
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Inserts a grant directly (no rules, no audit) and returns its id. */
export async function insertGrant(
  services: Svc,
  g: {
    node: { folder: string } | { entry: string };
    user?: string;
    role?: string;
    level: string;
    expiresAt?: number | null;
  },
): Promise<string> {
  const id = newUuid();
  const isFolder = 'folder' in g.node;
  await services.store.db
    .insertInto('grants')
    .values({
      id,
      node_type: isFolder ? 'folder' : 'entry',
      node_id: 'folder' in g.node ? g.node.folder : g.node.entry,
      principal_type: g.user !== undefined ? 'user' : 'role',
      principal_id: g.user ?? g.role ?? '',
      access_level_id: await levelId(services, g.level),
      expires_at: g.expiresAt ?? null,
      created_at: services.clock.now(),
      created_by: null,
    })
    .execute();
  return id;
}

/** Content of the tables the access area changes, to prove a refusal changed nothing. */
export async function accessState(services: Svc): Promise<string> {
  const db = services.store.db;
  const [levels, grants, folders] = await Promise.all([
    db.selectFrom('access_levels').selectAll().orderBy('id').execute(),
    db.selectFrom('grants').selectAll().orderBy('id').execute(),
    db.selectFrom('folders').select(['id', 'block_inheritance']).orderBy('id').execute(),
  ]);
  return JSON.stringify({ levels, grants, folders });
}

/** Audit records of an event, newest last, with details parsed. */
export async function auditRecords(services: Svc, event: string) {
  const rows = await services.store.db
    .selectFrom('audit_log')
    .select(['event', 'status', 'target', 'details', 'login_name', 'user_id'])
    .where('event', '=', event)
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}
