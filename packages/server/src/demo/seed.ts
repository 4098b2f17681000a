import { APP_PERMISSIONS } from '@strongroom/protocol';
import type { Services } from '../compose.js';
import type { Actor } from '../http/auth.js';
import type { AuditActor } from '../audit/recorder.js';
import { identityOf } from '../users/identity.js';
import { ensureBuiltinRoles } from '../users/first-start.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID } from '../users/role-graph.js';
import { countUsers } from '../users/repository.js';

/** Every demo user's password (spec demo.md): for the demo only. */
export const DEMO_PASSWORD = 'Demo-password-1';
/** `meta` key set once the demo organisation has been seeded. */
export const DEMO_META_KEY = 'demo.seeded_at';
const DEMO_NOTE = 'DEMO DATA — not a real credential.';
const DAY = 24 * 3600_000;

export interface DemoOrganisation {
  users: Record<'admin' | 'alice' | 'bob' | 'carol', string>;
  roles: Record<'operations' | 'engineering' | 'developers', string>;
  folders: Record<string, string>;
  entries: Record<string, string>;
}

export async function isDemo(services: Pick<Services, 'store'>): Promise<boolean> {
  const row = await services.store.db
    .selectFrom('meta')
    .select('value')
    .where('key', '=', DEMO_META_KEY)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Seeds the demo organisation of the specification (demo.md) exactly: users, passwords, roles,
 * folders, entries and grants. Refused on a data store that already holds other data; a store
 * that already holds the demo is left as it is (returns null).
 */
export async function seedDemo(services: Services): Promise<DemoOrganisation | null> {
  if (await isDemo(services)) return null;
  if ((await countUsers(services.store.db)) > 0) {
    throw new Error(
      'refusing to seed the demo organisation: this data store already holds other data (use an empty --data-dir)',
    );
  }
  await ensureBuiltinRoles(services.store, services.clock);
  const { users, roles } = identityOf(services);
  const by: AuditActor = { userId: null, loginName: 'strongroom-demo', ip: '' };
  const user = (loginName: string, displayName: string, roleIds: string[], administrator = false) =>
    users.create(by, {
      loginName,
      password: DEMO_PASSWORD,
      displayName: `${displayName} (demo)`,
      roles: roleIds,
      administrator,
      mustChangePassword: false,
    });

  const operations = await roles.create(by, { name: 'Operations', description: DEMO_NOTE });
  const engineering = await roles.create(by, { name: 'Engineering', description: DEMO_NOTE });
  const developers = await roles.create(by, { name: 'Developers', description: DEMO_NOTE });
  await roles.addSubRole(by, engineering.id, developers.id);

  const admin = await user('admin', 'Administrator', [], true);
  const alice = await user('alice@corp.example', 'Alice', [operations.id]);
  const bob = await user('bob', 'Bob', [developers.id]);
  const carol = await user('carol', 'Carol', []);

  const actor: Actor = {
    userId: admin.id,
    loginName: admin.loginName,
    sessionId: 'demo-seed',
    isAdministrator: true,
    appPermissions: new Set(APP_PERMISSIONS),
    roleIds: [ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID],
    mustChangePassword: false,
    ip: '',
  };
  const { vault, access } = services;
  const folders: Record<string, string> = {};
  const folder = async (path: string, parentPath: string) => {
    const parentId = parentPath === 'Root' ? vault.rootId : folders[parentPath]!;
    const name = path.split('/').pop()!;
    folders[path] = (await vault.createFolder(actor, { parentId, name, notes: DEMO_NOTE })).id;
  };
  await folder('Root/Infrastructure', 'Root');
  await folder('Root/Infrastructure/Servers', 'Root/Infrastructure');
  await folder('Root/Infrastructure/Network', 'Root/Infrastructure');
  await folder('Root/Infrastructure/Legacy', 'Root/Infrastructure');
  await folder('Root/Development', 'Root');
  await folder('Root/Shared', 'Root');
  await access.setBlockInheritance(actor, folders['Root/Infrastructure/Legacy']!, true);

  const entries: Record<string, string> = {};
  const entry = async (
    folderPath: string,
    name: string,
    extra: {
      customFields?: Array<{ name: string; value: string; protected: boolean }>;
      attachments?: Array<{ fileName: string; data: Uint8Array }>;
    } = {},
  ) => {
    const created = await vault.createEntry(actor, {
      folderId: folders[folderPath]!,
      name,
      username: `${name}-user`,
      password: `demo-${name}-P4ss!`,
      url: `https://${name}.corp.example`,
      notes: DEMO_NOTE,
      tags: ['demo'],
      ...extra,
    });
    entries[`${folderPath}/${name}`] = created.id;
  };
  const text = (s: string) => new TextEncoder().encode(s);
  await entry('Root/Infrastructure/Servers', 'db-prod', {
    customFields: [
      { name: 'port', value: '5432', protected: false },
      { name: 'root-password', value: 'demo-db-root-S3cret!', protected: true },
    ],
  });
  await entry('Root/Infrastructure/Servers', 'web-01');
  await entry('Root/Infrastructure/Servers', 'web-02');
  await entry('Root/Infrastructure/Network', 'core-switch');
  await entry('Root/Infrastructure/Network', 'vpn', {
    attachments: [
      {
        fileName: 'vpn.conf',
        data: text('# demo VPN configuration\nremote vpn.corp.example 1194\n'),
      },
    ],
  });
  await entry('Root/Infrastructure/Legacy', 'old-mainframe');
  await entry('Root/Development', 'git', {
    customFields: [{ name: 'cf', value: 'demo', protected: false }],
    attachments: [{ fileName: 'readme.txt', data: text('Demo repository credentials.\n') }],
  });
  await entry('Root/Development', 'ci-token');
  await entry('Root/Shared', 'wifi');
  await entry('Root/Shared', 'printer');

  const now = services.clock.now();
  await services.store.transaction(async (trx) => {
    const grant = (
      path: string,
      principalType: 'user' | 'role',
      principalId: string,
      builtinLevel: string,
      expiresAt: number | null = null,
    ) =>
      access.createGrant(trx, {
        nodeType: 'folder',
        nodeId: folders[path]!,
        principalType,
        principalId,
        builtinLevel,
        expiresAt,
        actor: by,
      });
    await grant('Root/Infrastructure', 'role', operations.id, 'full-offline');
    await grant('Root/Development', 'user', alice.id, 'read-only');
    await grant('Root/Development', 'role', engineering.id, 'full');
    await grant('Root/Shared', 'user', bob.id, 'read-only');
    await grant('Root/Shared', 'user', carol.id, 'full-offline', now + 30 * DAY);
    await trx
      .insertInto('meta')
      .values({ key: DEMO_META_KEY, value: new Date(now).toISOString() })
      .execute();
  });

  return {
    users: { admin: admin.id, alice: alice.id, bob: bob.id, carol: carol.id },
    roles: { operations: operations.id, engineering: engineering.id, developers: developers.id },
    folders,
    entries,
  };
}
