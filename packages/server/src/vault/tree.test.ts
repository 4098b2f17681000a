import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Folder, VaultTree } from '@strongroom/protocol';
import { AppError } from '../shared/errors.js';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import {
  adminActor,
  customLevel,
  grant,
  setBlockInheritance,
  userActor,
} from '../test-support/vault.js';
import type { Actor } from '../http/auth.js';
import type { VaultService } from './service.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'ok';
}

const paths = (t: VaultTree) => t.folders.map((f) => `${f.path}${f.visible ? '' : ' (path only)'}`);
const entryNames = (t: VaultTree) => t.entries.map((e) => e.name);

describe.each(DIALECTS)('vault tree, search and archive (%s)', (dialect) => {
  let ctx: TestContext;
  let vault: VaultService;
  const admin = adminActor();
  const roleId = randomUUID();
  let alice: Actor;
  const passwords: string[] = [];
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    vault = ctx.services.vault;
    alice = userActor('alice', [roleId]);
    const folder = async (key: string, parent: string, name: string) => {
      ids[key] = (await vault.createFolder(admin, { parentId: parent, name })).id;
    };
    const entry = async (key: string, folderKey: string, name: string, extra = {}) => {
      const password = testSecret(key);
      passwords.push(password);
      ids[key] = (
        await vault.createEntry(admin, { folderId: ids[folderKey]!, name, password, ...extra })
      ).id;
    };
    ids.root = vault.rootId;
    await folder('infra', vault.rootId, 'Infrastructure');
    await folder('servers', ids.infra!, 'servers');
    await folder('legacy', ids.infra!, 'Legacy');
    await folder('dev', vault.rootId, 'Development');
    await folder('deep', ids.dev!, 'Deep');
    await folder('team', ids.dev!, 'Team');
    await folder('expired', ids.dev!, 'Expired');
    await entry('web01', 'servers', 'web-01', {
      username: 'deploy',
      url: 'https://web01.corp.example',
      tags: ['Frontend'],
      notes: 'rotated quarterly by Ops',
    });
    await entry('db', 'servers', 'db-prod', { username: 'postgres', tags: ['database'] });
    await entry('old', 'legacy', 'old-mainframe', { username: 'deploy', notes: 'quarterly too' });
    await entry('deepEntry', 'deep', 'deep-entry', { username: 'deepuser' });
    await entry('deepOther', 'deep', 'deep-other');
    await entry('teamEntry', 'team', 'team-token', { username: 'teamuser' });
    await entry('expiredEntry', 'expired', 'gone', {});
    await setBlockInheritance(ctx.services, ids.legacy!, true);

    // Alice: Read-Only on Infrastructure through a role, an entry grant deep in Development,
    // names only (no View Folders) on Team, and an expired grant on Expired.
    await grant(ctx.services, {
      node: ids.infra!,
      to: roleId,
      principalType: 'role',
      level: 'read-only',
    });
    await grant(ctx.services, {
      node: ids.deepEntry!,
      nodeType: 'entry',
      to: alice.userId,
      level: 'read-only',
    });
    const namesOnly = await customLevel(ctx.services, ['viewEntryNames']);
    await grant(ctx.services, { node: ids.team!, to: alice.userId, level: namesOnly });
    await grant(ctx.services, {
      node: ids.expired!,
      to: alice.userId,
      level: 'full',
      expiresAt: ctx.clock.now() - 1,
    });
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('gives an administrator the whole tree, depth-first, siblings by name', async () => {
    const t = await vault.tree(admin);
    expect(t.rootId).toBe(vault.rootId);
    expect(paths(t)).toEqual([
      'Root',
      'Root/Development',
      'Root/Development/Deep',
      'Root/Development/Expired',
      'Root/Development/Team',
      'Root/Infrastructure',
      'Root/Infrastructure/Legacy',
      'Root/Infrastructure/servers',
      'Root/Private Folders',
    ]);
    expect(entryNames(t)).toEqual([
      'deep-entry',
      'deep-other',
      'gone',
      'team-token',
      'old-mainframe',
      'db-prod',
      'web-01',
    ]);
  });

  it('shows a user only what they may see, with path-only nodes leading to it', async () => {
    const t = await vault.tree(alice);
    expect(paths(t)).toEqual([
      'Root (path only)',
      'Root/Development (path only)',
      'Root/Development/Deep (path only)',
      'Root/Development/Team (path only)',
      'Root/Infrastructure',
      'Root/Infrastructure/servers',
    ]);
    // Legacy blocks inheritance: neither it nor its entry shows. Expired grants never count.
    expect(entryNames(t)).toEqual(['deep-entry', 'team-token', 'db-prod', 'web-01']);
    const pathOnly = t.folders.find((f) => f.id === ids.dev)!;
    expect(pathOnly).toEqual({
      id: ids.dev,
      parentId: vault.rootId,
      name: 'Development',
      path: 'Root/Development',
      visible: false,
    });
    // Names only: the name, nothing of the contents.
    expect(t.entries.find((e) => e.id === ids.teamEntry)).toEqual({
      id: ids.teamEntry,
      folderId: ids.team,
      name: 'team-token',
    });
    expect(t.entries.find((e) => e.id === ids.web01)).toMatchObject({
      username: 'deploy',
      url: 'https://web01.corp.example',
      tags: ['Frontend'],
    });
    const infra = t.folders.find((f) => f.id === ids.infra)! as Folder;
    expect(infra.permissions).toEqual([
      'viewFolders',
      'viewEntryNames',
      'viewEntryContents',
      'viewEntryPassword',
      'viewEntryHistory',
      'viewAccess',
    ]);
    // No password, and no notes, anywhere in a tree.
    const text = JSON.stringify([t, await vault.tree(admin)]);
    for (const p of passwords) expect(text).not.toContain(p);
    expect(text).not.toContain('rotated quarterly');

    // A user with no grant at all sees Root only, as a path-only node.
    const nobody = await vault.tree(userActor('nobody'));
    expect(paths(nobody)).toEqual(['Root (path only)']);
    expect(nobody.entries).toEqual([]);
    const rootView = await vault.getFolder(userActor('nobody'), vault.rootId);
    expect(rootView).toEqual({
      folder: { id: vault.rootId, parentId: null, name: 'Root', path: 'Root', visible: false },
      children: [],
      entries: [],
    });
  });

  it('a grant on the blocking folder itself counts', async () => {
    const bob = userActor('bob');
    await grant(ctx.services, { node: vault.rootId, to: bob.userId, level: 'read-only' });
    expect(paths(await vault.tree(bob))).not.toContain('Root/Infrastructure/Legacy');
    await grant(ctx.services, { node: ids.legacy!, to: bob.userId, level: 'read-only' });
    const t = await vault.tree(bob);
    expect(paths(t)).toContain('Root/Infrastructure/Legacy');
    expect(entryNames(t)).toContain('old-mainframe');
  });

  it('answers one folder with its visible children and entries', async () => {
    const dev = await vault.getFolder(alice, ids.dev!);
    expect(dev.folder.visible).toBe(false);
    expect(dev.children.map((c) => [c.name, c.visible])).toEqual([
      ['Deep', false],
      ['Team', false],
    ]);
    expect(dev.entries).toEqual([]);
    const deep = await vault.getFolder(alice, ids.deep!);
    expect(deep.entries.map((e) => e.name)).toEqual(['deep-entry']);
    const servers = await vault.getFolder(alice, ids.servers!);
    expect(servers.folder).toMatchObject({ visible: true, path: 'Root/Infrastructure/servers' });
    expect(servers.entries.map((e) => e.name)).toEqual(['db-prod', 'web-01']);
    // Invisible and unknown folders answer the same.
    expect(await codeOf(vault.getFolder(alice, ids.legacy!))).toBe('not_found');
    expect(await codeOf(vault.getFolder(alice, ids.expired!))).toBe('not_found');
    expect(await codeOf(vault.getFolder(alice, randomUUID()))).toBe('not_found');
  });

  it('searches every field case-insensitively within what the caller may see', async () => {
    const hits = async (actor: Actor, q: string) =>
      (await vault.search(actor, q)).entries.map((e) => `${e.name}:${e.matched.join(',')}`);
    expect(await hits(admin, 'WEB-0')).toEqual(['web-01:name']);
    expect(await hits(admin, 'WEB0')).toEqual(['web-01:url']);
    expect(await hits(admin, 'postgres')).toEqual(['db-prod:username']);
    expect(await hits(admin, 'corp.example')).toEqual(['web-01:url']);
    expect(await hits(admin, 'frontend')).toEqual(['web-01:tags']);
    expect(await hits(admin, 'QUARTERLY')).toEqual(['old-mainframe:notes', 'web-01:notes']);
    // Alice can't see Legacy: its entry never shows, whatever matched.
    expect(await hits(alice, 'quarterly')).toEqual(['web-01:notes']);
    expect(await hits(alice, 'deploy')).toEqual(['web-01:username']);
    // Names only: found by name, never by contents, and no contents in the hit.
    expect(await hits(alice, 'teamuser')).toEqual([]);
    const team = await vault.search(alice, 'team-tok');
    expect(team.entries).toEqual([
      {
        id: ids.teamEntry,
        folderId: ids.team,
        name: 'team-token',
        folderPath: 'Root/Development/Team',
        matched: ['name'],
      },
    ]);
    const web = (await vault.search(alice, 'web-01')).entries[0]!;
    expect(web).toMatchObject({
      folderPath: 'Root/Infrastructure/servers',
      username: 'deploy',
      notes: 'rotated quarterly by Ops',
    });
    // Expired grants and blocked folders never leak, names included.
    expect(await hits(alice, 'gone')).toEqual([]);
    expect(await hits(alice, 'mainframe')).toEqual([]);
    // Folders: visible ones only (path-only nodes are not hits).
    const folders = async (actor: Actor, q: string) =>
      (await vault.search(actor, q)).folders.map((f) => f.path);
    expect(await folders(admin, 'DEV')).toEqual(['Root/Development']);
    expect(await folders(alice, 'dev')).toEqual([]);
    expect(await folders(alice, 'SERV')).toEqual(['Root/Infrastructure/servers']);
    expect(JSON.stringify(await vault.search(admin, 'a'))).not.toContain(passwords[0]!);
  });

  it('keeps archived things out of the tree and search, and lists them in the Archive', async () => {
    const f = await vault.createFolder(admin, { parentId: vault.rootId, name: 'ToArchive' });
    const inner = await vault.createEntry(admin, { folderId: f.id, name: 'archived-inner' });
    const lone = await vault.createEntry(admin, { folderId: ids.servers!, name: 'archived-lone' });
    await vault.archiveEntry(admin, inner.id);
    await vault.archiveFolder(admin, f.id);
    await vault.archiveEntry(admin, lone.id);
    const t = await vault.tree(admin);
    expect(paths(t)).not.toContain('Root/ToArchive');
    expect(entryNames(t)).not.toContain('archived-lone');
    expect((await vault.search(admin, 'archived')).entries).toEqual([]);
    expect((await vault.search(admin, 'ToArchive')).folders).toEqual([]);
    const archive = await vault.archive(admin);
    expect(archive.folders.map((x) => x.path)).toEqual(['Root/ToArchive']);
    expect(archive.entries.map((x) => x.path)).toEqual([
      'Root/Infrastructure/servers/archived-lone',
    ]);
    // Alice sees the archived entry of a folder she can read, not the folder she can't.
    const hers = await vault.archive(alice);
    expect(hers.folders).toEqual([]);
    expect(hers.entries.map((x) => x.name)).toEqual(['archived-lone']);
    // Restoring the folder brings it back without the entry archived on its own before.
    await vault.restoreFolder(admin, f.id, vault.rootId);
    expect((await vault.getFolder(admin, f.id)).entries).toEqual([]);
    expect((await vault.archive(admin)).entries.map((x) => x.name).sort()).toEqual([
      'archived-inner',
      'archived-lone',
    ]);
  });

  it('caps search results and says so', async () => {
    const folder = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Bulk' });
    const now = ctx.clock.now();
    const rows = Array.from({ length: 520 }, (_, i) => ({
      id: randomUUID(),
      folder_id: folder.id,
      name: `bulk-${String(i).padStart(3, '0')}`,
      username: '',
      url: '',
      tags: '[]',
      notes_sealed: null,
      password_sealed: null,
      custom_fields_sealed: null,
      client_meta: '{}',
      expires_at: null,
      created_at: now,
      modified_at: now,
      modified_by: null,
      version: 1,
      archived_at: null,
    }));
    for (let i = 0; i < rows.length; i += 100) {
      await ctx.services.store.db
        .insertInto('entries')
        .values(rows.slice(i, i + 100))
        .execute();
    }
    const r = await vault.search(admin, 'bulk-');
    expect(r.entries.length).toBe(500);
    expect(r.truncated).toBe(true);
    expect((await vault.search(admin, 'bulk-00')).truncated).toBe(false);
  });

  it('computes the tree in a fixed number of queries, whatever its size', async () => {
    const db = ctx.services.store.db;
    const queriesFor = async (actor: Actor) => {
      const spy = vi.spyOn(db, 'selectFrom');
      try {
        await vault.tree(actor);
        return spy.mock.calls.length;
      } finally {
        spy.mockRestore();
      }
    };
    // Cold: the folder, entry and level tables are (re)loaded after a change.
    const parent = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Few' });
    await vault.createEntry(admin, { folderId: parent.id, name: 'first' });
    const smallCold = [await queriesFor(admin), await queriesFor(alice)];
    const smallWarm = [await queriesFor(admin), await queriesFor(alice)];
    const many = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Many' });
    for (let i = 0; i < 30; i++) {
      const f = await vault.createFolder(admin, { parentId: many.id, name: `f${i}` });
      await grant(ctx.services, { node: f.id, to: alice.userId, level: 'read-only' });
      await vault.createEntry(admin, { folderId: f.id, name: `e${i}` });
    }
    const largeCold = [await queriesFor(admin), await queriesFor(alice)];
    const largeWarm = [await queriesFor(admin), await queriesFor(alice)];
    expect(largeCold).toEqual(smallCold);
    expect(largeWarm).toEqual(smallWarm);
    // Warm: only the revision counters (folders, entries), plus for anyone but an administrator
    // the caller's grants and the level revision. Cold: the changed tables are read once more.
    expect(smallWarm).toEqual([2, 4]);
    expect(smallCold[0]).toBeLessThanOrEqual(4);
    expect(smallCold[1]).toBeLessThanOrEqual(6);
    expect(entryNames(await vault.tree(alice))).toContain('e29');
  });
});
