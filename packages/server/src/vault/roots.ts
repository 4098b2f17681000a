import { newUuid } from '@strongroom/crypto';
import type { Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';

export const ROOT_NAME = 'Root';
export const PRIVATE_ROOT_NAME = 'Private Folders';

/** The system folders every vault has. */
export interface VaultRoots {
  rootId: string;
  privateRootId: string;
}

/** Folder kinds that are part of the system: never renamed, moved, archived or deleted. */
export const SYSTEM_FOLDER_KINDS: ReadonlySet<string> = new Set(['root', 'private-root']);

async function findRoots(store: Store): Promise<Partial<VaultRoots>> {
  const rows = await store.db
    .selectFrom('folders')
    .select(['id', 'kind'])
    .where('kind', 'in', ['root', 'private-root'])
    .execute();
  return {
    rootId: rows.find((r) => r.kind === 'root')?.id,
    privateRootId: rows.find((r) => r.kind === 'private-root')?.id,
  };
}

/**
 * Creates `Root` (kind 'root', no parent) and `Private Folders` (kind 'private-root', under Root)
 * when missing, and returns their ids. Idempotent; two processes starting at once on one
 * database are serialised by an exclusive lock, and the loser finds the winner's folders.
 */
export async function ensureVaultRoots(store: Store, clock: Clock): Promise<VaultRoots> {
  const found = await findRoots(store);
  if (found.rootId && found.privateRootId) {
    return { rootId: found.rootId, privateRootId: found.privateRootId };
  }
  return store.exclusive('vault.roots', async (trx) => {
    const rows = await trx
      .selectFrom('folders')
      .select(['id', 'kind'])
      .where('kind', 'in', ['root', 'private-root'])
      .execute();
    const now = clock.now();
    const base = {
      notes: '',
      tags: '[]',
      custom_fields: '[]',
      client_meta: '{}',
      block_inheritance: 0,
      owner_user_id: null,
      expires_at: null,
      created_at: now,
      modified_at: now,
      archived_at: null,
    };
    let rootId = rows.find((r) => r.kind === 'root')?.id;
    if (!rootId) {
      rootId = newUuid();
      await trx
        .insertInto('folders')
        .values({ ...base, id: rootId, parent_id: null, name: ROOT_NAME, kind: 'root' })
        .execute();
    }
    let privateRootId = rows.find((r) => r.kind === 'private-root')?.id;
    if (!privateRootId) {
      privateRootId = newUuid();
      await trx
        .insertInto('folders')
        .values({
          ...base,
          id: privateRootId,
          parent_id: rootId,
          name: PRIVATE_ROOT_NAME,
          kind: 'private-root',
        })
        .execute();
    }
    return { rootId, privateRootId };
  });
}
