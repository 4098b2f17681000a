import { afterEach, describe, expect, it } from 'vitest';
import { APP_PERMISSIONS } from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { adminToken, createRole, createUser, login } from '../test-support/identity.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID, roleClosure, wouldCycle } from './role-graph.js';
import { api, auditOf } from './test-util.js';

describe('role graph', () => {
  const edges = [
    { role_id: 'outer', child_role_id: 'middle' },
    { role_id: 'middle', child_role_id: 'inner' },
    { role_id: 'other', child_role_id: 'users' },
  ];

  it('a member of an inner role belongs to every role around it, and to Users', () => {
    expect(roleClosure(['inner'], edges).sort()).toEqual(
      ['inner', 'middle', 'outer', USERS_ROLE_ID].sort(),
    );
    expect(roleClosure([], [{ role_id: 'all', child_role_id: USERS_ROLE_ID }]).sort()).toEqual(
      ['all', USERS_ROLE_ID].sort(),
    );
  });

  it('finds the cycles a new sub-role would close', () => {
    expect(wouldCycle('inner', 'outer', edges)).toBe(true);
    expect(wouldCycle('outer', 'outer', edges)).toBe(true);
    expect(wouldCycle('outer', 'inner', edges)).toBe(false);
    expect(wouldCycle('other', 'outer', edges)).toBe(false);
  });
});

