import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totp } from '@strongroom/crypto';
import {
  DEFAULT_POLICY_SETTINGS,
  checkPasswordRequirements,
  type EffectivePolicy,
  type Policy,
  type PolicySettingsPatch,
} from '@strongroom/protocol';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
  type TestContextOptions,
} from '../test-support/harness.js';
import { adminToken, createRole, createUser, login } from '../test-support/identity.js';
import { testActor } from '../test-support/actors.js';
import { auditRecords } from '../access/test-fixture.js';
import { ManualClock } from '../shared/clock.js';
import { api } from '../users/test-util.js';
import { identityOf } from '../users/identity.js';
import { SYSTEM_ACTOR } from '../users/context.js';
import { USERS_ROLE_ID } from '../users/role-graph.js';
import { twoFactorOf } from '../users/two-factor.js';
import { DEFAULT_POLICY_ID } from './service.js';

const MINUTE = 60_000;
const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000ee';
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * TOTP vectors computed independently with Python's hmac module (RFC 6238: HMAC-SHA1, 30-second
 * steps, 6 digits) for the secret below, from 2030-01-01T00:00:00Z on, one per step:
 *   python3 -c "import hmac,hashlib,struct; s=b'strongroom-policy-tf'; t=1893456000//30; …"
 */
const TOTP_SECRET = Buffer.from('strongroom-policy-tf');
const T0 = Date.UTC(2030, 0, 1);
const VECTORS = ['445078', '141266', '013680', '809534', '783747', '120947'];

