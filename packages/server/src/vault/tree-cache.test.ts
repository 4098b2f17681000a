import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { createRole, createUser, login } from '../test-support/identity.js';
import { adminActor, grant } from '../test-support/vault.js';
import { identityOf } from '../users/identity.js';
import { SYSTEM_ACTOR } from '../users/context.js';

/**
 * The serialised tree is reused between requests only while nothing the caller sees can have
 * changed; every kind of change shows in the very next response.
 */
describe.each(DIALECTS)('tree response cache (%s)', (dialect) => {
  let ctx: TestContext;
  let token: string;
  let userId: string;
  let folderId: string;
  const admin = adminActor();

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    const u = await createUser(ctx.services, { loginName: 'reader' });
    userId = u.id;
    token = await login(ctx.app, u.loginName, u.password);
    folderId = (
      await ctx.services.vault.createFolder(admin, {
        parentId: ctx.services.vault.rootId,
        name: 'Ops',
      })
    ).id;
    await ctx.services.vault.createEntry(admin, { folderId, name: 'first' });
  });
  afterAll(async () => {
    await ctx.close();
  });

  const tree = async (etag?: string) => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/vault/tree',
      headers: { authorization: `Bearer ${token}`, ...(etag ? { 'if-none-match': etag } : {}) },
    });
    const names =
      res.statusCode === 200
        ? (res.json().entries as Array<{ name: string }>).map((e) => e.name).sort()
        : null;
    return { status: res.statusCode, etag: res.headers.etag as string, names };
  };

  it('answers 304 to the same ETag while nothing changed, and 200 with the change after', async () => {
    const g = await grant(ctx.services, { node: folderId, to: userId, level: 'read-only' });
    const a = await tree();
    expect(a.names).toEqual(['first']);
    const again = await tree(a.etag);
    expect(again.status).toBe(304);
    await ctx.services.vault.createEntry(admin, { folderId, name: 'second' });
    const b = await tree(a.etag);
    expect(b.status).toBe(200);
    expect(b.names).toEqual(['first', 'second']);
    expect(b.etag).not.toBe(a.etag);
    await ctx.services.store.db.deleteFrom('grants').where('id', '=', g).execute();
    expect((await tree()).names).toEqual([]);
  });

  it('follows role membership (not in the vault tables) at once', async () => {
    const role = await createRole(ctx.services, 'Readers');
    await grant(ctx.services, {
      node: folderId,
      to: role,
      principalType: 'role',
      level: 'read-only',
    });
    expect((await tree()).names).toEqual([]);
    await identityOf(ctx.services).roles.addMember(SYSTEM_ACTOR, role, userId);
    expect((await tree()).names).toEqual(['first', 'second']);
    await identityOf(ctx.services).roles.removeMember(SYSTEM_ACTOR, role, userId);
    expect((await tree()).names).toEqual([]);
  });

  it('drops a time-limited grant the moment it expires, before any sweep', async () => {
    await grant(ctx.services, {
      node: folderId,
      to: userId,
      level: 'read-only',
      expiresAt: ctx.clock.now() + 60_000,
    });
    expect((await tree()).names).toEqual(['first', 'second']);
    ctx.clock.advance(59_000);
    expect((await tree()).names).toEqual(['first', 'second']);
    ctx.clock.advance(1_000);
    expect((await tree()).names).toEqual([]);
  });

  it('serves exactly the document the tree service builds, for full and names-only readers', async () => {
    const vault = ctx.services.vault;
    const reader = await createUser(ctx.services, { loginName: 'names-only' });
    const level = await ctx.services.access.createLevel(admin, {
      name: 'Names only',
      allow: ['viewFolders', 'viewEntryNames'],
      grant: [],
    });
    await grant(ctx.services, { node: folderId, to: reader.id, level: level.id });
    await vault.createEntry(admin, {
      folderId,
      name: 'ünïcode "quoted"',
      tags: ['a', 'b'],
      clientMeta: { IconId: 3 },
    });
    for (const actor of [
      admin,
      { ...admin, isAdministrator: false, userId: reader.id, roleIds: [] },
    ]) {
      const { body } = await vault.treeResponse(actor);
      expect(body.toString('utf8')).toBe(JSON.stringify(await vault.tree(actor)));
    }
  });
});