describe.each(DIALECTS)('roles (%s)', (dialect) => {
  let ctx: TestContext;
  afterEach(async () => {
    await ctx?.close();
  });

  it('creates, lists, renames and deletes custom roles with their grants', async () => {
    ctx = await createTestContext(dialect);
    const admin = await adminToken(ctx);
    const created = await api(ctx.app, 'POST', '/roles', {
      token: admin,
      body: { name: 'Auditors', description: 'Read the log', permissions: ['viewAuditLog'] },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      name: 'Auditors',
      description: 'Read the log',
      builtin: null,
      permissions: ['viewAuditLog'],
      members: [],
      subRoles: [],
    });
    const id = created.json.id as string;
    const dup = await api(ctx.app, 'POST', '/roles', { token: admin, body: { name: 'AUDITORS' } });
    expect(dup.status).toBe(409);

    const list = await api(ctx.app, 'GET', '/roles', { token: admin });
    expect(list.json.items.map((r: { name: string }) => r.name)).toEqual([
      'Administrators',
      'Auditors',
      'Users',
    ]);
    const adminsRole = list.json.items.find((r: { id: string }) => r.id === ADMINISTRATORS_ROLE_ID);
    expect(adminsRole.permissions).toEqual([...APP_PERMISSIONS]);

    const renamed = await api(ctx.app, 'PATCH', `/roles/${id}`, {
      token: admin,
      body: { name: 'Log readers' },
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json.name).toBe('Log readers');
    expect(
      (await api(ctx.app, 'PATCH', `/roles/${id}`, { token: admin, body: { name: 'users' } }))
        .status,
    ).toBe(409);

    // A grant to the role goes with it.
    const level = await ctx.services.store.db
      .selectFrom('access_levels')
      .select('id')
      .executeTakeFirstOrThrow();
    await ctx.services.store.db
      .insertInto('grants')
      .values({
        id: '0b5e8a2c-1111-4000-8000-000000000001',
        node_type: 'folder',
        node_id: '0b5e8a2c-2222-4000-8000-000000000002',
        principal_type: 'role',
        principal_id: id,
        access_level_id: level.id,
        expires_at: null,
        created_at: ctx.clock.now(),
        created_by: null,
      })
      .execute();
    expect((await api(ctx.app, 'DELETE', `/roles/${id}`, { token: admin })).status).toBe(204);
    expect((await api(ctx.app, 'GET', `/roles/${id}`, { token: admin })).status).toBe(404);
    expect(
      await ctx.services.store.db
        .selectFrom('grants')
        .selectAll()
        .where('principal_id', '=', id)
        .execute(),
    ).toEqual([]);
    const events = (
      await ctx.services.store.db
        .selectFrom('audit_log')
        .select(['event', 'target'])
        .orderBy('seq')
        .execute()
    )
      .filter((r) => r.event.startsWith('Role '))
      .map((r) => `${r.event}: ${r.target}`);
    expect(events).toEqual([
      'Role Created: Auditors',
      'Role Updated: Log readers',
      'Role Deleted: Log readers',
    ]);
  });

  it('protects the built-in roles and keeps Users implicit', async () => {
    ctx = await createTestContext(dialect);
    const admin = await adminToken(ctx);
    const plain = await createUser(ctx.services, { loginName: 'plain' });
    const token = await login(ctx.app, 'plain', plain.password);

    for (const [method, url, body] of [
      ['DELETE', `/roles/${ADMINISTRATORS_ROLE_ID}`, undefined],
      ['DELETE', `/roles/${USERS_ROLE_ID}`, undefined],
      ['PATCH', `/roles/${USERS_ROLE_ID}`, { name: 'Everyone' }],
      ['PUT', `/roles/${ADMINISTRATORS_ROLE_ID}/permissions`, { permissions: [] }],
      ['PUT', `/roles/${USERS_ROLE_ID}/members/${plain.id}`, undefined],
      ['DELETE', `/roles/${USERS_ROLE_ID}/members/${plain.id}`, undefined],
    ] as const) {
      const res = await api(ctx.app, method, url, { token: admin, body });
      expect({ url, status: res.status }).toEqual({ url, status: 409 });
    }
    const described = await api(ctx.app, 'PATCH', `/roles/${USERS_ROLE_ID}`, {
      token: admin,
      body: { description: 'Everyone who can log in' },
    });
    expect(described.status).toBe(200);
    expect(described.json.name).toBe('Users');

    // Permissions on Users reach every user at once, on their existing session.
    expect((await api(ctx.app, 'GET', '/me', { token })).json.appPermissions).toEqual([]);
    await api(ctx.app, 'PUT', `/roles/${USERS_ROLE_ID}/permissions`, {
      token: admin,
      body: { permissions: ['createPrivateFolders'] },
    });
    const me = await api(ctx.app, 'GET', '/me', { token });
    expect(me.json.appPermissions).toEqual(['createPrivateFolders']);
    expect(me.json.roles.map((r: { id: string }) => r.id)).toEqual([USERS_ROLE_ID]);
  });

  it('members of a sub-role count as members of the outer role, through every level', async () => {
    ctx = await createTestContext(dialect);
    const admin = await adminToken(ctx);
    const outer = await createRole(ctx.services, 'Outer', { permissions: ['manageRoles'] });
    const middle = await createRole(ctx.services, 'Middle', { parent: outer });
    const inner = await createRole(ctx.services, 'Inner', {
      parent: middle,
      permissions: ['viewAuditLog'],
    });
    const user = await createUser(ctx.services, { loginName: 'nested', roles: [inner] });
    const token = await login(ctx.app, 'nested', user.password);

    const me = await api(ctx.app, 'GET', '/me', { token });
    expect(me.json.roles.map((r: { name: string }) => r.name)).toEqual([
      'Inner',
      'Middle',
      'Outer',
      'Users',
    ]);
    expect(me.json.appPermissions).toEqual(['manageRoles', 'viewAuditLog']);
    expect(me.json.isAdministrator).toBe(false);
    expect((await api(ctx.app, 'GET', '/roles', { token })).status).toBe(200);
    const outerView = await api(ctx.app, 'GET', `/roles/${outer}`, { token });
    expect(outerView.json.subRoles.map((r: { name: string }) => r.name)).toEqual(['Middle']);

    // Cutting the chain takes the outer role's permission away at once.
    const cut = await api(ctx.app, 'DELETE', `/roles/${middle}/subroles/${inner}`, {
      token: admin,
    });
    expect(cut.status).toBe(200);
    expect(cut.json.subRoles).toEqual([]);
    expect((await api(ctx.app, 'GET', '/roles', { token })).status).toBe(403);
    expect((await api(ctx.app, 'GET', '/me', { token })).json.appPermissions).toEqual([
      'viewAuditLog',
    ]);

    // Joining Outer directly, then leaving it.
    const joined = await api(ctx.app, 'PUT', `/roles/${outer}/members/${user.id}`, {
      token: admin,
    });
    expect(joined.json.members.map((m: { loginName: string }) => m.loginName)).toEqual(['nested']);
    expect((await api(ctx.app, 'GET', '/roles', { token })).status).toBe(200);
    expect(
      (await api(ctx.app, 'DELETE', `/roles/${outer}/members/${user.id}`, { token: admin })).status,
    ).toBe(200);
    expect((await api(ctx.app, 'GET', '/roles', { token })).status).toBe(403);
    expect(
      (await api(ctx.app, 'DELETE', `/roles/${outer}/members/${user.id}`, { token: admin })).status,
    ).toBe(404);
    const unknownUser = await api(
      ctx.app,
      'PUT',
      `/roles/${outer}/members/6f1c2a9e-0000-4000-8000-000000000009`,
      {
        token: admin,
      },
    );
    expect(unknownUser.status).toBe(404);

    // Nesting Administrators inside a role makes administrators members of it.
    await api(ctx.app, 'PUT', `/roles/${inner}/subroles/${ADMINISTRATORS_ROLE_ID}`, {
      token: admin,
    });
    const adminMe = await api(ctx.app, 'GET', '/me', { token: admin });
    expect(adminMe.json.roles.map((r: { name: string }) => r.name)).toEqual([
      'Administrators',
      'Inner',
      'Users',
    ]);
  });

  it('refuses sub-roles that would make roles contain each other', async () => {
    ctx = await createTestContext(dialect);
    const admin = await adminToken(ctx);
    const a = await createRole(ctx.services, 'A');
    const b = await createRole(ctx.services, 'B', { parent: a });
    const c = await createRole(ctx.services, 'C', { parent: b });
    const edgesBefore = await ctx.services.store.db
      .selectFrom('role_children')
      .selectAll()
      .execute();
    for (const [parent, child] of [
      [c, a],
      [b, a],
      [a, a],
    ]) {
      const res = await api(ctx.app, 'PUT', `/roles/${parent}/subroles/${child}`, { token: admin });
      expect(res.status).toBe(409);
      expect(res.json.error.code).toBe('conflict');
    }
    expect(await ctx.services.store.db.selectFrom('role_children').selectAll().execute()).toEqual(
      edgesBefore,
    );
    // A diamond is not a cycle.
    expect((await api(ctx.app, 'PUT', `/roles/${a}/subroles/${c}`, { token: admin })).status).toBe(
      200,
    );
  });

  it('needs manageRoles', async () => {
    ctx = await createTestContext(dialect);
    const managers = await createRole(ctx.services, 'User managers', {
      permissions: ['manageUsers'],
    });
    const m = await createUser(ctx.services, { loginName: 'manager', roles: [managers] });
    const token = await login(ctx.app, 'manager', m.password);
    const res = await api(ctx.app, 'POST', '/roles', { token, body: { name: 'Sneaky' } });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('forbidden');
    expect(
      (await api(ctx.app, 'PUT', `/roles/${ADMINISTRATORS_ROLE_ID}/members/${m.id}`, { token }))
        .status,
    ).toBe(403);
    expect(await auditOf(ctx.services.store.db, 'Role Created')).toHaveLength(1);
  });
});