describe.each(DIALECTS)('policies (%s)', (dialect) => {
  let ctx: TestContext;
  let counter = 0;
  const unique = (base: string) => `${base}-${++counter}`;

  const call = (token: string | null, method: Method, url: string, body?: unknown) =>
    api(ctx.app, method, url, { ...(token ? { token } : {}), body });

  /** A fresh user with these direct roles, logged in. */
  const userWith = async (roles: string[] = [], c: TestContext = ctx) => {
    const u = await createUser(c.services, { loginName: unique('pol-user'), roles });
    return { ...u, token: await login(c.app, u.loginName, u.password) };
  };

  const createPolicy = async (token: string, name: string, settings?: PolicySettingsPatch) => {
    const res = await call(token, 'POST', '/policies', { name, ...(settings ? { settings } : {}) });
    expect(res.status, res.body).toBe(201);
    return res.json as Policy;
  };

  const mine = async (token: string) => {
    const res = await call(token, 'GET', '/me/policy');
    expect(res.status, res.body).toBe(200);
    return res.json as EffectivePolicy;
  };

  const listPolicies = async (token: string) => {
    const res = await call(token, 'GET', '/policies');
    expect(res.status, res.body).toBe(200);
    return (res.json as { policies: Policy[] }).policies;
  };

  const orderIds = async (token: string) =>
    (await listPolicies(token)).filter((p) => !p.isDefault).map((p) => p.id);

  const loginAttempt = (c: TestContext, loginName: string, password: string, extra = {}) =>
    api(c.app, 'POST', '/auth/login', { body: { loginName, password, ...extra } });

  describe('management, precedence and input', () => {
    let admin: string;

    beforeAll(async () => {
      ctx = await createTestContext(dialect);
      admin = await adminToken(ctx);
    });
    afterAll(async () => {
      await ctx?.close();
    });

    it('gives everyone the Default Policy with the documented defaults until others apply', async () => {
      const u = await userWith();
      expect(await mine(u.token)).toEqual({
        settings: DEFAULT_POLICY_SETTINGS,
        policyId: DEFAULT_POLICY_ID,
        policyName: 'Default Policy',
        source: 'default',
      });
      expect(DEFAULT_POLICY_SETTINGS).toEqual({
        passwordRequirements: {
          minLength: 12,
          maxLength: 1024,
          minUppercase: 0,
          minLowercase: 0,
          minDigits: 0,
          minSymbols: 0,
          minClasses: 0,
        },
        lockout: { threshold: 5, durationMinutes: 15 },
        timeouts: {
          sessionIdleMinutes: 30,
          sessionLifetimeMinutes: 720,
          apiTokenLifetimeMinutes: 60,
        },
        twoFactor: 'optional',
      });
      const [first] = await listPolicies(admin);
      expect(first).toMatchObject({ id: DEFAULT_POLICY_ID, isDefault: true, position: null });
    });

    it('applies the user policy over role policies, the first role policy in order, sub-roles included', async () => {
      const outer = await createRole(ctx.services, unique('Outer'));
      const inner = await createRole(ctx.services, unique('Inner'), { parent: outer });
      const other = await createRole(ctx.services, unique('Other'));
      const u = await userWith([inner, other]);
      expect((await mine(u.token)).source).toBe('default');

      const otherPolicy = await createPolicy(admin, unique('other'), {
        lockout: { threshold: 7 },
      });
      const outerPolicy = await createPolicy(admin, unique('outer'), {
        lockout: { threshold: 9 },
        passwordRequirements: { minDigits: 2 },
      });
      for (const [role, policy] of [
        [other, otherPolicy],
        [outer, outerPolicy],
      ] as const) {
        const res = await call(admin, 'PUT', `/roles/${role}/policy`, { policyId: policy.id });
        expect(res.status, res.body).toBe(200);
        expect(res.json).toEqual({ policyId: policy.id });
      }
      // New policies go last: `other` was created first, so it wins.
      let eff = await mine(u.token);
      expect(eff).toMatchObject({ policyId: otherPolicy.id, source: 'role' });
      expect(eff.settings.lockout).toEqual({ threshold: 7, durationMinutes: 15 });

      // Moving the outer role's policy first makes it apply, through the sub-role membership.
      const ids = await orderIds(admin);
      const reordered = [outerPolicy.id, ...ids.filter((id) => id !== outerPolicy.id)];
      const res = await call(admin, 'PUT', '/policies/order', { policyIds: reordered });
      expect(res.status, res.body).toBe(200);
      expect(await orderIds(admin)).toEqual(reordered);
      eff = await mine(u.token);
      expect(eff).toMatchObject({
        policyId: outerPolicy.id,
        policyName: outerPolicy.name,
        source: 'role',
      });
      expect(eff.settings.passwordRequirements).toEqual({
        ...DEFAULT_POLICY_SETTINGS.passwordRequirements,
        minDigits: 2,
      });

      // The user's own policy beats every role policy, even when it comes last in the order.
      const own = await createPolicy(admin, unique('own'), { twoFactor: 'optional' });
      const set = await call(admin, 'PUT', `/users/${u.id}/policy`, { policyId: own.id });
      expect(set.status, set.body).toBe(200);
      expect(set.json).toMatchObject({ policyId: own.id, source: 'user' });
      expect(await mine(u.token)).toMatchObject({ policyId: own.id, source: 'user' });
      const byAdmin = await call(admin, 'GET', `/users/${u.id}/policy`);
      expect(byAdmin.json).toEqual(await mine(u.token));
      // The service the other areas call agrees (role ids as the Actor has them).
      const roleIds = [USERS_ROLE_ID, inner, outer, other];
      expect((await ctx.services.policies.effectiveFor(u.id, roleIds)).policyId).toBe(own.id);
      expect((await ctx.services.policies.effectiveFor(UNKNOWN_ID, roleIds)).policyId).toBe(
        outerPolicy.id,
      );

      // Deleting the user's policy falls back to the role order; clearing the role's too.
      expect((await call(admin, 'DELETE', `/policies/${own.id}`)).status).toBe(204);
      expect((await mine(u.token)).policyId).toBe(outerPolicy.id);
      expect((await call(admin, 'DELETE', `/policies/${outerPolicy.id}`)).status).toBe(204);
      expect((await mine(u.token)).policyId).toBe(otherPolicy.id);
      const cleared = await call(admin, 'PUT', `/roles/${other}/policy`, { policyId: null });
      expect(cleared.json).toEqual({ policyId: null });
      expect((await mine(u.token)).source).toBe('default');
      // The deleted policies left no assignment behind.
      const leftovers = await ctx.services.store.db
        .selectFrom('policy_roles')
        .select('policy_id')
        .where('policy_id', 'in', [own.id, outerPolicy.id])
        .execute();
      expect(leftovers).toEqual([]);
      const row = await ctx.services.store.db
        .selectFrom('users')
        .select('policy_id')
        .where('id', '=', u.id)
        .executeTakeFirstOrThrow();
      expect(row.policy_id).toBeNull();
      await call(admin, 'DELETE', `/policies/${otherPolicy.id}`);
    });

    it('a policy of the built-in Users role applies to everyone; the Default Policy can outrank it for one user', async () => {
      const everyone = await createPolicy(admin, unique('everyone'), { lockout: { threshold: 3 } });
      await call(admin, 'PUT', `/roles/${USERS_ROLE_ID}/policy`, { policyId: everyone.id });
      const u = await userWith();
      expect((await mine(u.token)).policyId).toBe(everyone.id);
      await call(admin, 'PUT', `/users/${u.id}/policy`, { policyId: DEFAULT_POLICY_ID });
      expect(await mine(u.token)).toMatchObject({ policyId: DEFAULT_POLICY_ID, source: 'user' });
      expect((await call(admin, 'DELETE', `/policies/${everyone.id}`)).status).toBe(204);
    });

    it('creates with defaults, merges nested settings on update, keeps names unique in any case', async () => {
      const name = unique('Strict Policy');
      const created = await createPolicy(admin, name, {
        passwordRequirements: { minLength: 20 },
        lockout: { durationMinutes: null },
      });
      expect(created).toMatchObject({ name, isDefault: false, roleIds: [], userCount: 0 });
      expect(created.settings).toEqual({
        ...DEFAULT_POLICY_SETTINGS,
        passwordRequirements: { ...DEFAULT_POLICY_SETTINGS.passwordRequirements, minLength: 20 },
        lockout: { threshold: 5, durationMinutes: null },
      });
      const positions = (await listPolicies(admin)).map((p) => p.position);
      expect(created.position).toBe(Math.max(...positions.map((p) => p ?? 0)));

      for (const dup of [name, name.toUpperCase()]) {
        const res = await call(admin, 'POST', '/policies', { name: dup });
        expect(res.status).toBe(409);
        expect(res.json.error.code).toBe('conflict');
      }
      const renameToDefault = await call(admin, 'PATCH', `/policies/${created.id}`, {
        name: 'DEFAULT POLICY',
      });
      expect(renameToDefault.status).toBe(409);

      const patched = await call(admin, 'PATCH', `/policies/${created.id}`, {
        name: `${name} v2`,
        settings: {
          passwordRequirements: { minDigits: 1 },
          timeouts: { apiTokenLifetimeMinutes: 30 },
          twoFactor: 'required',
        },
      });
      expect(patched.status, patched.body).toBe(200);
      expect(patched.json).toMatchObject({
        name: `${name} v2`,
        settings: {
          passwordRequirements: {
            ...DEFAULT_POLICY_SETTINGS.passwordRequirements,
            minLength: 20,
            minDigits: 1,
          },
          lockout: { threshold: 5, durationMinutes: null },
          timeouts: { ...DEFAULT_POLICY_SETTINGS.timeouts, apiTokenLifetimeMinutes: 30 },
          twoFactor: 'required',
        },
      });
      // Renaming only the case of the name is allowed.
      const recased = await call(admin, 'PATCH', `/policies/${created.id}`, {
        name: `${name} V2`,
      });
      expect(recased.status, recased.body).toBe(200);
      expect((await call(admin, 'GET', `/policies/${created.id}`)).json).toEqual(recased.json);
    });

    it('completes stored settings that lack a newer setting with its default', async () => {
      const p = await createPolicy(admin, unique('old row'));
      await ctx.services.store.db
        .updateTable('policies')
        .set({ settings: JSON.stringify({ lockout: { threshold: 2 } }) })
        .where('id', '=', p.id)
        .execute();
      const got = await call(admin, 'GET', `/policies/${p.id}`);
      expect(got.json.settings).toEqual({
        ...DEFAULT_POLICY_SETTINGS,
        lockout: { threshold: 2, durationMinutes: 15 },
      });
    });

    it('protects the Default Policy from deletion; its settings change like any other', async () => {
      const del = await call(admin, 'DELETE', `/policies/${DEFAULT_POLICY_ID}`);
      expect(del.status).toBe(403);
      expect(del.json.error.code).toBe('not_allowed');
      const res = await call(admin, 'PATCH', `/policies/${DEFAULT_POLICY_ID}`, {
        settings: { lockout: { threshold: 8 } },
      });
      expect(res.status, res.body).toBe(200);
      const u = await userWith();
      expect((await mine(u.token)).settings.lockout.threshold).toBe(8);
      await call(admin, 'PATCH', `/policies/${DEFAULT_POLICY_ID}`, {
        settings: { lockout: { threshold: 5 } },
      });
    });

    it('lists roles and user counts of each policy; a deleted role takes its assignment along', async () => {
      const role = await createRole(ctx.services, unique('Assigned'));
      const p = await createPolicy(admin, unique('assigned'));
      const a = await userWith();
      const b = await userWith();
      await call(admin, 'PUT', `/roles/${role}/policy`, { policyId: p.id });
      await call(admin, 'PUT', `/users/${a.id}/policy`, { policyId: p.id });
      await call(admin, 'PUT', `/users/${b.id}/policy`, { policyId: p.id });
      expect((await call(admin, 'GET', `/policies/${p.id}`)).json).toMatchObject({
        roleIds: [role],
        userCount: 2,
      });
      await identityOf(ctx.services).roles.delete(SYSTEM_ACTOR, role);
      await identityOf(ctx.services).users.delete(SYSTEM_ACTOR, b.id);
      expect((await call(admin, 'GET', `/policies/${p.id}`)).json).toMatchObject({
        roleIds: [],
        userCount: 1,
      });
      await call(admin, 'DELETE', `/policies/${p.id}`);
    });

    it('audits every change in the Policy Changed event with what changed', async () => {
      const count = async () => (await auditRecords(ctx.services, 'Policy Changed')).length;
      const role = await createRole(ctx.services, unique('Audited'));
      const u = await userWith();
      await createPolicy(admin, unique('second'));
      const start = await count();
      const name = unique('audited');
      const p = await createPolicy(admin, name, { twoFactor: 'required' });
      await call(admin, 'PATCH', `/policies/${p.id}`, {
        settings: { lockout: { threshold: 4 }, twoFactor: 'required' },
      });
      // A PATCH that changes nothing records nothing.
      await call(admin, 'PATCH', `/policies/${p.id}`, { settings: { lockout: { threshold: 4 } } });
      await call(admin, 'PUT', `/roles/${role}/policy`, { policyId: p.id });
      await call(admin, 'PUT', `/users/${u.id}/policy`, { policyId: p.id });
      // Assigning what is already assigned records nothing either.
      await call(admin, 'PUT', `/users/${u.id}/policy`, { policyId: p.id });
      await call(admin, 'PUT', `/users/${u.id}/policy`, { policyId: null });
      const ids = await orderIds(admin);
      await call(admin, 'PUT', '/policies/order', { policyIds: [...ids].reverse() });
      await call(admin, 'DELETE', `/policies/${p.id}`);

      const records = (await auditRecords(ctx.services, 'Policy Changed')).slice(start);
      expect(records.map((r) => [r.target, r.details.action])).toEqual([
        [name, 'created'],
        [name, 'updated'],
        [expect.stringContaining('Audited'), 'role policy set'],
        [u.loginName, 'user policy set'],
        [u.loginName, 'user policy removed'],
        ['Policy order', 'reordered'],
        [name, 'deleted'],
      ]);
      expect(records.every((r) => r.status === 'success')).toBe(true);
      expect(records[0]!.details.settings).toMatchObject({ twoFactor: 'required' });
      expect(records[1]!.details.settings).toEqual({
        lockout: {
          from: { threshold: 5, durationMinutes: 15 },
          to: { threshold: 4, durationMinutes: 15 },
        },
      });
      expect(records[2]!.details).toMatchObject({
        roleId: role,
        from: null,
        to: { id: p.id, name },
      });
      expect(records[4]!.details).toMatchObject({ from: { id: p.id, name }, to: null });
      expect(records[5]!.details).toMatchObject({ from: ids, to: [...ids].reverse() });
      expect(records[6]!.details).toMatchObject({ unassignedRoleIds: [role], unassignedUsers: 0 });
      expect(await count()).toBe(start + records.length);
    });

    it('rejects bad input on every route with a 4xx and a stable code, changing nothing', async () => {
      const p = await createPolicy(admin, unique('input'));
      const role = await createRole(ctx.services, unique('Input'));
      const u = await userWith();
      const before = await listPolicies(admin);
      const auditBefore = (await auditRecords(ctx.services, 'Policy Changed')).length;
      const badSettings: Array<[unknown, string]> = [
        [{ passwordRequirements: { minLength: 11 } }, '/settings/passwordRequirements/minLength'],
        [{ passwordRequirements: { maxLength: 1025 } }, '/settings/passwordRequirements/maxLength'],
        [{ passwordRequirements: { minDigits: -1 } }, '/settings/passwordRequirements/minDigits'],
        [{ passwordRequirements: { minClasses: 5 } }, '/settings/passwordRequirements/minClasses'],
        [{ passwordRequirements: { minDigits: 1.5 } }, '/settings/passwordRequirements/minDigits'],
        [{ passwordRequirements: { emoji: 1 } }, '/settings/passwordRequirements/emoji'],
        [
          { passwordRequirements: { minLength: 40, maxLength: 30 } },
          '/settings/passwordRequirements/maxLength',
        ],
        [
          { passwordRequirements: { maxLength: 100, minDigits: 60, minSymbols: 60 } },
          '/settings/passwordRequirements/maxLength',
        ],
        [{ lockout: { threshold: -1 } }, '/settings/lockout/threshold'],
        [{ lockout: { threshold: '3' } }, '/settings/lockout/threshold'],
        [{ lockout: { durationMinutes: 0 } }, '/settings/lockout/durationMinutes'],
        [{ timeouts: { sessionIdleMinutes: 0 } }, '/settings/timeouts/sessionIdleMinutes'],
        [{ timeouts: { sessionLifetimeMinutes: 4 } }, '/settings/timeouts/sessionLifetimeMinutes'],
        [
          { timeouts: { apiTokenLifetimeMinutes: null } },
          '/settings/timeouts/apiTokenLifetimeMinutes',
        ],
        [{ twoFactor: 'always' }, '/settings/twoFactor'],
        [{ lockout: null }, '/settings/lockout'],
        [{ colour: 'red' }, '/settings/colour'],
      ];
      for (const [settings, field] of badSettings) {
        const what = JSON.stringify(settings);
        const created = await call(admin, 'POST', '/policies', { name: unique('bad'), settings });
        expect(created.status, what).toBe(400);
        expect(created.json.error, what).toMatchObject({ code: 'validation_failed', field });
        const patched = await call(admin, 'PATCH', `/policies/${p.id}`, { settings });
        expect(patched.status, what).toBe(400);
        expect(patched.json.error, what).toMatchObject({ code: 'validation_failed', field });
      }

      const cases: Array<[Method, string, unknown, number, string, string?]> = [
        ['POST', '/policies', {}, 400, 'validation_failed', '/name'],
        ['POST', '/policies', { name: '' }, 400, 'validation_failed', '/name'],
        ['POST', '/policies', { name: ' padded' }, 400, 'validation_failed', '/name'],
        ['POST', '/policies', { name: 'x'.repeat(101) }, 400, 'validation_failed', '/name'],
        ['POST', '/policies', { name: 'a\u0007b' }, 400, 'validation_failed', '/name'],
        ['POST', '/policies', { name: 'x', extra: 1 }, 400, 'validation_failed', '/extra'],
        ['POST', '/policies', { name: p.name }, 409, 'conflict'],
        ['GET', '/policies/nope', undefined, 400, 'validation_failed', '/id'],
        ['GET', `/policies/${UNKNOWN_ID}`, undefined, 404, 'not_found'],
        ['PATCH', '/policies/nope', { name: 'y' }, 400, 'validation_failed', '/id'],
        ['PATCH', `/policies/${UNKNOWN_ID}`, { name: 'y' }, 404, 'not_found'],
        ['PATCH', `/policies/${p.id}`, { name: '' }, 400, 'validation_failed', '/name'],
        ['PATCH', `/policies/${p.id}`, { name: 'Default Policy' }, 409, 'conflict'],
        ['PATCH', `/policies/${p.id}`, { isDefault: true }, 400, 'validation_failed', '/isDefault'],
        ['PATCH', `/policies/${p.id}`, [], 400, 'validation_failed'],
        ['DELETE', '/policies/nope', undefined, 400, 'validation_failed', '/id'],
        ['DELETE', `/policies/${UNKNOWN_ID}`, undefined, 404, 'not_found'],
        ['DELETE', `/policies/${DEFAULT_POLICY_ID}`, undefined, 403, 'not_allowed'],
        ['PUT', '/policies/order', {}, 400, 'validation_failed', '/policyIds'],
        ['PUT', '/policies/order', { policyIds: 'x' }, 400, 'validation_failed', '/policyIds'],
        [
          'PUT',
          '/policies/order',
          { policyIds: ['nope'] },
          400,
          'validation_failed',
          '/policyIds/0',
        ],
        [
          'PUT',
          '/policies/order',
          { policyIds: [UNKNOWN_ID] },
          400,
          'validation_failed',
          '/policyIds/0',
        ],
        [
          'PUT',
          '/policies/order',
          { policyIds: [DEFAULT_POLICY_ID] },
          400,
          'validation_failed',
          '/policyIds/0',
        ],
        ['PUT', '/policies/order', { policyIds: [p.id] }, 400, 'validation_failed', '/policyIds'],
        [
          'PUT',
          '/policies/order',
          { policyIds: [p.id, p.id] },
          400,
          'validation_failed',
          '/policyIds',
        ],
        ['PUT', `/users/${u.id}/policy`, {}, 400, 'validation_failed', '/policyId'],
        ['PUT', `/users/${u.id}/policy`, { policyId: 'x' }, 400, 'validation_failed', '/policyId'],
        ['PUT', `/users/${u.id}/policy`, { policyId: UNKNOWN_ID }, 404, 'not_found'],
        [
          'PUT',
          `/users/${u.id}/policy`,
          { policyId: p.id, extra: 1 },
          400,
          'validation_failed',
          '/extra',
        ],
        ['PUT', `/users/${UNKNOWN_ID}/policy`, { policyId: p.id }, 404, 'not_found'],
        ['PUT', '/users/nope/policy', { policyId: p.id }, 400, 'validation_failed', '/id'],
        ['GET', `/users/${UNKNOWN_ID}/policy`, undefined, 404, 'not_found'],
        ['GET', '/users/nope/policy', undefined, 400, 'validation_failed', '/id'],
        ['PUT', `/roles/${role}/policy`, {}, 400, 'validation_failed', '/policyId'],
        ['PUT', `/roles/${role}/policy`, { policyId: 7 }, 400, 'validation_failed', '/policyId'],
        ['PUT', `/roles/${role}/policy`, { policyId: UNKNOWN_ID }, 404, 'not_found'],
        ['PUT', `/roles/${UNKNOWN_ID}/policy`, { policyId: p.id }, 404, 'not_found'],
        ['PUT', '/roles/nope/policy', { policyId: p.id }, 400, 'validation_failed', '/id'],
      ];
      for (const [method, url, body, status, code, field] of cases) {
        const res = await call(admin, method, url, body);
        const what = `${method} ${url} ${JSON.stringify(body)}`;
        expect(res.status, `${what}: ${res.body}`).toBe(status);
        expect(res.json.error.code, what).toBe(code);
        if (field) expect(res.json.error.field, what).toBe(field);
      }
      for (const url of ['/policies', `/policies/${p.id}`, `/users/${u.id}/policy`]) {
        const res = await ctx.app.inject({
          method: url === '/policies' ? 'POST' : url.startsWith('/users') ? 'PUT' : 'PATCH',
          url: `/api/v1${url}`,
          headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
          payload: '{not json',
        });
        expect(res.statusCode, url).toBe(400);
        expect(res.json().error.code, url).toBe('malformed_body');
      }
      expect(await listPolicies(admin)).toEqual(before);
      expect((await auditRecords(ctx.services, 'Policy Changed')).length).toBe(auditBefore);
      expect((await mine(u.token)).source).toBe('default');
    });

    it('needs managePolicies to manage; anyone logged in reads their own policy', async () => {
      const p = await createPolicy(admin, unique('perm'));
      const role = await createRole(ctx.services, unique('Perm'));
      const plain = await userWith();
      const before = await listPolicies(admin);
      const attempts: Array<[Method, string, unknown]> = [
        ['GET', '/policies', undefined],
        ['POST', '/policies', { name: unique('x') }],
        ['GET', `/policies/${p.id}`, undefined],
        ['PATCH', `/policies/${p.id}`, { name: unique('hijacked') }],
        ['DELETE', `/policies/${p.id}`, undefined],
        ['PUT', '/policies/order', { policyIds: await orderIds(admin) }],
        ['GET', `/users/${plain.id}/policy`, undefined],
        ['PUT', `/users/${plain.id}/policy`, { policyId: p.id }],
        ['PUT', `/roles/${role}/policy`, { policyId: p.id }],
      ];
      for (const [method, url, body] of attempts) {
        const refused = await call(plain.token, method, url, body);
        expect(refused.status, `${method} ${url}`).toBe(403);
        expect(refused.json.error.code).toBe('forbidden');
        expect((await call(null, method, url, body)).status, `${method} ${url}`).toBe(401);
      }
      expect(await listPolicies(admin)).toEqual(before);
      expect((await call(null, 'GET', '/me/policy')).status).toBe(401);

      // A non-administrator holding managePolicies through a role manages policies.
      const managers = await createRole(ctx.services, unique('Policy Managers'), {
        permissions: ['managePolicies'],
      });
      const manager = await userWith([managers]);
      const renamed = await call(manager.token, 'PATCH', `/policies/${p.id}`, {
        name: unique('renamed by manager'),
      });
      expect(renamed.status, renamed.body).toBe(200);

      // A user who must change their password can still read the rules for the new one.
      const temporary = testSecret('temp');
      await identityOf(ctx.services).users.resetPassword(SYSTEM_ACTOR, plain.id, temporary);
      const forced = await login(ctx.app, plain.loginName, temporary);
      expect((await call(forced, 'GET', '/vault/tree')).json.error.code).toBe(
        'password_change_required',
      );
      expect((await mine(forced)).policyId).toBe(DEFAULT_POLICY_ID);
    });

    it('documents the routes in the OpenAPI document', async () => {
      const res = await call(null, 'GET', '/openapi.json');
      expect(res.status).toBe(200);
      const paths = Object.keys(res.json.paths as object);
      for (const path of [
        '/api/v1/policies',
        '/api/v1/policies/{id}',
        '/api/v1/policies/order',
        '/api/v1/users/{id}/policy',
        '/api/v1/roles/{id}/policy',
        '/api/v1/me/policy',
      ]) {
        expect(paths).toContain(path);
      }
    });
  });

  describe('enforcement', () => {
    const extraContexts: TestContext[] = [];
    const open = async (opts: TestContextOptions = {}) => {
      ctx = await createTestContext(dialect, {
        ...opts,
        // Lockout tests fail many logins in a row: keep the rate limit out of their way.
        config: { loginRateLimit: { attempts: 1000, windowMs: MINUTE }, ...opts.config },
      });
      extraContexts.push(ctx);
      return ctx;
    };
    afterEach(async () => {
      for (const c of extraContexts.splice(0)) await c.close();
    });

    /** A policy made and assigned through the service (as an administrator would via the API). */
    const policyFor = async (
      target: { role: string } | { user: string },
      settings: PolicySettingsPatch,
    ) => {
      const p = await ctx.services.policies.create(SYSTEM_ACTOR, {
        name: unique('enforced'),
        settings,
      });
      if ('role' in target)
        await ctx.services.policies.setRolePolicy(SYSTEM_ACTOR, target.role, p.id);
      else await ctx.services.policies.setUserPolicy(SYSTEM_ACTOR, target.user, p.id);
      return p;
    };

    const userRow = (id: string) =>
      ctx.services.store.db
        .selectFrom('users')
        .select(['failed_logins', 'locked_until', 'locked_indefinitely'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
        .then((r) => ({ ...r, failed_logins: Number(r.failed_logins) }));

    it('checks a new own password against the policy and names the failing rule', async () => {
      await open();
      const strict = await createRole(ctx.services, 'Strict');
      await policyFor(
        { role: strict },
        {
          passwordRequirements: { minLength: 30, minSymbols: 4, maxLength: 60, minClasses: 4 },
        },
      );
      const u = await createUser(ctx.services, { loginName: 'sam', roles: [strict] });
      const token = await login(ctx.app, 'sam', u.password);
      const req = (await mine(token)).settings.passwordRequirements;
      const base = testSecret('alongenoughlabel'); // 36 characters: upper, lower, 2 symbols
      const attempts: Array<[string, string]> = [
        [testSecret('s'), 'minLength'],
        [`${base}${'x'.repeat(40)}`, 'maxLength'],
        [`${base}1`, 'minSymbols'],
      ];
      for (const [pw, rule] of attempts) {
        const check = checkPasswordRequirements(pw, req);
        expect(check.ok === false && check.rule).toBe(rule);
        const res = await call(token, 'POST', '/me/password', {
          currentPassword: u.password,
          newPassword: pw,
        });
        expect(res.status, rule).toBe(400);
        expect(res.json.error).toEqual({
          code: 'validation_failed',
          message: check.ok ? '' : check.message,
          field: '/newPassword',
        });
        // The rule's name goes to the server log (never the password).
        expect(ctx.logs.lines.some((l) => l.includes(`policy rule ${rule}`))).toBe(true);
      }
      // Nothing changed: the old password still logs in.
      await login(ctx.app, 'sam', u.password);

      const good = `${base}!!!7x`;
      expect(checkPasswordRequirements(good, req)).toEqual({ ok: true });
      const ok = await call(token, 'POST', '/me/password', {
        currentPassword: u.password,
        newPassword: good,
      });
      expect(ok.status, ok.body).toBe(204);
      await login(ctx.app, 'sam', good);

      // The same password is fine for a user under the Default Policy.
      const other = await userWith([], ctx);
      const plain = testSecret('plain');
      const res = await call(other.token, 'POST', '/me/password', {
        currentPassword: other.password,
        newPassword: plain,
      });
      expect(res.status, res.body).toBe(204);

      // An administrator's one-time password needs only the minimum length; the change it forces
      // follows the policy.
      const temporary = testSecret('t');
      const admin = await adminToken(ctx);
      const reset = await call(admin, 'POST', `/users/${u.id}/reset-password`, {
        newPassword: temporary,
      });
      expect(reset.status, reset.body).toBe(200);
      const forced = await login(ctx.app, 'sam', temporary);
      const refused = await call(forced, 'POST', '/me/password', {
        currentPassword: temporary,
        newPassword: testSecret('s'),
      });
      expect(refused.json.error.field).toBe('/newPassword');
      const accepted = await call(forced, 'POST', '/me/password', {
        currentPassword: temporary,
        newPassword: `${base}##7#`,
      });
      expect(accepted.status, accepted.body).toBe(204);
    });

    it('locks at the threshold of the policy: a strict role until unlocked, others by default', async () => {
      await open();
      const strict = await createRole(ctx.services, 'Strict');
      await policyFor({ role: strict }, { lockout: { threshold: 2, durationMinutes: null } });
      const s = await createUser(ctx.services, { loginName: 'strict-user', roles: [strict] });
      const d = await createUser(ctx.services, { loginName: 'default-user' });

      for (let i = 0; i < 2; i++) {
        expect((await loginAttempt(ctx, 'strict-user', testSecret('w'))).status).toBe(401);
      }
      const locked = await loginAttempt(ctx, 'strict-user', s.password);
      expect(locked.status).toBe(403);
      expect(locked.json.error.code).toBe('account_locked');
      expect(locked.json.error.retryAfterSeconds).toBeUndefined();
      expect(await userRow(s.id)).toMatchObject({ locked_indefinitely: 1 });
      ctx.clock.advance(365 * 24 * 60 * MINUTE);
      expect((await loginAttempt(ctx, 'strict-user', s.password)).status).toBe(403);
      const lockRecord = (await auditRecords(ctx.services, 'Login Locked')).find(
        (r) => r.target === 'strict-user' && r.details.reason === 'too many failed logins',
      );
      expect(lockRecord?.details).toMatchObject({
        consecutiveFailures: 2,
        lockedUntil: 'until unlocked',
      });

      // The default user gets the Default Policy's five.
      for (let i = 0; i < 4; i++) {
        expect((await loginAttempt(ctx, 'default-user', testSecret('w'))).status).toBe(401);
      }
      expect((await loginAttempt(ctx, 'default-user', d.password)).status).toBe(200);
      for (let i = 0; i < 5; i++) {
        expect((await loginAttempt(ctx, 'default-user', testSecret('w'))).status).toBe(401);
      }
      const timed = await loginAttempt(ctx, 'default-user', d.password);
      expect(timed.status).toBe(403);
      expect(timed.json.error.retryAfterSeconds).toBe(15 * 60);

      // An administrator unlocks the strict user.
      const admin = await adminToken(ctx);
      expect((await call(admin, 'POST', `/users/${s.id}/unlock`)).status).toBe(200);
      expect((await loginAttempt(ctx, 'strict-user', s.password)).status).toBe(200);
    });

    it('a policy of its own sets a duration, and a threshold of 0 never locks', async () => {
      await open();
      const brief = await createUser(ctx.services, { loginName: 'brief' });
      const never = await createUser(ctx.services, { loginName: 'never' });
      await policyFor({ user: brief.id }, { lockout: { threshold: 3, durationMinutes: 2 } });
      await policyFor({ user: never.id }, { lockout: { threshold: 0 } });

      for (let i = 0; i < 3; i++) await loginAttempt(ctx, 'brief', testSecret('w'));
      const locked = await loginAttempt(ctx, 'brief', brief.password);
      expect(locked.json.error.retryAfterSeconds).toBe(120);
      ctx.clock.advance(2 * MINUTE);
      expect((await loginAttempt(ctx, 'brief', brief.password)).status).toBe(200);

      for (let i = 0; i < 12; i++) {
        expect((await loginAttempt(ctx, 'never', testSecret('w'))).status).toBe(401);
      }
      expect(await userRow(never.id)).toMatchObject({
        failed_logins: 12,
        locked_until: null,
        locked_indefinitely: 0,
      });
      expect((await loginAttempt(ctx, 'never', never.password)).status).toBe(200);
    });

    it('sets web session lifetime and idle timeout, and API token lifetime, from the policy', async () => {
      await open();
      const role = await createRole(ctx.services, 'Short sessions');
      const p = await policyFor(
        { role },
        {
          timeouts: {
            sessionIdleMinutes: 10,
            sessionLifetimeMinutes: 60,
            apiTokenLifetimeMinutes: 15,
          },
        },
      );
      const u = await createUser(ctx.services, { loginName: 'shorty', roles: [role] });
      const d = await createUser(ctx.services, { loginName: 'longer' });
      const me = (token: string) => call(token, 'GET', '/me');

      const web = await loginAttempt(ctx, 'shorty', u.password);
      expect(Date.parse(web.json.expiresAt)).toBe(ctx.clock.now() + 60 * MINUTE);
      const other = await loginAttempt(ctx, 'longer', d.password);
      expect(Date.parse(other.json.expiresAt)).toBe(ctx.clock.now() + 720 * MINUTE);
      // Used every 9 minutes, the short session lives until its lifetime; the other user's
      // session (Default Policy) goes on.
      for (let i = 0; i < 6; i++) {
        ctx.clock.advance(9 * MINUTE);
        expect((await me(web.json.token)).status).toBe(200);
        expect((await me(other.json.token)).status).toBe(200);
      }
      ctx.clock.advance(6 * MINUTE); // 60 minutes after login
      expect((await me(web.json.token)).status).toBe(401);
      expect((await me(other.json.token)).status).toBe(200);

      // Idle: ten minutes without a request end the short session.
      const idle = await login(ctx.app, 'shorty', u.password);
      ctx.clock.advance(10 * MINUTE);
      expect((await me(idle)).status).toBe(401);

      // An API token: its own lifetime, no idle timeout.
      const apiLogin = await loginAttempt(ctx, 'shorty', u.password, { client: 'api' });
      expect(Date.parse(apiLogin.json.expiresAt)).toBe(ctx.clock.now() + 15 * MINUTE);
      ctx.clock.advance(14 * MINUTE);
      expect((await me(apiLogin.json.token)).status).toBe(200);
      ctx.clock.advance(MINUTE);
      expect((await me(apiLogin.json.token)).status).toBe(401);

      // Sessions keep the timeouts they were opened with; a new login gets the new ones.
      const kept = await login(ctx.app, 'shorty', u.password);
      await ctx.services.policies.update(SYSTEM_ACTOR, p.id, {
        settings: { timeouts: { sessionLifetimeMinutes: 600 } },
      });
      const fresh = await loginAttempt(ctx, 'shorty', u.password);
      expect(Date.parse(fresh.json.expiresAt)).toBe(ctx.clock.now() + 600 * MINUTE);
      for (let i = 0; i < 6; i++) {
        ctx.clock.advance(9 * MINUTE);
        expect((await me(kept)).status).toBe(200);
        expect((await me(fresh.json.token)).status).toBe(200);
      }
      ctx.clock.advance(7 * MINUTE);
      expect((await me(kept)).status).toBe(401);
      expect((await me(fresh.json.token)).status).toBe(200);
    });

    it('asks for the second factor at login and counts wrong codes as failures', async () => {
      await open({ clock: new ManualClock(T0) });
      // The crypto package agrees with the vectors computed with Python.
      VECTORS.forEach((code, i) => expect(totp(TOTP_SECRET, T0 + i * 30_000)).toBe(code));

      const role = await createRole(ctx.services, 'Two-factor people');
      await policyFor({ role }, { lockout: { threshold: 3, durationMinutes: 10 } });
      const u = await createUser(ctx.services, { loginName: 'tess', roles: [role] });
      const actor = testActor({ userId: u.id, loginName: 'tess' });
      const fixed = twoFactorOf({ ...ctx.services, newTotpSecret: () => TOTP_SECRET });
      await fixed.beginEnrolment(actor);
      const { recoveryCodes } = await fixed.confirmEnrolment(actor, VECTORS[0]!);
      const attempt = (extra: Record<string, string> = {}, password = u.password) =>
        loginAttempt(ctx, 'tess', password, extra);
      const sessions = async () =>
        (
          await ctx.services.store.db
            .selectFrom('sessions')
            .select('id')
            .where('user_id', '=', u.id)
            .execute()
        ).length;

      // The right password alone: asked for the code; not a failure, no session.
      ctx.clock.advance(30_000);
      const asked = await attempt();
      expect(asked.status).toBe(401);
      expect(asked.json.error).toEqual({
        code: 'two_factor_required',
        message: 'Enter the code from your authenticator app.',
      });
      expect((await userRow(u.id)).failed_logins).toBe(0);
      expect(await sessions()).toBe(0);

      // A wrong code: 401, counted, audited.
      const wrong = await attempt({ totpCode: VECTORS[3]! });
      expect(wrong.status).toBe(401);
      expect(wrong.json.error.code).toBe('invalid_two_factor_code');
      expect((await userRow(u.id)).failed_logins).toBe(1);
      const failed = (await auditRecords(ctx.services, 'Login Failed')).at(-1)!;
      expect(failed).toMatchObject({
        status: 'denied',
        target: 'tess',
        details: { reason: 'wrong two-factor code', consecutiveFailures: 1 },
      });
      expect(JSON.stringify(failed)).not.toContain(VECTORS[3]);

      // The right code: a session, audited with the method; the count starts again.
      const ok = await attempt({ totpCode: VECTORS[1]! });
      expect(ok.status, ok.body).toBe(200);
      expect(ok.json.mustEnrolTwoFactor).toBe(false);
      expect((await call(ok.json.token, 'GET', '/me')).status).toBe(200);
      expect((await userRow(u.id)).failed_logins).toBe(0);
      expect((await auditRecords(ctx.services, 'Login')).at(-1)!.details).toMatchObject({
        twoFactor: 'totp',
      });
      // The same code again (a replay) is refused.
      expect((await attempt({ totpCode: VECTORS[1]! })).json.error.code).toBe(
        'invalid_two_factor_code',
      );
      // A wrong password with a right code is a wrong password.
      ctx.clock.advance(30_000);
      const wrongPassword = await attempt({ totpCode: VECTORS[2]! }, testSecret('w'));
      expect(wrongPassword.json.error.code).toBe('invalid_credentials');

      // A recovery code, once.
      const recovered = await attempt({ recoveryCode: recoveryCodes[0]!.toUpperCase() });
      expect(recovered.status, recovered.body).toBe(200);
      expect((await auditRecords(ctx.services, 'Login')).at(-1)!.details).toMatchObject({
        twoFactor: 'recovery',
      });
      expect((await attempt({ recoveryCode: recoveryCodes[0]! })).status).toBe(401);

      // Codes that are not even well-formed are refused before anything is counted.
      const before = (await userRow(u.id)).failed_logins;
      const malformed: Array<Record<string, string>> = [
        { totpCode: '12345' },
        { totpCode: 'abcdef' },
        { recoveryCode: '!' },
      ];
      for (const bad of malformed) {
        const res = await attempt(bad);
        expect(res.status).toBe(400);
        expect(res.json.error.field).toBe(`/${Object.keys(bad)[0]}`);
      }
      expect((await userRow(u.id)).failed_logins).toBe(before);

      // Wrong codes reach the policy's threshold (3) and lock the account.
      await attempt({ totpCode: '000000' });
      await attempt({ totpCode: '000001' });
      const locked = await attempt({ totpCode: VECTORS[2]! });
      expect(locked.status).toBe(403);
      expect(locked.json.error.code).toBe('account_locked');
      expect(locked.json.error.retryAfterSeconds).toBe(600);
      // When the lock runs out, a current code logs in again.
      ctx.clock.advance(10 * MINUTE);
      const after = await attempt({ totpCode: totp(TOTP_SECRET, ctx.clock.now()) });
      expect(after.status, after.body).toBe(200);
    });

    it('holds a user whose policy requires two-factor to enrolment before anything else', async () => {
      await open();
      const role = await createRole(ctx.services, 'Must enrol');
      const admin = await adminToken(ctx);
      const p = await policyFor({ role }, {});
      const u = await createUser(ctx.services, { loginName: 'enrol-me', roles: [role] });

      // Optional: nothing asked.
      const optional = await loginAttempt(ctx, 'enrol-me', u.password);
      expect(optional.json.mustEnrolTwoFactor).toBe(false);
      expect((await call(optional.json.token, 'GET', '/client-config/effective')).status).toBe(200);

      const required = await call(admin, 'PATCH', `/policies/${p.id}`, {
        settings: { twoFactor: 'required' },
      });
      expect(required.status).toBe(200);
      // Sessions opened before keep going; the next login must enrol.
      expect((await call(optional.json.token, 'GET', '/client-config/effective')).status).toBe(200);
      const res = await loginAttempt(ctx, 'enrol-me', u.password);
      expect(res.status).toBe(200);
      expect(res.json.mustEnrolTwoFactor).toBe(true);
      expect((await auditRecords(ctx.services, 'Login')).at(-1)!.details).toMatchObject({
        mustEnrolTwoFactor: true,
      });
      const token = res.json.token as string;
      for (const [method, url] of [
        ['GET', '/client-config/effective'],
        ['GET', '/vault/tree'],
        ['GET', '/users'],
      ] as const) {
        const refused = await call(token, method, url);
        expect(refused.status, url).toBe(403);
        expect(refused.json.error.code, url).toBe('two_factor_enrolment_required');
      }
      // The session routes answer: who am I, my policy, enrolment, logout.
      const me = await call(token, 'GET', '/me');
      expect(me.status).toBe(200);
      expect(me.json.mustEnrolTwoFactor).toBe(true);
      expect((await mine(token)).settings.twoFactor).toBe('required');
      const begun = await call(token, 'POST', '/me/two-factor/enrolment');
      expect(begun.status, begun.body).toBe(200);
      const secret = base32Decode(begun.json.secret as string)!;
      const confirmed = await call(token, 'POST', '/me/two-factor/enrolment/confirm', {
        code: totp(secret, ctx.clock.now()),
      });
      expect(confirmed.status, confirmed.body).toBe(200);
      // Enrolled: the same session goes on.
      expect((await call(token, 'GET', '/client-config/effective')).status).toBe(200);
      expect((await call(token, 'GET', '/me')).json.mustEnrolTwoFactor).toBe(false);

      // While the policy requires it, the user cannot turn it off.
      ctx.clock.advance(30_000);
      const off = await call(token, 'DELETE', '/me/two-factor', {
        code: totp(secret, ctx.clock.now()),
      });
      expect(off.status).toBe(409);

      // Next login needs the code; no enrolment asked any more.
      ctx.clock.advance(30_000);
      const next = await loginAttempt(ctx, 'enrol-me', u.password, {
        totpCode: totp(secret, ctx.clock.now()),
      });
      expect(next.status, next.body).toBe(200);
      expect(next.json.mustEnrolTwoFactor).toBe(false);

      // An administrator who must enrol is held back from administration too.
      const boss = await createUser(ctx.services, {
        loginName: 'boss',
        roles: [role],
        administrator: true,
      });
      const bossToken = await login(ctx.app, 'boss', boss.password);
      expect((await call(bossToken, 'GET', '/policies')).json.error.code).toBe(
        'two_factor_enrolment_required',
      );
    });
  });
});
