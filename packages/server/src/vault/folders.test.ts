import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../shared/errors.js';
import { openStore } from '../db/connect.js';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import {
  adminActor,
  auditRecords,
  grant,
  setBlockInheritance,
  userActor,
} from '../test-support/vault.js';
import { createUser } from '../test-support/identity.js';
import { ensureVaultRoots } from './roots.js';
import type { VaultService } from './service.js';

/** The error code a promise rejects with. */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'ok';
}

describe.each(DIALECTS)('vault folders (%s)', (dialect) => {
  let ctx: TestContext;
  let vault: VaultService;
  const admin = adminActor();

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    vault = ctx.services.vault;
  });
  afterAll(async () => {
    await ctx.close();
  });

  const count = async (
    table: 'folders' | 'entries' | 'grants' | 'attachments' | 'entry_versions',
  ) => (await ctx.services.store.db.selectFrom(table).select('id').execute()).length;

  it('creates Root and Private Folders once, even when two processes start at once', async () => {
    const rows = await ctx.services.store.db
      .selectFrom('folders')
      .selectAll()
      .where('kind', 'in', ['root', 'private-root'])
      .execute();
    expect(rows.map((r) => [r.kind, r.name]).sort()).toEqual([
      ['private-root', 'Private Folders'],
      ['root', 'Root'],
    ]);
    const root = rows.find((r) => r.kind === 'root')!;
    expect(root.parent_id).toBeNull();
    expect(rows.find((r) => r.kind === 'private-root')!.parent_id).toBe(root.id);

    // Two more "processes" (own connections) on the same, freshly emptied database. SQLite is
    // one server process (its driver is synchronous, so two in-process writers would block
    // each other): there the two start one after the other.
    await ctx.services.store.db.deleteFrom('folders').execute();
    const cfg = ctx.services.config;
    const opts = { databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, pgSchema: cfg.pgSchema };
    const a = openStore(opts);
    const b = openStore(opts);
    try {
      const [ra, rb] =
        dialect === 'postgres'
          ? await Promise.all([ensureVaultRoots(a, ctx.clock), ensureVaultRoots(b, ctx.clock)])
          : [await ensureVaultRoots(a, ctx.clock), await ensureVaultRoots(b, ctx.clock)];
      expect(ra).toEqual(rb);
      expect(await ensureVaultRoots(a, ctx.clock)).toEqual(ra);
    } finally {
      await a.close();
      await b.close();
    }
    const after = await ctx.services.store.db
      .selectFrom('folders')
      .select(['id', 'kind'])
      .execute();
    expect(after.map((r) => r.kind).sort()).toEqual(['private-root', 'root']);
    // Put the composed service's ids back in place for the rest of the suite.
    await ctx.services.store.db.deleteFrom('folders').execute();
    await ctx.services.store.db
      .insertInto('folders')
      .values([
        { ...root, id: vault.rootId },
        {
          ...rows.find((r) => r.kind === 'private-root')!,
          id: vault.privateRootId,
          parent_id: vault.rootId,
        },
      ])
      .execute();
  });

  it('refuses to rename, move, archive or delete the system folders', async () => {
    const f = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Sys target' });
    expect(await codeOf(vault.updateFolder(admin, vault.rootId, { name: 'Top' }))).toBe('conflict');
    expect(await codeOf(vault.updateFolder(admin, vault.privateRootId, { name: 'P' }))).toBe(
      'conflict',
    );
    expect(await codeOf(vault.moveFolder(admin, vault.privateRootId, f.id))).toBe('conflict');
    expect(await codeOf(vault.moveFolder(admin, vault.rootId, f.id))).toBe('conflict');
    expect(await codeOf(vault.archiveFolder(admin, vault.rootId))).toBe('conflict');
    expect(await codeOf(vault.archiveFolder(admin, vault.privateRootId))).toBe('conflict');
    expect(await codeOf(vault.deleteFolder(admin, vault.rootId))).toBe('conflict');
    // Notes of Root may be edited; its name stays.
    const root = await vault.updateFolder(admin, vault.rootId, { notes: 'top of the tree' });
    expect(root.name).toBe('Root');
    expect(root.notes).toBe('top of the tree');
    // Nothing but private folders directly in Private Folders.
    expect(
      await codeOf(vault.createFolder(admin, { parentId: vault.privateRootId, name: 'x' })),
    ).toBe('conflict');
  });

  it('creates folders with every field and round-trips them', async () => {
    const before = await auditRecords(ctx.services, 'Folder Created');
    const f = await vault.createFolder(admin, {
      parentId: vault.rootId,
      name: 'Ops',
      notes: 'operations',
      tags: ['prod', 'PROD', 'eu'],
      customFields: [{ name: 'owner', value: 'team-ops' }],
      clientMeta: { IconId: 48, ForegroundColor: '#ff0000', AutoTypeEnabled: false },
      expiresAt: '2030-01-02T03:04:05.000Z',
    });
    expect(f).toMatchObject({
      parentId: vault.rootId,
      name: 'Ops',
      path: 'Root/Ops',
      visible: true,
      kind: 'folder',
      notes: 'operations',
      tags: ['prod', 'eu'],
      customFields: [{ name: 'owner', value: 'team-ops' }],
      clientMeta: { IconId: 48, ForegroundColor: '#ff0000', AutoTypeEnabled: false },
      expiresAt: '2030-01-02T03:04:05.000Z',
      archivedAt: null,
      blockInheritance: false,
    });
    expect(f.permissions).toContain('addFolders');
    const view = await vault.getFolder(admin, f.id);
    expect(view.folder).toEqual(f);
    const records = await auditRecords(ctx.services, 'Folder Created');
    expect(records.length).toBe(before.length + 1);
    expect(records.at(-1)!.target).toBe('Root/Ops');

    // Sibling names may repeat (as in Pleasant); ids tell them apart.
    const twin = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Ops' });
    expect(twin.id).not.toBe(f.id);
  });

  it('validates names and fields with the field that is wrong', async () => {
    const bad = async (input: Record<string, unknown>) => {
      try {
        await vault.createFolder(admin, { parentId: vault.rootId, name: 'ok', ...input } as never);
      } catch (err) {
        return err instanceof AppError ? [err.code, err.field] : ['thrown', String(err)];
      }
      return ['ok'];
    };
    expect(await bad({ name: 'a/b' })).toEqual(['validation_failed', '/name']);
    expect(await bad({ name: '' })).toEqual(['validation_failed', '/name']);
    expect(await bad({ name: ' padded' })).toEqual(['validation_failed', '/name']);
    expect(await bad({ name: 'x'.repeat(256) })).toEqual(['validation_failed', '/name']);
    expect(await bad({ tags: ['ok', ''] })).toEqual(['validation_failed', '/tags/1']);
    expect(await bad({ clientMeta: { big: 'x'.repeat(17_000) } })).toEqual([
      'validation_failed',
      '/clientMeta',
    ]);
    expect(
      await bad({
        customFields: [
          { name: 'a', value: '1' },
          { name: 'a', value: '2' },
        ],
      }),
    ).toEqual(['validation_failed', '/customFields/1/name']);
    expect(await bad({ expiresAt: 'tomorrow' })).toEqual(['validation_failed', '/expiresAt']);
    expect(await bad({ name: 'x'.repeat(255) })).toEqual(['ok']);
  });

  it('updates a folder partially and audits the changed fields', async () => {
    const f = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Edit me' });
    ctx.clock.advance(1000);
    const u = await vault.updateFolder(admin, f.id, {
      name: 'Edited',
      notes: 'n',
      tags: ['t'],
      customFields: [{ name: 'k', value: 'v' }],
      clientMeta: { IconId: 3 },
      expiresAt: null,
    });
    expect(u).toMatchObject({ name: 'Edited', notes: 'n', tags: ['t'], path: 'Root/Edited' });
    expect(u.modifiedAt).not.toBe(f.modifiedAt);
    const rec = (await auditRecords(ctx.services, 'Folder Updated')).at(-1)!;
    expect(rec.target).toBe('Root/Edited');
    expect(JSON.parse(rec.details)).toEqual({
      fields: ['name', 'notes', 'tags', 'customFields', 'clientMeta'],
      previousPath: 'Root/Edit me',
    });
    // An update that changes nothing writes nothing.
    const n = (await auditRecords(ctx.services)).length;
    await vault.updateFolder(admin, f.id, { notes: 'n' });
    expect((await auditRecords(ctx.services)).length).toBe(n);
  });

  it('checks folder permissions: 404 when invisible, 403 when visible but not allowed', async () => {
    const a = await vault.createFolder(admin, { parentId: vault.rootId, name: 'PermA' });
    const reader = userActor('reader');
    await grant(ctx.services, { node: a.id, to: reader.userId, level: 'read-only' });
    const stranger = userActor('stranger');

    expect(await codeOf(vault.getFolder(stranger, a.id))).toBe('not_found');
    expect(await codeOf(vault.getFolder(reader, a.id))).toBe('ok');
    expect(await codeOf(vault.createFolder(stranger, { parentId: a.id, name: 'x' }))).toBe(
      'not_found',
    );
    expect(await codeOf(vault.createFolder(reader, { parentId: a.id, name: 'x' }))).toBe(
      'not_allowed',
    );
    expect(await codeOf(vault.updateFolder(reader, a.id, { notes: 'x' }))).toBe('not_allowed');
    expect(await codeOf(vault.updateFolder(stranger, a.id, { notes: 'x' }))).toBe('not_found');
    expect(await codeOf(vault.archiveFolder(reader, a.id))).toBe('not_allowed');

    const writer = userActor('writer');
    await grant(ctx.services, { node: a.id, to: writer.userId, level: 'full' });
    const sub = await vault.createFolder(writer, { parentId: a.id, name: 'Sub' });
    expect(sub.path).toBe('Root/PermA/Sub');
    expect(sub.permissions).not.toContain('viewEntryOffline');
    const same = await codeOf(vault.getFolder(stranger, sub.id));
    const unknown = await codeOf(vault.getFolder(stranger, '6f1c2a9e-0000-4000-8000-000000000001'));
    expect([same, unknown]).toEqual(['not_found', 'not_found']);
  });

  it('moves folders with Move Folders on the source parent and the destination only', async () => {
    const src = await vault.createFolder(admin, { parentId: vault.rootId, name: 'MvSrc' });
    const dst = await vault.createFolder(admin, { parentId: vault.rootId, name: 'MvDst' });
    const child = await vault.createFolder(admin, { parentId: src.id, name: 'Child' });
    const deep = await vault.createFolder(admin, { parentId: child.id, name: 'Deep' });
    const user = userActor('mover');
    await grant(ctx.services, { node: src.id, to: user.userId, level: 'full' });
    await grant(ctx.services, { node: dst.id, to: user.userId, level: 'read-only' });

    expect(await codeOf(vault.moveFolder(user, child.id, dst.id))).toBe('not_allowed');
    await grant(ctx.services, { node: dst.id, to: user.userId, level: 'full' });
    const moved = await vault.moveFolder(user, child.id, dst.id);
    expect(moved.path).toBe('Root/MvDst/Child');
    expect((await vault.getFolder(admin, deep.id)).folder.path).toBe('Root/MvDst/Child/Deep');
    const rec = (await auditRecords(ctx.services, 'Folder Moved')).at(-1)!;
    expect(rec.target).toBe('Root/MvDst/Child');
    expect(JSON.parse(rec.details)).toEqual({
      from: 'Root/MvSrc/Child',
      to: 'Root/MvDst/Child',
    });

    // Never into itself or below itself.
    expect(await codeOf(vault.moveFolder(admin, child.id, child.id))).toBe('conflict');
    expect(await codeOf(vault.moveFolder(admin, child.id, deep.id))).toBe('conflict');
    expect(await codeOf(vault.moveFolder(admin, dst.id, deep.id))).toBe('conflict');
    expect((await vault.getFolder(admin, child.id)).folder.parentId).toBe(dst.id);
    // An invisible destination is not found.
    const hidden = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Hidden' });
    expect(await codeOf(vault.moveFolder(user, deep.id, hidden.id))).toBe('not_found');
  });

  it('archives a subtree, lists it, restores it into a chosen folder, deletes it for good', async () => {
    const a = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Arch' });
    const b = await vault.createFolder(admin, { parentId: a.id, name: 'Inner' });
    const e = await vault.createEntry(admin, {
      folderId: b.id,
      name: 'inner-entry',
      password: 'not-secret-here',
      attachments: [{ fileName: 'a.txt', data: Buffer.from('hello').toString('base64') }],
    });
    await vault.updateEntry(admin, e.id, { username: 'u2' });
    const u = userActor('grantee');
    await grant(ctx.services, { node: b.id, to: u.userId, level: 'full' });
    await grant(ctx.services, { node: e.id, nodeType: 'entry', to: u.userId, level: 'full' });

    await vault.archiveFolder(admin, a.id);
    const tree = await vault.tree(admin);
    expect(tree.folders.map((f) => f.id)).not.toContain(a.id);
    expect(tree.folders.map((f) => f.id)).not.toContain(b.id);
    expect(tree.entries.map((x) => x.id)).not.toContain(e.id);
    const archive = await vault.archive(admin);
    expect(archive.folders.map((f) => [f.id, f.path])).toContainEqual([a.id, 'Root/Arch']);
    // Only the top-level archived item is listed; its contents come back with it.
    expect(archive.folders.map((f) => f.id)).not.toContain(b.id);
    expect(archive.entries.map((x) => x.id)).not.toContain(e.id);
    // Things in the Archive can't be changed or archived again.
    expect(await codeOf(vault.updateFolder(admin, b.id, { notes: 'x' }))).toBe('conflict');
    expect(await codeOf(vault.updateEntry(admin, e.id, { notes: 'x' }))).toBe('conflict');
    expect(await codeOf(vault.archiveFolder(admin, a.id))).toBe('conflict');
    expect(await codeOf(vault.createFolder(admin, { parentId: a.id, name: 'x' }))).toBe(
      'not_found',
    );

    const target = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Back' });
    const restored = await vault.restoreFolder(admin, a.id, target.id);
    expect(restored).toMatchObject({ path: 'Root/Back/Arch', archivedAt: null });
    expect((await vault.getEntry(admin, e.id)).path).toBe('Root/Back/Arch/Inner/inner-entry');
    expect(await codeOf(vault.restoreFolder(admin, a.id, target.id))).toBe('conflict');
    expect((await auditRecords(ctx.services, 'Folder Restored')).at(-1)!.target).toBe(
      'Root/Back/Arch',
    );

    // Delete needs the Archive first.
    expect(await codeOf(vault.deleteFolder(admin, a.id))).toBe('conflict');
    await vault.archiveFolder(admin, a.id);
    const before = {
      folders: await count('folders'),
      entries: await count('entries'),
      grants: await count('grants'),
      attachments: await count('attachments'),
      versions: await count('entry_versions'),
    };
    await vault.deleteFolder(admin, a.id);
    expect({
      folders: await count('folders'),
      entries: await count('entries'),
      grants: await count('grants'),
      attachments: await count('attachments'),
      versions: await count('entry_versions'),
    }).toEqual({
      folders: before.folders - 2,
      entries: before.entries - 1,
      grants: before.grants - 2,
      attachments: before.attachments - 1,
      versions: before.versions - 1,
    });
    expect(await codeOf(vault.getFolder(admin, a.id))).toBe('not_found');
    expect(await codeOf(vault.getEntry(admin, e.id))).toBe('not_found');
    const rec = (await auditRecords(ctx.services, 'Folder Deleted')).at(-1)!;
    expect(rec.target).toBe('Root/Back/Arch');
    expect(JSON.parse(rec.details)).toEqual({ folders: 2, entries: 1 });
  });

  it('archives and deletes a subtree only with the permission on all of it', async () => {
    const top = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Guarded' });
    const locked = await vault.createFolder(admin, { parentId: top.id, name: 'Locked' });
    await setBlockInheritance(ctx.services, locked.id, true);
    const u = userActor('archiver');
    await grant(ctx.services, { node: top.id, to: u.userId, level: 'full' });
    expect(await codeOf(vault.archiveFolder(u, top.id))).toBe('not_allowed');
    expect((await vault.archive(admin)).folders.map((f) => f.id)).not.toContain(top.id);
    await grant(ctx.services, { node: locked.id, to: u.userId, level: 'full' });
    await vault.archiveFolder(u, top.id);
    expect((await vault.archive(u)).folders.map((f) => f.id)).toContain(top.id);
    const reader = userActor('archive-reader');
    await grant(ctx.services, { node: top.id, to: reader.userId, level: 'read-only' });
    expect(await codeOf(vault.deleteFolder(reader, top.id))).toBe('not_allowed');
    await vault.deleteFolder(u, top.id);
  });

  it('restores from the Archive only with Archive Folders on it and Add Folders at the destination', async () => {
    const f = await vault.createFolder(admin, { parentId: vault.rootId, name: 'RestoreMe' });
    const dest = await vault.createFolder(admin, { parentId: vault.rootId, name: 'RestoreTo' });
    const u = userActor('restorer');
    await grant(ctx.services, { node: f.id, to: u.userId, level: 'full' });
    await grant(ctx.services, { node: dest.id, to: u.userId, level: 'read-only' });
    await vault.archiveFolder(u, f.id);
    expect(await codeOf(vault.restoreFolder(u, f.id, dest.id))).toBe('not_allowed');
    await grant(ctx.services, { node: dest.id, to: u.userId, level: 'full' });
    expect((await vault.restoreFolder(u, f.id, dest.id)).path).toBe('Root/RestoreTo/RestoreMe');
  });

  it('creates one private folder per user with Full + Grant for them', async () => {
    const user = await createUser(ctx.services, { loginName: 'Pat@corp.example' });
    const pat = { ...userActor('Pat@corp.example'), userId: user.id };
    const before = (await auditRecords(ctx.services)).length;
    const pf = await vault.createPrivateFolder(admin, user.id);
    expect(pf).toMatchObject({
      name: 'Pat@corp.example',
      kind: 'private',
      path: 'Root/Private Folders/Pat@corp.example',
      ownerUserId: user.id,
      parentId: vault.privateRootId,
    });
    const g = await ctx.services.store.db
      .selectFrom('grants')
      .innerJoin('access_levels', 'access_levels.id', 'grants.access_level_id')
      .select(['grants.principal_id', 'access_levels.builtin_key'])
      .where('grants.node_id', '=', pf.id)
      .execute();
    expect(g).toEqual([{ principal_id: user.id, builtin_key: 'full-grant' }]);
    const events = (await auditRecords(ctx.services)).slice(before).map((r) => [r.event, r.target]);
    expect(events).toEqual([
      ['Private Folder Created', 'Root/Private Folders/Pat@corp.example'],
      ['Access Added', 'Root/Private Folders/Pat@corp.example'],
    ]);

    // The owner sees it (under a path-only Private Folders) and may work in it.
    const tree = await vault.tree(pat);
    const pfNode = tree.folders.find((f) => f.id === pf.id)!;
    expect(pfNode.visible).toBe(true);
    expect(pfNode.permissions).toContain('addEntries');
    expect(tree.folders.find((f) => f.id === vault.privateRootId)).toEqual({
      id: vault.privateRootId,
      parentId: vault.rootId,
      name: 'Private Folders',
      path: 'Root/Private Folders',
      visible: false,
    });
    await vault.createEntry(pat, { folderId: pf.id, name: 'mine' });
    // Not renamed, not moved; a second one is refused.
    expect(await codeOf(vault.updateFolder(pat, pf.id, { name: 'other' }))).toBe('conflict');
    expect(await codeOf(vault.createPrivateFolder(admin, user.id))).toBe('conflict');
    expect(
      await codeOf(vault.createPrivateFolder(admin, '6f1c2a9e-0000-4000-8000-000000000001')),
    ).toBe('not_found');
    expect(await codeOf(vault.createPrivateFolder(pat, user.id))).toBe('forbidden');
    // Archived, it goes back into Private Folders only.
    await vault.archiveFolder(pat, pf.id);
    expect(await codeOf(vault.restoreFolder(admin, pf.id, vault.rootId))).toBe('conflict');
    expect((await vault.restoreFolder(admin, pf.id, vault.privateRootId)).path).toBe(
      'Root/Private Folders/Pat@corp.example',
    );
  });
});
