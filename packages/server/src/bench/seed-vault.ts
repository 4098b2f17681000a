import { APP_PERMISSIONS } from '@strongroom/protocol';
import type { Services } from '../compose.js';
import type { Actor } from '../http/auth.js';
import { identityOf } from '../users/identity.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID } from '../users/role-graph.js';
import { SYSTEM_ACTOR } from '../users/context.js';

export interface BenchVault {
  /** A user who sees every entry and may take each offline (Full + Offline on Root). */
  seer: { loginName: string; password: string };
  entryIds: string[];
  folderIds: string[];
  seconds: number;
}

export interface BenchVaultShape {
  folders: number;
  entries: number;
  users: number;
  roles: number;
  grants: number;
  /** Every `attachmentEvery`-th entry gets an attachment (0 = none). */
  attachmentEvery?: number;
  /** Size of those attachments in bytes (default 4 KiB). */
  attachmentBytes?: number;
}

/**
 * Seeds a vault of the given shape through the real services (sealed secrets, versions, audit
 * records), so what is measured is what a real server stores.
 */
export async function seedBenchVault(
  services: Services,
  shape: BenchVaultShape,
): Promise<BenchVault> {
  const started = performance.now();
  const { users, roles } = identityOf(services);
  const admin = await users.create(SYSTEM_ACTOR, {
    loginName: 'bench-admin',
    password: 'Bench-admin-password-1',
    administrator: true,
    mustChangePassword: false,
  });
  const actor: Actor = {
    userId: admin.id,
    loginName: admin.loginName,
    sessionId: 'bench',
    isAdministrator: true,
    appPermissions: new Set(APP_PERMISSIONS),
    roleIds: [ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID],
    mustChangePassword: false,
    ip: '',
  };

  const roleIds: string[] = [];
  for (let i = 0; i < shape.roles; i++) {
    roleIds.push((await roles.create(SYSTEM_ACTOR, { name: `bench-role-${i}` })).id);
  }
  const userIds: string[] = [];
  for (let i = 0; i < shape.users; i++) {
    const u = await users.create(SYSTEM_ACTOR, {
      loginName: `bench-user-${i}`,
      password: `Bench-user-password-${i}`,
      roles: roleIds.length > 0 ? [roleIds[i % roleIds.length]!] : [],
      mustChangePassword: false,
    });
    userIds.push(u.id);
  }
  const seer = userIds[0]!;

  // Folders: a two-level tree under Root (top-level folders with sub-folders).
  const folderIds: string[] = [];
  const top = Math.max(1, Math.round(Math.sqrt(shape.folders)));
  const topIds: string[] = [];
  for (let i = 0; i < top && folderIds.length < shape.folders; i++) {
    const f = await services.vault.createFolder(actor, {
      parentId: services.vault.rootId,
      name: `Area ${i}`,
    });
    topIds.push(f.id);
    folderIds.push(f.id);
  }
  for (let i = 0; folderIds.length < shape.folders; i++) {
    const parentId = topIds[i % topIds.length]!;
    const f = await services.vault.createFolder(actor, { parentId, name: `Group ${i}` });
    folderIds.push(f.id);
  }

  const entryIds: string[] = [];
  const attachment = new Uint8Array(shape.attachmentBytes ?? 4096).fill(65);
  for (let i = 0; i < shape.entries; i++) {
    const folderId = folderIds[i % folderIds.length]!;
    const withAttachment = shape.attachmentEvery ? i % shape.attachmentEvery === 0 : false;
    const e = await services.vault.createEntry(actor, {
      folderId,
      name: `server-${i}`,
      username: `svc-${i}`,
      password: `Bench-secret-${i}-xyz`,
      url: `https://host-${i}.bench.example`,
      notes: `Benchmark entry ${i}`,
      tags: ['bench', `t${i % 10}`],
      customFields: [
        { name: 'port', value: String(1000 + (i % 1000)), protected: false },
        { name: 'pin', value: `p-${i}`, protected: true },
      ],
      ...(withAttachment ? { attachments: [{ fileName: `cfg-${i}.txt`, data: attachment }] } : {}),
    });
    entryIds.push(e.id);
  }

  // Grants: the seer reads everything from Root; the rest spread over folders, users and roles.
  await services.store.transaction(async (trx) => {
    const levels = ['read-only', 'full', 'full-offline', 'full-grant'];
    await services.access.createGrant(trx, {
      nodeType: 'folder',
      nodeId: services.vault.rootId,
      principalType: 'user',
      principalId: seer,
      builtinLevel: 'full-offline',
      actor: SYSTEM_ACTOR,
    });
    for (let i = 1; i < shape.grants; i++) {
      const toRole = i % 3 === 0 && roleIds.length > 0;
      await services.access.createGrant(trx, {
        nodeType: 'folder',
        nodeId: folderIds[(i * 7) % folderIds.length]!,
        principalType: toRole ? 'role' : 'user',
        principalId: toRole ? roleIds[i % roleIds.length]! : userIds[i % userIds.length]!,
        builtinLevel: levels[i % levels.length]!,
        actor: SYSTEM_ACTOR,
      });
    }
  });

  return {
    seer: { loginName: 'bench-user-0', password: 'Bench-user-password-0' },
    entryIds,
    folderIds,
    seconds: (performance.now() - started) / 1000,
  };
}
