import { afterEach, describe, expect, it } from 'vitest';
import { compose, type Services } from '../compose.js';
import {
  DIALECTS,
  createTestContext,
  testConfig,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { adminToken, createRole, createUser, login } from '../test-support/identity.js';
import { ADMIN_COMMAND_ACTOR, createUserCommand, resetPasswordCommand } from './admin-commands.js';
import { ensureFirstAdministrator } from './first-start.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID } from './role-graph.js';
import { api, auditOf } from './test-util.js';
import { SYSTEM_ACTOR } from './context.js';
import { DEFAULT_POLICY_ID } from '../policies/service.js';

describe.each(DIALECTS)('users (%s)', (dialect) => {
  let ctx: TestContext;
  const extra: Services[] = [];
  afterEach(async () => {
    for (const s of extra.splice(0)) await s.close();
    await ctx?.close();
  });

  it('creates, reads, lists (paged), updates and deletes users; never shows a hash', async () => {
    ctx = await createTestContext(dialect);
    const admin = await adminToken(ctx);
    const ops = await createRole(ctx.services, 'Ops');
    const password = testSecret('new');
    const created = await api(ctx.app, 'POST', '/users', {
      token: admin,
      body: {
        loginName: 'Zoe@Corp.Example',
        password,
        displayName: 'Zoe',
        email: 'zoe@corp.example',
        roles: [ops],
      },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      loginName: 'Zoe@Corp.Example',
      displayName: 'Zoe',
      email: 'zoe@corp.example',
      enabled: true,
      locked: false,
      mustChangePassword: true,
      roles: [{ id: ops, name: 'Ops', builtin: null }],
    });
    const id = created.json.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    for (const n of ['u1', 'u2', 'u3']) await createUser(ctx.services, { loginName: n });
    const page = await api(ctx.app, 'GET', '/users?limit=2&offset=1', { token: admin });
    expect(page.status).toBe(200);
    expect(page.json.total).toBe(5);
    expect(page.json.items.map((u: { loginName: string }) => u.loginName)).toEqual(['u1', 'u2']);
    const found = await api(ctx.app, 'GET', '/users?q=ZOE', { token: admin });
    expect(found.json.items.map((u: { id: string }) => u.id)).toEqual([id]);
    const literal = await api(ctx.app, 'GET', `/users?q=${encodeURIComponent('u_')}`, {
      token: admin,
    });
    expect(literal.json.total).toBe(0);

    const patched = await api(ctx.app, 'PATCH', `/users/${id}`, {
      token: admin,
      body: { displayName: 'Zoë Z.', email: '' },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ displayName: 'Zoë Z.', email: '' });
    expect((await api(ctx.app, 'GET', `/users/${id}`, { token: admin })).json.displayName).toBe(
      'Zoë Z.',
    );

    const listing = await api(ctx.app, 'GET', '/users', { token: admin });
    expect(listing.body).not.toContain('argon2');
    expect(listing.body).not.toContain(password);

    const token = await login(ctx.app, 'zoe@corp.example', password);
    expect((await api(ctx.app, 'DELETE', `/users/${id}`, { token: admin })).status).toBe(204);
    expect((await api(ctx.app, 'GET', `/users/${id}`, { token: admin })).status).toBe(404);
    expect((await api(ctx.app, 'GET', '/me', { token })).status).toBe(401);
    const remaining = await ctx.services.store.db
      .selectFrom('role_members')
      .selectAll()
      .where('user_id', '=', id)
      .execute();
    expect(remaining).toEqual([]);

    const events = (
      await ctx.services.store.db
        .selectFrom('audit_log')
        .select(['event', 'target'])
        .orderBy('seq')
        .execute()
    )
      .filter((r) => r.target === 'Zoe@Corp.Example')
      .map((r) => r.event);
    expect(events).toEqual(['User Created', 'User Updated', 'Login', 'User Deleted']);
  });

  it('needs manageUsers for user routes and setUserPasswords for password resets', async () => {
    ctx = await createTestContext(dialect);
    const managers = await createRole(ctx.services, 'User managers', {
      permissions: ['manageUsers'],
    });
    const manager = await createUser(ctx.services, { loginName: 'manager', roles: [managers] });
    const plain = await createUser(ctx.services, { loginName: 'plain' });
    const managerToken = await login(ctx.app, 'manager', manager.password);
    const plainToken = await login(ctx.app, 'plain', plain.password);

    const denied = await api(ctx.app, 'GET', '/users', { token: plainToken });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('forbidden');
    expect((await api(ctx.app, 'GET', '/users', { token: managerToken })).status).toBe(200);
    const reset = await api(ctx.app, 'POST', `/users/${plain.id}/reset-password`, {
      token: managerToken,
      body: { newPassword: testSecret('x') },
    });
    expect(reset.status).toBe(403);
    // Nothing changed: the old password still works.
    await login(ctx.app, 'plain', plain.password);
  });

  it('never leaves the system without an enabled administrator, and nobody deletes themselves', async () => {
    ctx = await createTestContext(dialect);
    const a = await createUser(ctx.services, { loginName: 'root-a', administrator: true });
    const aToken = await login(ctx.app, 'root-a', a.password);
    const managers = await createRole(ctx.services, 'User managers', {
      permissions: ['manageUsers', 'manageRoles'],
    });
    const m = await createUser(ctx.services, { loginName: 'manager', roles: [managers] });
    const mToken = await login(ctx.app, 'manager', m.password);

    const self = await api(ctx.app, 'DELETE', `/users/${a.id}`, { token: aToken });
    expect(self.status).toBe(403);
    expect(self.json.error.code).toBe('not_allowed');
    const disable = await api(ctx.app, 'POST', `/users/${a.id}/disable`, { token: mToken });
    expect(disable.status).toBe(409);
    expect((await api(ctx.app, 'DELETE', `/users/${a.id}`, { token: mToken })).status).toBe(409);
    const leave = await api(ctx.app, 'DELETE', `/roles/${ADMINISTRATORS_ROLE_ID}/members/${a.id}`, {
      token: mToken,
    });
    expect(leave.status).toBe(409);
    expect((await api(ctx.app, 'GET', '/me', { token: aToken })).json.isAdministrator).toBe(true);

    // An administrator through a sub-role of Administrators counts.
    const nested = await createRole(ctx.services, 'Deputies', { parent: ADMINISTRATORS_ROLE_ID });
    const b = await createUser(ctx.services, { loginName: 'deputy', roles: [nested] });
    const bToken = await login(ctx.app, 'deputy', b.password);
    expect((await api(ctx.app, 'GET', '/me', { token: bToken })).json.isAdministrator).toBe(true);
    expect((await api(ctx.app, 'DELETE', `/users/${a.id}`, { token: bToken })).status).toBe(204);

    // Now the deputy is the last one: every way of removing them is refused.
    expect((await api(ctx.app, 'POST', `/users/${b.id}/disable`, { token: mToken })).status).toBe(
      409,
    );
    expect(
      (
        await api(ctx.app, 'DELETE', `/roles/${ADMINISTRATORS_ROLE_ID}/subroles/${nested}`, {
          token: mToken,
        })
      ).status,
    ).toBe(409);
    expect(
      (await api(ctx.app, 'DELETE', `/roles/${nested}/members/${b.id}`, { token: mToken })).status,
    ).toBe(409);
    expect((await api(ctx.app, 'DELETE', `/roles/${nested}`, { token: mToken })).status).toBe(409);
    expect((await api(ctx.app, 'GET', '/me', { token: bToken })).json.isAdministrator).toBe(true);
    const row = await ctx.services.store.db
      .selectFrom('users')
      .select('enabled')
      .where('id', '=', b.id)
      .executeTakeFirstOrThrow();
    expect(row.enabled).toBe(1);
  });

  it('creates the first administrator once, with a one-time password that must be changed', async () => {
    ctx = await createTestContext(dialect);
    const second = await compose(testConfig(ctx.db), {
      clock: ctx.clock,
      backgroundJobs: false,
      createKeyFile: false,
    });
    extra.push(second);
    // Two servers starting at once create one administrator between them.
    const results = await Promise.all([
      ensureFirstAdministrator(ctx.services),
      ensureFirstAdministrator(second),
    ]);
    const made = results.filter((r) => r !== null);
    expect(made).toHaveLength(1);
    expect(made[0]!.loginName).toBe('admin');
    expect(await ensureFirstAdministrator(ctx.services)).toBeNull();
    const users = await ctx.services.store.db.selectFrom('users').selectAll().execute();
    expect(users).toHaveLength(1);
    expect(users[0]!.password_hash).not.toContain(made[0]!.oneTimePassword);

    const res = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'admin', password: made[0]!.oneTimePassword },
    });
    expect(res.status).toBe(200);
    expect(res.json.mustChangePassword).toBe(true);
    const token = res.json.token as string;
    expect((await api(ctx.app, 'GET', '/users', { token })).json.error.code).toBe(
      'password_change_required',
    );
    const me = await api(ctx.app, 'GET', '/me', { token });
    expect(me.json.isAdministrator).toBe(true);
    const next = testSecret('admin');
    await api(ctx.app, 'POST', '/me/password', {
      token,
      body: { currentPassword: made[0]!.oneTimePassword, newPassword: next },
    });
    expect((await api(ctx.app, 'GET', '/users', { token })).status).toBe(200);
  });

  it('admin commands create users and reset passwords, audited as strongroom-admin', async () => {
    ctx = await createTestContext(dialect);
    await ctx.services.policies.update(SYSTEM_ACTOR, DEFAULT_POLICY_ID, {
      settings: { lockout: { threshold: 1, durationMinutes: null } },
    });
    const first = testSecret('first');
    const created = await createUserCommand(ctx.services, {
      loginName: 'Ops@Corp.Example',
      password: first,
      administrator: true,
    });
    expect(created.roles.map((r) => r.name)).toEqual(['Administrators']);
    expect(created.mustChangePassword).toBe(true);
    await expect(
      createUserCommand(ctx.services, {
        loginName: 'ops@corp.example',
        password: first,
        administrator: false,
      }),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      createUserCommand(ctx.services, {
        loginName: ' padded',
        password: first,
        administrator: false,
      }),
    ).rejects.toMatchObject({ code: 'validation_failed', field: '/loginName' });

    // Locked out for good by one wrong password; the command is the way back in.
    await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'ops@corp.example', password: testSecret('w') },
    });
    const locked = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'ops@corp.example', password: first },
    });
    expect(locked.json.error.code).toBe('account_locked');
    const second = testSecret('second');
    await resetPasswordCommand(ctx.services, 'OPS@corp.example', second);
    const res = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'ops@corp.example', password: second },
    });
    expect(res.status).toBe(200);
    expect(res.json.mustChangePassword).toBe(true);
    await expect(resetPasswordCommand(ctx.services, 'nobody', second)).rejects.toMatchObject({
      code: 'not_found',
    });
    const resets = await auditOf(ctx.services.store.db, 'Password Reset');
    expect(resets.map((r) => [r.login_name, r.target])).toEqual([
      [ADMIN_COMMAND_ACTOR.loginName, 'Ops@Corp.Example'],
    ]);
    const creations = await auditOf(ctx.services.store.db, 'User Created');
    expect(creations.map((r) => r.login_name)).toEqual(['strongroom-admin']);
  });

  it('answers bad input on every identity route with 400 and the field, and changes nothing', async () => {
    ctx = await createTestContext(dialect);
    const admin = await adminToken(ctx);
    const user = await createUser(ctx.services, { loginName: 'target' });
    const role = await createRole(ctx.services, 'Target role');
    const own = await login(ctx.app, 'target', user.password);
    const snapshot = async () => {
      const db = ctx.services.store.db;
      return JSON.stringify([
        await db.selectFrom('users').selectAll().orderBy('id').execute(),
        await db.selectFrom('roles').selectAll().orderBy('id').execute(),
        await db
          .selectFrom('role_members')
          .selectAll()
          .orderBy('role_id')
          .orderBy('user_id')
          .execute(),
        await db.selectFrom('role_children').selectAll().orderBy('role_id').execute(),
        await db
          .selectFrom('role_permissions')
          .selectAll()
          .orderBy('role_id')
          .orderBy('permission')
          .execute(),
        await db.selectFrom('sessions').select('id').orderBy('id').execute(),
      ]);
    };
    const before = await snapshot();
    const long = 'x'.repeat(5000);
    const bad = 'not-a-guid';
    const cases: Array<
      [
        method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
        url: string,
        body: unknown,
        field: string,
        token?: string,
      ]
    > = [
      ['POST', '/auth/login', { loginName: '', password: 'x' }, '/loginName'],
      ['POST', '/auth/login', { loginName: 'target' }, '/password'],
      [
        'POST',
        '/auth/login',
        { loginName: 'target', password: user.password, client: 'desktop' },
        '/client',
      ],
      ['POST', '/auth/login', { loginName: 'target', password: user.password, extra: 1 }, '/extra'],
      ['POST', '/auth/login', { loginName: long, password: 'x' }, '/loginName'],
      [
        'POST',
        '/me/password',
        { currentPassword: user.password, newPassword: 'short' },
        '/newPassword',
        own,
      ],
      [
        'POST',
        '/me/password',
        { currentPassword: user.password, newPassword: long },
        '/newPassword',
        own,
      ],
      ['POST', '/me/password', { newPassword: testSecret('n') }, '/currentPassword', own],
      ['POST', '/users', { loginName: ' lead', password: testSecret('p') }, '/loginName'],
      ['POST', '/users', { loginName: 'tab\tname', password: testSecret('p') }, '/loginName'],
      ['POST', '/users', { loginName: 'ok', password: 'short' }, '/password'],
      [
        'POST',
        '/users',
        { loginName: 'ok', password: testSecret('p'), email: 'no mail' },
        '/email',
      ],
      ['POST', '/users', { loginName: 'ok', password: testSecret('p'), roles: [bad] }, '/roles/0'],
      [
        'POST',
        '/users',
        {
          loginName: 'ok',
          password: testSecret('p'),
          roles: ['6f1c2a9e-0000-4000-8000-000000000001'],
        },
        '/roles',
      ],
      ['POST', '/users', { loginName: 'ok', password: testSecret('p'), isAdmin: true }, '/isAdmin'],
      ['GET', '/users?limit=0', undefined, '/limit'],
      ['GET', '/users?offset=-1', undefined, '/offset'],
      ['GET', `/users?q=${long}`, undefined, '/q'],
      ['GET', `/users/${bad}`, undefined, '/id'],
      ['PATCH', `/users/${user.id}`, { displayName: long }, '/displayName'],
      ['PATCH', `/users/${user.id}`, { loginName: 'renamed' }, '/loginName'],
      ['PATCH', `/users/${user.id}`, { displayName: 'bell\u0007' }, '/displayName'],
      ['DELETE', `/users/${bad}`, undefined, '/id'],
      ['POST', `/users/${bad}/disable`, undefined, '/id'],
      ['POST', `/users/${bad}/unlock`, undefined, '/id'],
      ['POST', `/users/${user.id}/reset-password`, { newPassword: 'short' }, '/newPassword'],
      ['POST', `/users/${user.id}/reset-password`, {}, '/newPassword'],
      ['POST', '/roles', { name: '' }, '/name'],
      ['POST', '/roles', { name: long }, '/name'],
      ['POST', '/roles', { name: 'R', permissions: ['everything'] }, '/permissions/0'],
      [
        'POST',
        '/roles',
        { name: 'R', permissions: ['manageUsers', 'manageUsers'] },
        '/permissions',
      ],
      ['GET', `/roles/${bad}`, undefined, '/id'],
      ['PATCH', `/roles/${role}`, { name: 42 }, '/name'],
      ['PATCH', `/roles/${role}`, { description: long }, '/description'],
      ['DELETE', `/roles/${bad}`, undefined, '/id'],
      ['PUT', `/roles/${role}/members/${bad}`, undefined, '/userId'],
      ['DELETE', `/roles/${bad}/members/${user.id}`, undefined, '/id'],
      ['PUT', `/roles/${role}/subroles/${bad}`, undefined, '/childId'],
      ['DELETE', `/roles/${role}/subroles/${bad}`, undefined, '/childId'],
      ['PUT', `/roles/${role}/permissions`, { permissions: 'manageUsers' }, '/permissions'],
      ['PUT', `/roles/${role}/permissions`, {}, '/permissions'],
    ];
    const failures: string[] = [];
    for (const [method, url, body, field, token] of cases) {
      const res = await api(ctx.app, method, url, { token: token ?? admin, body });
      if (res.status !== 400 || res.json?.error?.field !== field) {
        failures.push(`${method} ${url.slice(0, 60)} → ${res.status} ${res.body.slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it('keeps built-in role ids stable and the Users role implicit', async () => {
    ctx = await createTestContext(dialect);
    const roles = await ctx.services.store.db
      .selectFrom('roles')
      .select(['id', 'builtin'])
      .orderBy('name_key')
      .execute();
    expect(roles).toEqual([
      { id: ADMINISTRATORS_ROLE_ID, builtin: 'administrators' },
      { id: USERS_ROLE_ID, builtin: 'users' },
    ]);
    await createUser(ctx.services, { loginName: 'plain', roles: [USERS_ROLE_ID] });
    const members = await ctx.services.store.db.selectFrom('role_members').selectAll().execute();
    expect(members).toEqual([]);
  });
});
