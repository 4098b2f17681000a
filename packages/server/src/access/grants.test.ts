import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccessGrant, NodeAccess } from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { testActor } from '../test-support/actors.js';
import { createRole, createUser, login } from '../test-support/identity.js';
import {
  accessState,
  auditRecords,
  insertEntry,
  insertFolder,
  insertGrant,
  levelId,
  rootFolderId,
} from './test-fixture.js';

const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000ee';
const HOUR = 3600_000;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

describe.each(DIALECTS)('user access: grants and block inheritance (%s)', (dialect) => {
  let ctx: TestContext;
  let root: string;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let delegates: string; // role; dave is in it through the sub-role "Delegates Inner"
  let counter = 0;

  const api = (who: string, method: Method, url: string, payload?: unknown) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: {
        authorization: `Bearer ${tokens[who]}`,
        ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { payload: payload as string } : {}),
    });

  const level = (key: string) => levelId(ctx.services, key);

  /** Root/T<n> (top) ─ Mid ─ Low, Root/T<n> ─ Side; entries "Top Entry" in top, "Low Entry" in low. */
  async function tree() {
    const n = ++counter;
    const name = `T${n}`;
    const top = await insertFolder(ctx.services, root, name);
    const mid = await insertFolder(ctx.services, top, 'Mid');
    const low = await insertFolder(ctx.services, mid, 'Low');
    const side = await insertFolder(ctx.services, top, 'Side');
    const topEntry = await insertEntry(ctx.services, top, 'Top Entry');
    const lowEntry = await insertEntry(ctx.services, low, 'Low Entry');
    return { name, path: `Root/${name}`, top, mid, low, side, topEntry, lowEntry };
  }

  const grantBody = (user: string, accessLevelId: string, extra: Record<string, unknown> = {}) => ({
    principalType: 'user',
    principalId: ids[user],
    accessLevelId,
    ...extra,
  });

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    root = await rootFolderId(ctx.services);
    delegates = await createRole(ctx.services, 'Delegates');
    const inner = await createRole(ctx.services, 'Delegates Inner', { parent: delegates });
    const people: Array<
      [string, { administrator?: boolean; roles?: string[]; displayName?: string }]
    > = [
      ['admin', { administrator: true }],
      ['alice', { displayName: 'Alice Liddell' }],
      ['bob', {}],
      ['carol', {}],
      ['dave', { roles: [inner] }],
      ['erin', {}],
      ['frank', {}],
    ];
    for (const [who, opts] of people) {
      const u = await createUser(ctx.services, { loginName: `g-${who}`, ...opts });
      ids[who] = u.id;
      tokens[who] = await login(ctx.app, u.loginName, u.password);
    }
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('lists grants made on a folder and those inherited from above, up to the nearest block', async () => {
    const t = await tree();
    const expires = ctx.clock.now() + 24 * HOUR;
    const gTop = await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.alice,
      level: 'full-grant',
    });
    const gMid = await insertGrant(ctx.services, {
      node: { folder: t.mid },
      role: delegates,
      level: 'read-only',
    });
    const gLow = await insertGrant(ctx.services, {
      node: { folder: t.low },
      user: ids.bob,
      level: 'full',
      expiresAt: expires,
    });
    // Noise that must not show: a grant on a sibling branch, an expired grant on an ancestor.
    await insertGrant(ctx.services, { node: { folder: t.side }, user: ids.carol, level: 'full' });
    await insertGrant(ctx.services, {
      node: { folder: t.mid },
      user: ids.carol,
      level: 'full',
      expiresAt: ctx.clock.now() - 1,
    });

    const res = await api('admin', 'GET', `/folders/${t.low}/access`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as NodeAccess;
    expect(body).toMatchObject({
      nodeType: 'folder',
      nodeId: t.low,
      path: `${t.path}/Mid/Low`,
      blockInheritance: false,
    });
    expect(body.grants.map((g) => [g.id, g.inherited, g.fromFolderId, g.fromPath])).toEqual([
      [gLow, false, t.low, `${t.path}/Mid/Low`],
      [gMid, true, t.mid, `${t.path}/Mid`],
      [gTop, true, t.top, t.path],
    ]);
    expect(body.grants[0]).toMatchObject({
      principal: { type: 'user', id: ids.bob, name: 'g-bob', loginName: 'g-bob' },
      accessLevel: { id: await level('full'), name: 'Full' },
      expiresAt: new Date(expires).toISOString(),
    });
    expect(body.grants[1]!.principal).toEqual({
      type: 'role',
      id: delegates,
      name: 'Delegates',
      loginName: null,
    });
    expect(body.grants[2]!.principal.name).toBe('Alice Liddell');
    expect(body.grants[2]!.expiresAt).toBeNull();

    // Mid blocks inheritance: grants above it disappear below it; its own and lower ones stay.
    await ctx.services.store.db
      .updateTable('folders')
      .set({ block_inheritance: 1 })
      .where('id', '=', t.mid)
      .execute();
    const blocked = (await api('admin', 'GET', `/folders/${t.low}/access`)).json() as NodeAccess;
    expect(blocked.grants.map((g) => g.id)).toEqual([gLow, gMid]);
    const atMid = (await api('admin', 'GET', `/folders/${t.mid}/access`)).json() as NodeAccess;
    expect(atMid.blockInheritance).toBe(true);
    expect(atMid.grants.map((g) => [g.id, g.inherited])).toEqual([[gMid, false]]);
  });

  it('lists an entry’s own grants first, then those of its folder and the folders above', async () => {
    const t = await tree();
    const gTop = await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.alice,
      level: 'full',
    });
    const gEntry = await insertGrant(ctx.services, {
      node: { entry: t.lowEntry },
      user: ids.erin,
      level: 'read-only',
    });
    const gLow = await insertGrant(ctx.services, {
      node: { folder: t.low },
      user: ids.bob,
      level: 'full',
    });
    await insertGrant(ctx.services, {
      node: { entry: t.topEntry },
      user: ids.carol,
      level: 'full',
    });

    const res = await api('admin', 'GET', `/entries/${t.lowEntry}/access`);
    expect(res.statusCode).toBe(200);
    const body = res.json() as NodeAccess;
    expect(body).toMatchObject({
      nodeType: 'entry',
      nodeId: t.lowEntry,
      path: `${t.path}/Mid/Low/Low Entry`,
      blockInheritance: false,
    });
    expect(
      body.grants.map((g) => [g.id, g.nodeType, g.inherited, g.fromFolderId, g.fromPath]),
    ).toEqual([
      [gEntry, 'entry', false, null, `${t.path}/Mid/Low/Low Entry`],
      [gLow, 'folder', true, t.low, `${t.path}/Mid/Low`],
      [gTop, 'folder', true, t.top, t.path],
    ]);
  });

  it('needs View Access to list; what the caller cannot see answers exactly like an unknown id', async () => {
    const t = await tree();
    const namesOnly = await ctx.services.access.createLevel(testActor({ userId: ids.admin! }), {
      name: `Names only ${counter}`,
      allow: ['viewFolders', 'viewEntryNames'],
      grant: [],
    });
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.carol,
      level: 'read-only',
    });
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.erin,
      level: namesOnly.id,
    });
    await insertGrant(ctx.services, {
      node: { entry: t.lowEntry },
      user: ids.frank,
      level: 'read-only',
    });

    expect((await api('carol', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(200);
    expect((await api('carol', 'GET', `/entries/${t.lowEntry}/access`)).statusCode).toBe(200);

    const noViewAccess = await api('erin', 'GET', `/folders/${t.low}/access`);
    expect(noViewAccess.statusCode).toBe(403);
    expect(noViewAccess.json().error.code).toBe('not_allowed');

    const hidden = await api('bob', 'GET', `/folders/${t.low}/access`);
    const unknown = await api('bob', 'GET', `/folders/${UNKNOWN_ID}/access`);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.body).toBe(unknown.body);
    const hiddenEntry = await api('bob', 'GET', `/entries/${t.lowEntry}/access`);
    const unknownEntry = await api('bob', 'GET', `/entries/${UNKNOWN_ID}/access`);
    expect(hiddenEntry.statusCode).toBe(404);
    expect(hiddenEntry.body).toBe(unknownEntry.body);

    // A grant on an entry alone shows that entry's access, not its folder's.
    expect((await api('frank', 'GET', `/entries/${t.lowEntry}/access`)).statusCode).toBe(200);
    expect((await api('frank', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(404);
    expect((await api('frank', 'GET', `/entries/${t.topEntry}/access`)).statusCode).toBe(404);
  });

  it('an administrator adds a grant; it takes effect and is audited with the full path', async () => {
    const t = await tree();
    const readOnly = await level('read-only');
    expect((await api('bob', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(404);
    const expiresAt = new Date(ctx.clock.now() + HOUR).toISOString();
    const res = await api(
      'admin',
      'POST',
      `/folders/${t.mid}/access`,
      grantBody('bob', readOnly, { expiresAt }),
    );
    expect(res.statusCode).toBe(201);
    const grant = res.json() as AccessGrant;
    expect(grant).toMatchObject({
      nodeType: 'folder',
      nodeId: t.mid,
      inherited: false,
      fromFolderId: t.mid,
      fromPath: `${t.path}/Mid`,
      principal: { type: 'user', id: ids.bob, name: 'g-bob' },
      accessLevel: { id: readOnly, name: 'Read-Only' },
      expiresAt,
    });
    const row = await ctx.services.store.db
      .selectFrom('grants')
      .selectAll()
      .where('id', '=', grant.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      node_type: 'folder',
      node_id: t.mid,
      principal_type: 'user',
      principal_id: ids.bob,
      expires_at: Date.parse(expiresAt),
      created_by: ids.admin,
    });
    // In effect at once, below the folder too.
    expect((await api('bob', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(200);

    const rec = (await auditRecords(ctx.services, 'Access Added')).find(
      (r) => r.details.grantId === grant.id,
    );
    expect(rec).toMatchObject({
      status: 'success',
      target: `${t.path}/Mid`,
      login_name: 'g-admin',
    });
    expect(rec!.details).toMatchObject({
      principalType: 'user',
      principalId: ids.bob,
      principal: 'g-bob',
      accessLevel: 'Read-Only',
      accessLevelId: readOnly,
      expiresAt,
    });

    // To a role, on an entry, permanent.
    const onEntry = await api('admin', 'POST', `/entries/${t.lowEntry}/access`, {
      principalType: 'role',
      principalId: delegates,
      accessLevelId: readOnly,
      expiresAt: null,
    });
    expect(onEntry.statusCode).toBe(201);
    expect((onEntry.json() as AccessGrant).fromPath).toBe(`${t.path}/Mid/Low/Low Entry`);
    expect((await api('dave', 'GET', `/entries/${t.lowEntry}/access`)).statusCode).toBe(200);
    const entryRec = (await auditRecords(ctx.services, 'Access Added')).at(-1);
    expect(entryRec).toMatchObject({ target: `${t.path}/Mid/Low/Low Entry` });
    expect(entryRec!.details).toMatchObject({ principal: 'Delegates', accessLevel: 'Read-Only' });
  });

  it('the granting rule: Full + Grant may grant Read-Only, Full and Full + Grant, not Full + Offline', async () => {
    const t = await tree();
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.alice,
      level: 'full-grant',
    });
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.carol,
      level: 'read-only',
    });

    for (const key of ['read-only', 'full', 'full-grant']) {
      const res = await api(
        'alice',
        'POST',
        `/folders/${t.low}/access`,
        grantBody('bob', await level(key)),
      );
      expect([key, res.statusCode]).toEqual([key, 201]);
    }
    const before = await accessState(ctx.services);
    for (const key of ['full-offline', 'grant-only']) {
      const res = await api(
        'alice',
        'POST',
        `/folders/${t.low}/access`,
        grantBody('erin', await level(key)),
      );
      expect([key, res.statusCode]).toEqual([key, 403]);
      expect(res.json().error.code).toBe('not_allowed');
    }
    // Visible but holding no G flag at all: refused too. Not visible: not found.
    const carol = await api(
      'carol',
      'POST',
      `/folders/${t.low}/access`,
      grantBody('erin', await level('read-only')),
    );
    expect(carol.statusCode).toBe(403);
    const bob = await api(
      'bob',
      'POST',
      `/folders/${t.side}/access`,
      grantBody('erin', await level('read-only')),
    );
    const bobUnknown = await api(
      'bob',
      'POST',
      `/folders/${UNKNOWN_ID}/access`,
      grantBody('erin', await level('read-only')),
    );
    expect(bob.statusCode).toBe(404);
    expect(bob.body).toBe(bobUnknown.body);
    expect(await accessState(ctx.services)).toBe(before);

    const denied = (await auditRecords(ctx.services, 'Access Added')).filter(
      (r) => r.status === 'denied' && r.target === `${t.path}/Mid/Low`,
    );
    expect(denied.map((r) => [r.login_name, r.details.accessLevel])).toEqual([
      ['g-alice', 'Full + Offline'],
      ['g-alice', 'Grant Only'],
      ['g-carol', 'Read-Only'],
    ]);
  });

  it('Grant Only held through a sub-role allows granting and removing every level', async () => {
    const t = await tree();
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      role: delegates,
      level: 'grant-only',
    });
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      role: delegates,
      level: 'read-only',
    });
    const res = await api(
      'dave',
      'POST',
      `/folders/${t.low}/access`,
      grantBody('erin', await level('full-offline')),
    );
    expect(res.statusCode).toBe(201);
    const grant = res.json() as AccessGrant;
    const del = await api('dave', 'DELETE', `/folders/${t.low}/access/${grant.id}`);
    expect(del.statusCode).toBe(204);
  });

  it('removes grants under the same rule; inherited grants only where they were made', async () => {
    const t = await tree();
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.alice,
      level: 'full-grant',
    });
    const offline = await insertGrant(ctx.services, {
      node: { folder: t.mid },
      user: ids.erin,
      level: 'full-offline',
    });
    const readOnly = await insertGrant(ctx.services, {
      node: { folder: t.mid },
      user: ids.bob,
      level: 'read-only',
    });
    const onSide = await insertGrant(ctx.services, {
      node: { folder: t.side },
      user: ids.bob,
      level: 'read-only',
    });
    const onEntry = await insertGrant(ctx.services, {
      node: { entry: t.lowEntry },
      user: ids.bob,
      level: 'full',
    });

    const before = await accessState(ctx.services);
    // Alice may not remove a level she could not grant.
    const refused = await api('alice', 'DELETE', `/folders/${t.mid}/access/${offline}`);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('not_allowed');
    // An inherited grant, addressed through a child: a clear refusal naming where it was made.
    const inherited = await api('alice', 'DELETE', `/folders/${t.low}/access/${readOnly}`);
    expect(inherited.statusCode).toBe(409);
    expect(inherited.json().error.message).toContain(`${t.path}/Mid`);
    const viaEntry = await api('admin', 'DELETE', `/entries/${t.lowEntry}/access/${readOnly}`);
    expect(viaEntry.statusCode).toBe(409);
    // A grant on another branch, or an unknown grant id: not found.
    expect((await api('admin', 'DELETE', `/folders/${t.low}/access/${onSide}`)).statusCode).toBe(
      404,
    );
    expect(
      (await api('admin', 'DELETE', `/folders/${t.mid}/access/${UNKNOWN_ID}`)).statusCode,
    ).toBe(404);
    expect((await api('admin', 'DELETE', `/folders/${t.low}/access/${onEntry}`)).statusCode).toBe(
      404,
    );
    // Someone who can't see the folder gets the answer of an unknown folder.
    const hidden = await api('frank', 'DELETE', `/folders/${t.mid}/access/${readOnly}`);
    const unknown = await api('frank', 'DELETE', `/folders/${UNKNOWN_ID}/access/${readOnly}`);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.body).toBe(unknown.body);
    expect(await accessState(ctx.services)).toBe(before);
    expect(
      (await auditRecords(ctx.services, 'Access Removed')).filter(
        (r) => r.status === 'denied' && r.details.grantId === offline,
      ),
    ).toHaveLength(1);

    expect((await api('alice', 'DELETE', `/folders/${t.mid}/access/${readOnly}`)).statusCode).toBe(
      204,
    );
    expect((await api('admin', 'DELETE', `/folders/${t.mid}/access/${offline}`)).statusCode).toBe(
      204,
    );
    expect(
      (await api('alice', 'DELETE', `/entries/${t.lowEntry}/access/${onEntry}`)).statusCode,
    ).toBe(204);
    const left = await ctx.services.store.db
      .selectFrom('grants')
      .select('id')
      .where('id', 'in', [offline, readOnly, onEntry, onSide])
      .execute();
    expect(left.map((r) => r.id)).toEqual([onSide]);

    const removed = (await auditRecords(ctx.services, 'Access Removed')).filter(
      (r) => r.status === 'success',
    );
    const byGrant = new Map(removed.map((r) => [r.details.grantId, r]));
    expect(byGrant.get(readOnly)).toMatchObject({ target: `${t.path}/Mid`, login_name: 'g-alice' });
    expect(byGrant.get(readOnly)!.details).toMatchObject({
      principal: 'g-bob',
      accessLevel: 'Read-Only',
    });
    expect(byGrant.get(offline)!.details).toMatchObject({
      principal: 'g-erin',
      accessLevel: 'Full + Offline',
    });
    expect(byGrant.get(onEntry)).toMatchObject({ target: `${t.path}/Mid/Low/Low Entry` });
  });

  it('a holder of an entry grant alone may manage access on that entry', async () => {
    const t = await tree();
    await insertGrant(ctx.services, {
      node: { entry: t.topEntry },
      user: ids.frank,
      level: 'full-grant',
    });
    const res = await api(
      'frank',
      'POST',
      `/entries/${t.topEntry}/access`,
      grantBody('bob', await level('read-only')),
    );
    expect(res.statusCode).toBe(201);
    expect(
      (
        await api(
          'frank',
          'POST',
          `/folders/${t.top}/access`,
          grantBody('bob', await level('read-only')),
        )
      ).statusCode,
    ).toBe(404);
  });

  it('expired grants stop counting at their expiry time and are not listed', async () => {
    const t = await tree();
    const g = await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.bob,
      level: 'read-only',
      expiresAt: ctx.clock.now() + 1000,
    });
    expect((await api('bob', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(200);
    ctx.clock.advance(1000);
    expect((await api('bob', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(404);
    const listed = (await api('admin', 'GET', `/folders/${t.top}/access`)).json() as NodeAccess;
    expect(listed.grants.map((x) => x.id)).not.toContain(g);
  });

  it('refuses new grants on archived folders and entries but still lists their access', async () => {
    const t = await tree();
    const archived = await insertFolder(ctx.services, t.top, 'Gone', { archived: true });
    const inside = await insertFolder(ctx.services, archived, 'Inside');
    const archivedEntry = await insertEntry(ctx.services, t.top, 'Old Entry', { archived: true });
    const readOnly = await level('read-only');
    const before = await accessState(ctx.services);
    for (const url of [
      `/folders/${archived}/access`,
      `/folders/${inside}/access`,
      `/entries/${archivedEntry}/access`,
    ]) {
      const res = await api('admin', 'POST', url, grantBody('bob', readOnly));
      expect([url, res.statusCode]).toEqual([url, 409]);
      expect((await api('admin', 'GET', url)).statusCode).toBe(200);
    }
    expect(await accessState(ctx.services)).toBe(before);
  });

  it('bad input on the grant routes gets a 4xx with a code and changes nothing', async () => {
    const t = await tree();
    const readOnly = await level('read-only');
    const existing = await insertGrant(ctx.services, {
      node: { folder: t.mid },
      user: ids.bob,
      level: 'read-only',
    });
    const now = ctx.clock.now();
    const before = await accessState(ctx.services);
    const auditBefore = (await ctx.services.store.db.selectFrom('audit_log').select('id').execute())
      .length;
    const f = `/folders/${t.mid}/access`;
    const cases: Array<[string, Method, string, unknown, number, string?]> = [
      [
        'past expiry',
        'POST',
        f,
        grantBody('bob', readOnly, { expiresAt: new Date(now - 1).toISOString() }),
        400,
        '/expiresAt',
      ],
      [
        'expiry exactly now',
        'POST',
        f,
        grantBody('erin', readOnly, { expiresAt: new Date(now).toISOString() }),
        400,
        '/expiresAt',
      ],
      [
        'expiry not a date',
        'POST',
        f,
        grantBody('erin', readOnly, { expiresAt: 'tomorrow' }),
        400,
        '/expiresAt',
      ],
      [
        'expiry a number',
        'POST',
        f,
        grantBody('erin', readOnly, { expiresAt: now + HOUR }),
        400,
        '/expiresAt',
      ],
      [
        'unknown principal type',
        'POST',
        f,
        { ...grantBody('erin', readOnly), principalType: 'group' },
        400,
        '/principalType',
      ],
      [
        'malformed principal id',
        'POST',
        f,
        { ...grantBody('erin', readOnly), principalId: 'erin' },
        400,
        '/principalId',
      ],
      [
        'unknown user',
        'POST',
        f,
        { ...grantBody('erin', readOnly), principalId: UNKNOWN_ID },
        400,
        '/principalId',
      ],
      [
        'role id as a user',
        'POST',
        f,
        { ...grantBody('erin', readOnly), principalId: delegates },
        400,
        '/principalId',
      ],
      [
        'user id as a role',
        'POST',
        f,
        { ...grantBody('erin', readOnly), principalType: 'role' },
        400,
        '/principalId',
      ],
      ['unknown level', 'POST', f, grantBody('erin', UNKNOWN_ID), 400, '/accessLevelId'],
      [
        'missing level',
        'POST',
        f,
        { principalType: 'user', principalId: ids.erin },
        400,
        '/accessLevelId',
      ],
      [
        'extra field',
        'POST',
        f,
        grantBody('erin', readOnly, { inherited: true }),
        400,
        '/inherited',
      ],
      ['malformed JSON', 'POST', f, '{"principalType": ', 400],
      ['null body', 'POST', f, 'null', 400],
      ['duplicate grant', 'POST', f, grantBody('bob', readOnly), 409],
      [
        'malformed folder id',
        'POST',
        '/folders/not-an-id/access',
        grantBody('erin', readOnly),
        400,
      ],
      ['unknown folder', 'POST', `/folders/${UNKNOWN_ID}/access`, grantBody('erin', readOnly), 404],
      ['unknown entry', 'POST', `/entries/${UNKNOWN_ID}/access`, grantBody('erin', readOnly), 404],
      [
        'an entry id as a folder',
        'POST',
        `/folders/${t.lowEntry}/access`,
        grantBody('erin', readOnly),
        404,
      ],
      ['list malformed id', 'GET', '/folders/xyz/access', undefined, 400],
      ['list unknown folder', 'GET', `/folders/${UNKNOWN_ID}/access`, undefined, 404],
      ['list a folder id as an entry', 'GET', `/entries/${t.mid}/access`, undefined, 404],
      ['delete malformed grant id', 'DELETE', `${f}/nope`, undefined, 400],
      ['delete unknown grant', 'DELETE', `${f}/${UNKNOWN_ID}`, undefined, 404],
      [
        'delete on unknown folder',
        'DELETE',
        `/folders/${UNKNOWN_ID}/access/${existing}`,
        undefined,
        404,
      ],
      [
        'block: string',
        'PUT',
        `/folders/${t.mid}/block-inheritance`,
        { block: 'yes' },
        400,
        '/block',
      ],
      ['block: missing', 'PUT', `/folders/${t.mid}/block-inheritance`, {}, 400, '/block'],
      [
        'block: extra field',
        'PUT',
        `/folders/${t.mid}/block-inheritance`,
        { block: true, why: 1 },
        400,
        '/why',
      ],
      ['block: malformed JSON', 'PUT', `/folders/${t.mid}/block-inheritance`, '{', 400],
      [
        'block: unknown folder',
        'PUT',
        `/folders/${UNKNOWN_ID}/block-inheritance`,
        { block: true },
        404,
      ],
      ['block: malformed id', 'PUT', '/folders/1/block-inheritance', { block: true }, 400],
      [
        'block: the root folder',
        'PUT',
        `/folders/${root}/block-inheritance`,
        { block: true },
        400,
        '/block',
      ],
    ];
    for (const [label, method, url, body, status, field] of cases) {
      const res = await api('admin', method, url, body);
      expect([label, res.statusCode]).toEqual([label, status]);
      const error = res.json().error as { code: string; field?: string };
      expect(typeof error.code).toBe('string');
      if (field) expect([label, error.field]).toEqual([label, field]);
    }
    expect(await accessState(ctx.services)).toBe(before);
    expect(
      (await ctx.services.store.db.selectFrom('audit_log').select('id').execute()).length,
    ).toBe(auditBefore);
  });

  it('sets and clears block inheritance, audited; needs Set Block Inheritance on the folder', async () => {
    const t = await tree();
    await insertGrant(ctx.services, { node: { folder: t.top }, user: ids.bob, level: 'read-only' });
    const url = `/folders/${t.mid}/block-inheritance`;
    const on = await api('admin', 'PUT', url, { block: true });
    expect(on.statusCode).toBe(200);
    expect(on.json()).toEqual({ folderId: t.mid, blockInheritance: true });
    // Bob's grant above Mid no longer reaches it or below.
    expect((await api('bob', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(404);
    expect((await api('bob', 'GET', `/folders/${t.side}/access`)).statusCode).toBe(200);
    // Setting the same state again changes nothing and records nothing.
    const blockedBefore = (await auditRecords(ctx.services, 'Inheritance Blocked')).length;
    expect((await api('admin', 'PUT', url, { block: true })).statusCode).toBe(200);
    expect((await auditRecords(ctx.services, 'Inheritance Blocked')).length).toBe(blockedBefore);
    const off = await api('admin', 'PUT', url, { block: false });
    expect(off.json()).toEqual({ folderId: t.mid, blockInheritance: false });
    expect((await api('bob', 'GET', `/folders/${t.low}/access`)).statusCode).toBe(200);

    const blocked = (await auditRecords(ctx.services, 'Inheritance Blocked')).at(-1)!;
    expect(blocked).toMatchObject({
      status: 'success',
      target: `${t.path}/Mid`,
      login_name: 'g-admin',
    });
    const unblocked = (await auditRecords(ctx.services, 'Inheritance Unblocked')).at(-1)!;
    expect(unblocked).toMatchObject({ status: 'success', target: `${t.path}/Mid` });
  });

  it('the permission to block is the one held before the change, even when it comes from above', async () => {
    const t = await tree();
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.frank,
      level: 'full-grant-block',
    });
    await insertGrant(ctx.services, {
      node: { folder: t.top },
      user: ids.alice,
      level: 'full-grant',
    });
    const url = `/folders/${t.mid}/block-inheritance`;

    const before = await accessState(ctx.services);
    const alice = await api('alice', 'PUT', url, { block: true });
    expect(alice.statusCode).toBe(403);
    expect(alice.json().error.code).toBe('not_allowed');
    const bob = await api('bob', 'PUT', url, { block: true });
    const bobUnknown = await api('bob', 'PUT', `/folders/${UNKNOWN_ID}/block-inheritance`, {
      block: true,
    });
    expect(bob.statusCode).toBe(404);
    expect(bob.body).toBe(bobUnknown.body);
    expect(await accessState(ctx.services)).toBe(before);
    const denied = (await auditRecords(ctx.services, 'Inheritance Blocked')).at(-1)!;
    expect(denied).toMatchObject({
      status: 'denied',
      login_name: 'g-alice',
      target: `${t.path}/Mid`,
    });

    const frank = await api('frank', 'PUT', url, { block: true });
    expect(frank.statusCode).toBe(200);
    // Frank's own access came from above: he has just cut himself off.
    expect((await api('frank', 'GET', `/folders/${t.mid}/access`)).statusCode).toBe(404);
    expect((await api('frank', 'PUT', url, { block: false })).statusCode).toBe(404);
  });

  it('createGrant lets the vault give a private folder’s owner Full + Grant inside its own transaction', async () => {
    const t = await tree();
    const privateFolder = await insertFolder(ctx.services, t.top, 'Private', { kind: 'private' });
    const actor = { userId: ids.admin!, loginName: 'g-admin', ip: '127.0.0.1' };
    const grant = await ctx.services.store.transaction((trx) =>
      ctx.services.access.createGrant(trx, {
        nodeType: 'folder',
        nodeId: privateFolder,
        principalType: 'user',
        principalId: ids.erin!,
        builtinLevel: 'full-grant',
        actor,
      }),
    );
    expect(grant).toMatchObject({
      nodeId: privateFolder,
      fromPath: `${t.path}/Private`,
      accessLevel: { name: 'Full + Grant' },
      principal: { id: ids.erin },
    });
    const eff = await ctx.services.access.effective(testActor({ userId: ids.erin! }));
    expect(eff.folder(privateFolder).has('modifyEntries')).toBe(true);
    expect(eff.folder(privateFolder).canGrant('viewAccess')).toBe(true);
    expect(eff.folder(privateFolder).has('viewEntryOffline')).toBe(false);
    expect(eff.folder(t.top).isEmpty).toBe(true);
    const rec = (await auditRecords(ctx.services, 'Access Added')).at(-1)!;
    expect(rec).toMatchObject({ target: `${t.path}/Private`, login_name: 'g-admin' });

    // When the vault's transaction fails, the grant and its audit record go with it.
    const other = await insertFolder(ctx.services, t.top, 'Private 2', { kind: 'private' });
    const auditCount = (await ctx.services.store.db.selectFrom('audit_log').select('id').execute())
      .length;
    await expect(
      ctx.services.store.transaction(async (trx) => {
        await ctx.services.access.createGrant(trx, {
          nodeType: 'folder',
          nodeId: other,
          principalType: 'user',
          principalId: ids.erin!,
          builtinLevel: 'full-grant',
          actor,
        });
        throw new Error('vault failed');
      }),
    ).rejects.toThrow('vault failed');
    const rows = await ctx.services.store.db
      .selectFrom('grants')
      .select('id')
      .where('node_id', '=', other)
      .execute();
    expect(rows).toEqual([]);
    expect(
      (await ctx.services.store.db.selectFrom('audit_log').select('id').execute()).length,
    ).toBe(auditCount);
  });

  it('effective() sees grants to the user and to roles held through sub-roles', async () => {
    const t = await tree();
    await insertGrant(ctx.services, { node: { folder: t.mid }, role: delegates, level: 'full' });
    await insertGrant(ctx.services, {
      node: { entry: t.topEntry },
      user: ids.dave,
      level: 'read-only',
    });
    // The actor exactly as the server resolves dave's session: his roles include Delegates.
    const actor = await ctx.services.authenticator.authenticate(tokens.dave!, '127.0.0.1');
    expect(actor?.roleIds).toContain(delegates);
    const eff = await ctx.services.access.effective(actor!);
    expect(eff.folder(t.low).has('modifyEntries')).toBe(true);
    expect(eff.folder(t.top).isEmpty).toBe(true);
    expect(eff.canSeeEntry(t.topEntry, t.top)).toBe(true);
    expect(eff.canSeeEntry(t.lowEntry, t.low)).toBe(true);
    expect(await ctx.services.access.folderPath(t.low)).toBe(`${t.path}/Mid/Low`);
    expect(await ctx.services.access.entryPath(t.lowEntry)).toBe(`${t.path}/Mid/Low/Low Entry`);
  });
});
