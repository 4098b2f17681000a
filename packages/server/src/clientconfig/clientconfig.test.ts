import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CLIENT_SETTINGS,
  type ClientConfigRule,
  type EffectiveClientConfig,
} from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { adminToken, createRole, createUser, login } from '../test-support/identity.js';
import { auditRecords } from '../access/test-fixture.js';
import { identityOf } from '../users/identity.js';
import { SYSTEM_ACTOR } from '../users/context.js';
import { DEFAULT_CLIENT_RULE_ID } from './service.js';

const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000ff';

describe.each(DIALECTS)('client configuration (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: string;
  let manager: string; // holds manageClientConfiguration through a role, not an administrator
  let plain: string;
  let counter = 0;

  const call = (
    token: string | null,
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    payload?: unknown,
  ) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { payload: payload as string } : {}),
    });

  const unique = (base: string) => `${base}-${++counter}`;

  const createRule = async (body: Record<string, unknown>, token = admin) => {
    const res = await call(token, 'POST', '/client-config/rules', body);
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as ClientConfigRule;
  };

  /** A fresh user with these direct roles, logged in. */
  const userWith = async (roles: string[] = []) => {
    const u = await createUser(ctx.services, { loginName: unique('cc-user'), roles });
    return { id: u.id, token: await login(ctx.app, u.loginName, u.password) };
  };

  const effective = async (token: string) => {
    const res = await call(token, 'GET', '/client-config/effective');
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as EffectiveClientConfig;
  };

  const listRules = async () => {
    const res = await call(admin, 'GET', '/client-config/rules');
    expect(res.statusCode).toBe(200);
    return (res.json() as { rules: ClientConfigRule[] }).rules;
  };

  const roleRuleIds = async () =>
    (await listRules()).filter((r) => r.principalType === 'role').map((r) => r.id);

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    admin = await adminToken(ctx);
    const role = await createRole(ctx.services, 'Client Config Managers', {
      permissions: ['manageClientConfiguration'],
    });
    const m = await createUser(ctx.services, { loginName: 'cc-manager', roles: [role] });
    manager = await login(ctx.app, m.loginName, m.password);
    plain = (await userWith()).token;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('gives everyone without a rule the Default Rule with the documented defaults', async () => {
    const eff = await effective(plain);
    expect(eff).toEqual({
      settings: DEFAULT_CLIENT_SETTINGS,
      ruleId: DEFAULT_CLIENT_RULE_ID,
      ruleName: 'Default Rule',
      source: 'default',
    });
    expect(DEFAULT_CLIENT_SETTINGS).toEqual({
      expireCacheAfterDays: null,
      maxOfflineHours: null,
      clipboardClearSeconds: 30,
      lockAfterIdleMinutes: 15,
      passwordGenerator: {
        length: 20,
        uppercase: true,
        lowercase: true,
        digits: true,
        symbols: true,
      },
      exportAllowed: false,
      offlineCommentRequired: false,
    });
    const rules = await listRules();
    expect(rules[0]).toMatchObject({
      id: DEFAULT_CLIENT_RULE_ID,
      principalType: null,
      principalId: null,
      position: null,
    });
    expect(rules.filter((r) => r.principalType === null)).toHaveLength(1);
  });

  it('applies a user rule over role rules, the first role rule in order, sub-roles included', async () => {
    const outer = await createRole(ctx.services, unique('Outer'));
    const inner = await createRole(ctx.services, unique('Inner'), { parent: outer });
    const other = await createRole(ctx.services, unique('Other'));
    const u = await userWith([inner, other]);

    // No rule for any of their roles yet: the Default Rule.
    expect((await effective(u.token)).source).toBe('default');

    const otherRule = await createRule({
      name: unique('other rule'),
      principalType: 'role',
      principalId: other,
      settings: { clipboardClearSeconds: 5 },
    });
    const outerRule = await createRule({
      name: unique('outer rule'),
      principalType: 'role',
      principalId: outer,
      settings: { clipboardClearSeconds: 7, passwordGenerator: { length: 40 } },
    });
    // New role rules go last: `other` comes first.
    let eff = await effective(u.token);
    expect(eff).toMatchObject({ ruleId: otherRule.id, source: 'role' });
    expect(eff.settings.clipboardClearSeconds).toBe(5);

    // Putting the outer role's rule first makes it apply, through the sub-role membership.
    const ids = await roleRuleIds();
    const reordered = [outerRule.id, ...ids.filter((id) => id !== outerRule.id)];
    const res = await call(admin, 'PUT', '/client-config/rules/order', { ruleIds: reordered });
    expect(res.statusCode, res.body).toBe(200);
    expect(await roleRuleIds()).toEqual(reordered);
    eff = await effective(u.token);
    expect(eff).toMatchObject({ ruleId: outerRule.id, ruleName: outerRule.name, source: 'role' });
    expect(eff.settings.clipboardClearSeconds).toBe(7);
    expect(eff.settings.passwordGenerator).toEqual({
      ...DEFAULT_CLIENT_SETTINGS.passwordGenerator,
      length: 40,
    });

    // A rule for the user beats every role rule.
    const own = await createRule({
      name: unique('own rule'),
      principalType: 'user',
      principalId: u.id,
      settings: { exportAllowed: true },
    });
    eff = await effective(u.token);
    expect(eff).toMatchObject({ ruleId: own.id, source: 'user' });
    expect(eff.settings.exportAllowed).toBe(true);
    expect(own.position).toBeNull();

    // The service method the offline package uses agrees with the endpoint.
    expect(
      (await ctx.services.clientConfig.effectiveFor({ userId: u.id, roleIds: [other] })).ruleId,
    ).toBe(own.id);

    // Deleting the user rule falls back to the role rule.
    expect((await call(admin, 'DELETE', `/client-config/rules/${own.id}`)).statusCode).toBe(204);
    expect((await effective(u.token)).ruleId).toBe(outerRule.id);
  });

  it('uses the role rule of the built-in Users role for every user when one exists', async () => {
    const before = await effective(plain);
    expect(before.source).toBe('default');
    const usersRoleId = '5a4c1f0e-9d3b-4e2a-8f61-0a7d3c2b1e02';
    const rule = await createRule({
      name: unique('everyone'),
      principalType: 'role',
      principalId: usersRoleId,
    });
    expect((await effective(plain)).ruleId).toBe(rule.id);
    expect((await call(admin, 'DELETE', `/client-config/rules/${rule.id}`)).statusCode).toBe(204);
    expect((await effective(plain)).source).toBe('default');
  });

  it('protects the Default Rule: no delete, no principal, but its settings can change', async () => {
    const del = await call(admin, 'DELETE', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`);
    expect(del.statusCode).toBe(403);
    const u = await userWith();
    for (const body of [
      { principalType: 'user', principalId: u.id },
      { principalType: 'user' },
      { principalId: u.id },
    ]) {
      const res = await call(
        admin,
        'PATCH',
        `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`,
        body,
      );
      expect(res.statusCode).toBe(400);
      expect(res.json().error.field).toBe('/principalType');
    }
    const res = await call(admin, 'PATCH', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`, {
      settings: { lockAfterIdleMinutes: 0 },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((await effective(u.token)).settings.lockAfterIdleMinutes).toBe(0);
    const rule = (await listRules()).find((r) => r.id === DEFAULT_CLIENT_RULE_ID)!;
    expect(rule).toMatchObject({ principalType: null, principalId: null });
    await call(admin, 'PATCH', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`, {
      settings: { lockAfterIdleMinutes: 15 },
    });
  });

  it('validates every setting with the field named, on create and on update', async () => {
    const role = await createRole(ctx.services, unique('Validated'));
    const rule = await createRule({ name: unique('v'), principalType: 'role', principalId: role });
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ expireCacheAfterDays: 0 }, '/settings/expireCacheAfterDays'],
      [{ expireCacheAfterDays: 3651 }, '/settings/expireCacheAfterDays'],
      [{ expireCacheAfterDays: 1.5 }, '/settings/expireCacheAfterDays'],
      [{ maxOfflineHours: 0 }, '/settings/maxOfflineHours'],
      [{ maxOfflineHours: 87601 }, '/settings/maxOfflineHours'],
      [{ maxOfflineHours: 'never' }, '/settings/maxOfflineHours'],
      [{ clipboardClearSeconds: -1 }, '/settings/clipboardClearSeconds'],
      [{ clipboardClearSeconds: 3601 }, '/settings/clipboardClearSeconds'],
      [{ clipboardClearSeconds: null }, '/settings/clipboardClearSeconds'],
      [{ lockAfterIdleMinutes: -1 }, '/settings/lockAfterIdleMinutes'],
      [{ lockAfterIdleMinutes: 1441 }, '/settings/lockAfterIdleMinutes'],
      [{ passwordGenerator: { length: 7 } }, '/settings/passwordGenerator/length'],
      [{ passwordGenerator: { length: 129 } }, '/settings/passwordGenerator/length'],
      [{ passwordGenerator: { digits: 'yes' } }, '/settings/passwordGenerator/digits'],
      [{ passwordGenerator: { emoji: true } }, '/settings/passwordGenerator/emoji'],
      [{ exportAllowed: 1 }, '/settings/exportAllowed'],
      [{ offlineCommentRequired: 'yes' }, '/settings/offlineCommentRequired'],
      [{ colour: 'red' }, '/settings/colour'],
    ];
    const other = await createRole(ctx.services, unique('Other validated'));
    for (const [settings, field] of bad) {
      const created = await call(admin, 'POST', '/client-config/rules', {
        name: unique('bad'),
        principalType: 'role',
        principalId: other,
        settings,
      });
      expect(created.statusCode, JSON.stringify(settings)).toBe(400);
      expect(created.json().error.field, JSON.stringify(settings)).toBe(field);
      const patched = await call(admin, 'PATCH', `/client-config/rules/${rule.id}`, { settings });
      expect(patched.statusCode, JSON.stringify(settings)).toBe(400);
      expect(patched.json().error.field, JSON.stringify(settings)).toBe(field);
    }
    // Nothing changed: no rule for `other`, the rule keeps its defaults.
    expect((await listRules()).some((r) => r.principalId === other)).toBe(false);
    const got = await call(admin, 'GET', `/client-config/rules/${rule.id}`);
    expect(got.json()).toEqual(rule);

    // The limits themselves are accepted, and null means never / no cap.
    const edge = {
      expireCacheAfterDays: 3650,
      maxOfflineHours: 87600,
      clipboardClearSeconds: 0,
      lockAfterIdleMinutes: 1440,
      passwordGenerator: {
        length: 128,
        uppercase: false,
        lowercase: true,
        digits: false,
        symbols: false,
      },
      exportAllowed: true,
      offlineCommentRequired: true,
    };
    const ok = await call(admin, 'PATCH', `/client-config/rules/${rule.id}`, { settings: edge });
    expect(ok.statusCode, ok.body).toBe(200);
    expect((ok.json() as ClientConfigRule).settings).toEqual(edge);
    const back = await call(admin, 'PATCH', `/client-config/rules/${rule.id}`, {
      settings: { expireCacheAfterDays: null, maxOfflineHours: null },
    });
    expect((back.json() as ClientConfigRule).settings).toEqual({
      ...edge,
      expireCacheAfterDays: null,
      maxOfflineHours: null,
    });
  });

  it('rejects bad input on every route with 400 and the field, or 404, changing nothing', async () => {
    const role = await createRole(ctx.services, unique('Input'));
    const rule = await createRule({ name: unique('in'), principalType: 'role', principalId: role });
    const before = await listRules();
    const auditBefore = (await auditRecords(ctx.services, 'Client Configuration Changed')).length;
    const u = await userWith();

    const cases: Array<[Parameters<typeof call>[1], string, unknown, number, string?]> = [
      ['POST', '/client-config/rules', {}, 400, '/name'],
      ['POST', '/client-config/rules', { name: 'x', principalType: 'role' }, 400, '/principalId'],
      [
        'POST',
        '/client-config/rules',
        { name: '', principalType: 'role', principalId: role },
        400,
        '/name',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: '  ', principalType: 'role', principalId: role },
        400,
        '/name',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x'.repeat(101), principalType: 'role', principalId: role },
        400,
        '/name',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: 'group', principalId: role },
        400,
        '/principalType',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: null, principalId: role },
        400,
        '/principalType',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: 'role', principalId: 'nope' },
        400,
        '/principalId',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: 'role', principalId: UNKNOWN_ID },
        400,
        '/principalId',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: 'user', principalId: role },
        400,
        '/principalId',
      ],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: 'role', principalId: role, extra: 1 },
        400,
        '/extra',
      ],
      ['POST', '/client-config/rules', '{not json', 400],
      [
        'POST',
        '/client-config/rules',
        { name: 'x', principalType: 'role', principalId: role },
        409,
      ],
      ['GET', '/client-config/rules/nope', undefined, 400, '/id'],
      ['GET', `/client-config/rules/${UNKNOWN_ID}`, undefined, 404],
      ['PATCH', '/client-config/rules/nope', { name: 'y' }, 400, '/id'],
      ['PATCH', `/client-config/rules/${UNKNOWN_ID}`, { name: 'y' }, 404],
      ['PATCH', `/client-config/rules/${rule.id}`, { name: '' }, 400, '/name'],
      ['PATCH', `/client-config/rules/${rule.id}`, { principalType: 'user' }, 400, '/principalId'],
      ['PATCH', `/client-config/rules/${rule.id}`, { principalId: u.id }, 400, '/principalType'],
      [
        'PATCH',
        `/client-config/rules/${rule.id}`,
        { principalType: 'user', principalId: UNKNOWN_ID },
        400,
        '/principalId',
      ],
      ['PATCH', `/client-config/rules/${rule.id}`, { extra: true }, 400, '/extra'],
      ['DELETE', '/client-config/rules/nope', undefined, 400, '/id'],
      ['DELETE', `/client-config/rules/${UNKNOWN_ID}`, undefined, 404],
      ['PUT', '/client-config/rules/order', {}, 400, '/ruleIds'],
      ['PUT', '/client-config/rules/order', { ruleIds: ['nope'] }, 400, '/ruleIds/0'],
      ['PUT', '/client-config/rules/order', { ruleIds: [UNKNOWN_ID] }, 400, '/ruleIds/0'],
      [
        'PUT',
        '/client-config/rules/order',
        { ruleIds: [DEFAULT_CLIENT_RULE_ID] },
        400,
        '/ruleIds/0',
      ],
      ['PUT', '/client-config/rules/order', { ruleIds: [rule.id] }, 400, '/ruleIds'],
      ['PUT', '/client-config/rules/order', { ruleIds: [rule.id, rule.id] }, 400, '/ruleIds'],
    ];
    for (const [method, url, body, status, field] of cases) {
      const res = await call(admin, method, url, body);
      const what = `${method} ${url} ${JSON.stringify(body)}`;
      expect(res.statusCode, `${what}: ${res.body}`).toBe(status);
      if (field) expect(res.json().error.field, what).toBe(field);
    }
    expect(await listRules()).toEqual(before);
    expect((await auditRecords(ctx.services, 'Client Configuration Changed')).length).toBe(
      auditBefore,
    );
  });

  it('refuses rule management without manageClientConfiguration; anyone reads their own', async () => {
    const role = await createRole(ctx.services, unique('Perm'));
    const rule = await createRule({
      name: unique('perm'),
      principalType: 'role',
      principalId: role,
    });
    const before = await listRules();
    const attempts: Array<[Parameters<typeof call>[1], string, unknown]> = [
      ['GET', '/client-config/rules', undefined],
      ['POST', '/client-config/rules', { name: 'x', principalType: 'role', principalId: role }],
      ['GET', `/client-config/rules/${rule.id}`, undefined],
      ['PATCH', `/client-config/rules/${rule.id}`, { name: 'hijacked' }],
      ['DELETE', `/client-config/rules/${rule.id}`, undefined],
      ['PUT', '/client-config/rules/order', { ruleIds: await roleRuleIds() }],
    ];
    for (const [method, url, body] of attempts) {
      expect((await call(plain, method, url, body)).statusCode, `${method} ${url}`).toBe(403);
      expect((await call(null, method, url, body)).statusCode, `${method} ${url}`).toBe(401);
    }
    expect(await listRules()).toEqual(before);
    expect((await call(null, 'GET', '/client-config/effective')).statusCode).toBe(401);

    // A non-administrator holding the permission through a role manages rules.
    const renamed = await call(manager, 'PATCH', `/client-config/rules/${rule.id}`, {
      name: unique('renamed by manager'),
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect((await call(manager, 'GET', '/client-config/rules')).statusCode).toBe(200);
  });

  it('allows one rule per principal and can move a rule to another principal', async () => {
    const a = await createRole(ctx.services, unique('A'));
    const u = await userWith([a]);
    const rule = await createRule({ name: unique('one'), principalType: 'role', principalId: a });
    const dup = await call(admin, 'POST', '/client-config/rules', {
      name: unique('two'),
      principalType: 'role',
      principalId: a,
    });
    expect(dup.statusCode).toBe(409);
    expect((await effective(u.token)).ruleId).toBe(rule.id);

    const moved = await call(admin, 'PATCH', `/client-config/rules/${rule.id}`, {
      principalType: 'user',
      principalId: u.id,
    });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({
      principalType: 'user',
      principalId: u.id,
      position: null,
    });
    expect(await effective(u.token)).toMatchObject({ ruleId: rule.id, source: 'user' });
    expect(await roleRuleIds()).not.toContain(rule.id);
    // The role is free for a rule again.
    await createRule({ name: unique('three'), principalType: 'role', principalId: a });
  });

  it('ignores and hides rules of deleted users and roles', async () => {
    const role = await createRole(ctx.services, unique('Doomed'));
    const u = await userWith([role]);
    const rule = await createRule({
      name: unique('doomed'),
      principalType: 'role',
      principalId: role,
    });
    expect((await effective(u.token)).ruleId).toBe(rule.id);
    await identityOf(ctx.services).roles.delete(SYSTEM_ACTOR, role);
    expect((await effective(u.token)).source).toBe('default');
    expect((await listRules()).map((r) => r.id)).not.toContain(rule.id);
    expect((await call(admin, 'GET', `/client-config/rules/${rule.id}`)).statusCode).toBe(404);
    // The order endpoint wants only the live role rules.
    const res = await call(admin, 'PUT', '/client-config/rules/order', {
      ruleIds: await roleRuleIds(),
    });
    expect(res.statusCode, res.body).toBe(200);
    // Deleting the role removed its rule row too.
    const rows = await ctx.services.store.db
      .selectFrom('client_config_rules')
      .select('id')
      .where('id', '=', rule.id)
      .execute();
    expect(rows).toEqual([]);
  });

  it('audits every change with the rule name as target and what changed', async () => {
    const role = await createRole(ctx.services, unique('Audited'));
    const name = unique('audited');
    const count = async () =>
      (await auditRecords(ctx.services, 'Client Configuration Changed')).length;
    const second = await createRole(ctx.services, unique('Audited second'));
    await createRule({ name: unique('second'), principalType: 'role', principalId: second });
    const start = await count();
    const rule = await createRule({
      name,
      principalType: 'role',
      principalId: role,
      settings: { exportAllowed: true },
    });
    await call(admin, 'PATCH', `/client-config/rules/${rule.id}`, {
      settings: { clipboardClearSeconds: 60, exportAllowed: true },
    });
    // A PATCH that changes nothing records nothing.
    await call(admin, 'PATCH', `/client-config/rules/${rule.id}`, {
      settings: { clipboardClearSeconds: 60 },
    });
    const ids = await roleRuleIds();
    await call(admin, 'PUT', '/client-config/rules/order', { ruleIds: [...ids].reverse() });
    await call(admin, 'DELETE', `/client-config/rules/${rule.id}`);

    const records = (await auditRecords(ctx.services, 'Client Configuration Changed')).slice(start);
    expect(records).toHaveLength(4);
    expect(records[0]).toMatchObject({
      status: 'success',
      target: name,
      details: { ruleId: rule.id, action: 'created', principalType: 'role', principalId: role },
    });
    expect(records[0]!.details.settings).toMatchObject({ exportAllowed: true });
    expect(records[1]).toMatchObject({
      target: name,
      details: {
        ruleId: rule.id,
        action: 'updated',
        settings: { clipboardClearSeconds: { from: 30, to: 60 } },
      },
    });
    expect(Object.keys(records[1]!.details.settings as object)).toEqual(['clipboardClearSeconds']);
    expect(records[2]).toMatchObject({
      target: 'Role rule order',
      details: { action: 'reordered', from: ids, to: [...ids].reverse() },
    });
    expect(records.at(-1)).toMatchObject({
      target: name,
      details: { ruleId: rule.id, action: 'deleted' },
    });
    expect(await count()).toBe(start + records.length);
  });
});
