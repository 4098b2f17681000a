import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword, passwordHashParams } from '@strongroom/crypto';
import { DEFAULT_POLICY_SETTINGS, type PolicySettingsPatch } from '@strongroom/protocol';
import { compose, type Services } from '../compose.js';
import { buildApp, type App } from '../http/app.js';
import {
  DIALECTS,
  TEST_HASH,
  createTestContext,
  testConfig,
  testSecret,
  type TestContext,
  type TestContextOptions,
} from '../test-support/harness.js';
import { adminToken, createUser, login } from '../test-support/identity.js';
import { api, auditOf } from './test-util.js';
import { SYSTEM_ACTOR } from './context.js';
import { DEFAULT_POLICY_ID } from '../policies/service.js';

const MINUTE = 60_000;

describe.each(DIALECTS)('login, sessions and passwords (%s)', (dialect) => {
  let ctx: TestContext;
  const extra: Array<{ app: App; services: Services }> = [];
  const open = async (opts: TestContextOptions = {}) => {
    ctx = await createTestContext(dialect, opts);
    return ctx;
  };
  /** Account rules are policy settings: these tests change the Default Policy. */
  const defaultPolicy = (settings: PolicySettingsPatch) =>
    ctx.services.policies.update(SYSTEM_ACTOR, DEFAULT_POLICY_ID, { settings });
  /** A second server on the same database: what another process would see. */
  const secondServer = async (overrides: TestContextOptions['config'] = {}) => {
    const services = await compose(testConfig(ctx.db, overrides), {
      clock: ctx.clock,
      backgroundJobs: false,
      createKeyFile: false,
    });
    const app = await buildApp(services, { logger: false });
    await app.ready();
    extra.push({ app, services });
    return app;
  };
  afterEach(async () => {
    for (const e of extra.splice(0)) {
      await e.app.close();
      await e.services.close();
    }
    await ctx?.close();
  });

  it('logs in with the right password, keeps the UPN as typed, finds it in any case', async () => {
    await open();
    const alice = await createUser(ctx.services, {
      loginName: 'Alice@Corp.Example',
      displayName: 'Alice',
    });
    const res = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'alice@corp.example', password: alice.password },
    });
    expect(res.status).toBe(200);
    expect(res.json.user).toEqual({
      id: alice.id,
      loginName: 'Alice@Corp.Example',
      displayName: 'Alice',
    });
    expect(res.json.mustChangePassword).toBe(false);
    expect(res.json.token).toMatch(/^sr_/);
    expect(Date.parse(res.json.expiresAt)).toBe(
      ctx.clock.now() + DEFAULT_POLICY_SETTINGS.timeouts.sessionLifetimeMinutes * MINUTE,
    );

    const me = await api(ctx.app, 'GET', '/me', { token: res.json.token });
    expect(me.status).toBe(200);
    expect(me.json.loginName).toBe('Alice@Corp.Example');
    expect(me.json.isAdministrator).toBe(false);
    expect(me.json.roles.map((r: { name: string }) => r.name)).toEqual(['Users']);

    // The token itself is never stored, only its hash.
    const sessions = await ctx.services.store.db.selectFrom('sessions').selectAll().execute();
    expect(sessions).toHaveLength(1);
    expect(JSON.stringify(sessions)).not.toContain(res.json.token);

    // A second user with the same name in another case is a duplicate.
    const dup = await api(ctx.app, 'POST', '/users', {
      token: await adminToken(ctx),
      body: { loginName: 'ALICE@corp.example', password: testSecret('dup') },
    });
    expect(dup.status).toBe(409);
    const logins = await auditOf(ctx.services.store.db, 'Login');
    expect(
      logins.some((r) => r.login_name === 'Alice@Corp.Example' && r.status === 'success'),
    ).toBe(true);
  });

  it('refuses a wrong password and an unknown name alike, and audits both', async () => {
    await open();
    const bob = await createUser(ctx.services, { loginName: 'bob' });
    const wrong = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'bob', password: testSecret('wrong') },
    });
    const unknown = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'nobody', password: bob.password },
    });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('invalid_credentials');
    }
    expect(wrong.json.error.message).toBe(unknown.json.error.message);
    const failed = await auditOf(ctx.services.store.db, 'Login Failed');
    expect(failed.map((r) => r.target)).toEqual(['bob', 'nobody']);
    expect(failed.every((r) => r.status === 'denied')).toBe(true);
    const audit = JSON.stringify(
      await ctx.services.store.db.selectFrom('audit_log').selectAll().execute(),
    );
    expect(audit).not.toContain(bob.password);
    expect(audit).not.toContain('TESTSECRET');
  });

  it('upgrades a hash made with weaker parameters at the next successful login', async () => {
    const strong = { memoryCost: 128, timeCost: 2, parallelism: 1 };
    await open({ config: { passwordHash: strong } });
    const carol = await createUser(ctx.services, { loginName: 'carol' });
    const weak = await hashPassword(carol.password, TEST_HASH);
    await ctx.services.store.db
      .updateTable('users')
      .set({ password_hash: weak })
      .where('id', '=', carol.id)
      .execute();

    const failed = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'carol', password: testSecret('wrong') },
    });
    expect(failed.status).toBe(401);
    const afterFailure = await ctx.services.store.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', carol.id)
      .executeTakeFirstOrThrow();
    expect(afterFailure.password_hash).toBe(weak);

    await login(ctx.app, 'carol', carol.password);
    const row = await ctx.services.store.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', carol.id)
      .executeTakeFirstOrThrow();
    expect(passwordHashParams(row.password_hash)).toEqual(strong);
    // The upgraded hash still verifies the same password.
    await login(ctx.app, 'carol', carol.password);
  });

  it('locks after N consecutive failures, on every server, and the lock runs out', async () => {
    await open({ config: { loginRateLimit: { attempts: 100, windowMs: MINUTE } } });
    await defaultPolicy({ lockout: { threshold: 3, durationMinutes: 10 } });
    const other = await secondServer({ loginRateLimit: { attempts: 100, windowMs: MINUTE } });
    const dave = await createUser(ctx.services, { loginName: 'dave' });
    const attempt = (app: App, password: string) =>
      api(app, 'POST', '/auth/login', { body: { loginName: 'dave', password } });

    // A success in between resets the count: only consecutive failures lock.
    expect((await attempt(ctx.app, testSecret('w'))).status).toBe(401);
    expect((await attempt(ctx.app, testSecret('w'))).status).toBe(401);
    expect((await attempt(ctx.app, dave.password)).status).toBe(200);

    expect((await attempt(ctx.app, testSecret('w'))).status).toBe(401);
    expect((await attempt(other, testSecret('w'))).status).toBe(401);
    expect((await attempt(ctx.app, testSecret('w'))).status).toBe(401);

    // Locked: even the right password is refused, on both servers, with the time left.
    for (const app of [ctx.app, other]) {
      const res = await attempt(app, dave.password);
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe('account_locked');
      expect(res.json.error.retryAfterSeconds).toBe(600);
      expect(res.headers['retry-after']).toBe('600');
    }
    // A wrong password while locked gets the very same answer.
    const wrongWhileLocked = await attempt(ctx.app, testSecret('w'));
    expect(wrongWhileLocked.status).toBe(403);
    expect(wrongWhileLocked.json.error.code).toBe('account_locked');
    expect((await auditOf(ctx.services.store.db, 'Login Locked')).length).toBeGreaterThanOrEqual(3);

    ctx.clock.advance(9 * MINUTE);
    const later = await attempt(ctx.app, dave.password);
    expect(later.json.error.retryAfterSeconds).toBe(60);

    ctx.clock.advance(MINUTE);
    expect((await attempt(ctx.app, dave.password)).status).toBe(200);
    const row = await ctx.services.store.db
      .selectFrom('users')
      .select(['failed_logins', 'locked_until'])
      .where('id', '=', dave.id)
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ failed_logins: 0, locked_until: null });
  });

  it('after an expired lock, counting starts again from one', async () => {
    await open();
    await defaultPolicy({ lockout: { threshold: 2, durationMinutes: 5 } });
    const erin = await createUser(ctx.services, { loginName: 'erin' });
    const attempt = (password: string) =>
      api(ctx.app, 'POST', '/auth/login', { body: { loginName: 'erin', password } });
    await attempt(testSecret('w'));
    await attempt(testSecret('w'));
    expect((await attempt(erin.password)).status).toBe(403);
    ctx.clock.advance(5 * MINUTE);
    expect((await attempt(testSecret('w'))).status).toBe(401);
    // One failure after the lock ran out is not enough to lock again.
    expect((await attempt(erin.password)).status).toBe(200);
  });

  it('an indefinite lockout lasts until an administrator unlocks', async () => {
    await open();
    await defaultPolicy({ lockout: { threshold: 2, durationMinutes: null } });
    const frank = await createUser(ctx.services, { loginName: 'frank' });
    const attempt = (password: string) =>
      api(ctx.app, 'POST', '/auth/login', { body: { loginName: 'frank', password } });
    await attempt(testSecret('w'));
    await attempt(testSecret('w'));
    ctx.clock.advance(30 * 24 * 60 * MINUTE);
    const locked = await attempt(frank.password);
    expect(locked.status).toBe(403);
    expect(locked.json.error.code).toBe('account_locked');
    expect(locked.json.error.retryAfterSeconds).toBeUndefined();

    const admin = await adminToken(ctx);
    const view = await api(ctx.app, 'GET', `/users/${frank.id}`, { token: admin });
    expect(view.json.locked).toBe(true);
    expect(view.json.lockedUntil).toBeNull();
    const unlocked = await api(ctx.app, 'POST', `/users/${frank.id}/unlock`, { token: admin });
    expect(unlocked.status).toBe(200);
    expect(unlocked.json.locked).toBe(false);
    expect((await attempt(frank.password)).status).toBe(200);
    expect((await auditOf(ctx.services.store.db, 'User Unlocked')).map((r) => r.target)).toEqual([
      'frank',
    ]);
  });

  it('rate-limits login attempts per client address and per login name, across servers', async () => {
    const config = { loginRateLimit: { attempts: 3, windowMs: MINUTE } };
    await open({ config });
    await defaultPolicy({ lockout: { threshold: 100, durationMinutes: 1 } });
    const other = await secondServer(config);
    const gina = await createUser(ctx.services, { loginName: 'gina' });
    const from = (app: App, ip: string, loginName: string, password: string) =>
      api(app, 'POST', '/auth/login', { ip, body: { loginName, password } });

    expect((await from(ctx.app, '10.0.0.1', 'gina', testSecret('w'))).status).toBe(401);
    expect((await from(other, '10.0.0.1', 'gina', testSecret('w'))).status).toBe(401);
    expect((await from(ctx.app, '10.0.0.1', 'someone', testSecret('w'))).status).toBe(401);
    // Fourth attempt from this address in the window, on the other server: refused unseen.
    const limited = await from(other, '10.0.0.1', 'someone-else', testSecret('w'));
    expect(limited.status).toBe(429);
    expect(limited.json.error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBe(60);

    // Per login name: a third attempt on gina from a new address is allowed, a fourth is not.
    expect((await from(ctx.app, '10.0.0.2', 'gina', gina.password)).status).toBe(200);
    const byName = await from(ctx.app, '10.0.0.3', 'GINA', gina.password);
    expect(byName.status).toBe(429);

    ctx.clock.advance(30_000);
    expect(
      Number((await from(ctx.app, '10.0.0.4', 'gina', gina.password)).headers['retry-after']),
    ).toBe(30);
    ctx.clock.advance(30_000);
    expect((await from(ctx.app, '10.0.0.1', 'gina', gina.password)).status).toBe(200);
  });

  it('a web session ends after the idle timeout and after its absolute lifetime', async () => {
    await open();
    await defaultPolicy({ timeouts: { sessionIdleMinutes: 30, sessionLifetimeMinutes: 120 } });
    const hank = await createUser(ctx.services, { loginName: 'hank' });
    const token = await login(ctx.app, 'hank', hank.password);
    const me = () => api(ctx.app, 'GET', '/me', { token });
    // Used every 29 minutes, it lives until its absolute lifetime.
    for (let i = 0; i < 4; i++) {
      ctx.clock.advance(29 * MINUTE);
      expect((await me()).status).toBe(200);
    }
    ctx.clock.advance(4 * MINUTE); // 120 minutes after login
    const expired = await me();
    expect(expired.status).toBe(401);
    expect(expired.json.error.code).toBe('unauthenticated');

    const idle = await login(ctx.app, 'hank', hank.password);
    ctx.clock.advance(29 * MINUTE);
    expect((await api(ctx.app, 'GET', '/me', { token: idle })).status).toBe(200);
    ctx.clock.advance(30 * MINUTE);
    expect((await api(ctx.app, 'GET', '/me', { token: idle })).status).toBe(401);
  });

  it('an API token has its own lifetime and no idle timeout', async () => {
    await open();
    await defaultPolicy({
      timeouts: {
        sessionIdleMinutes: 30,
        apiTokenLifetimeMinutes: 60,
        sessionLifetimeMinutes: 600,
      },
    });
    const ivy = await createUser(ctx.services, { loginName: 'ivy' });
    const res = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'ivy', password: ivy.password, client: 'api' },
    });
    expect(Date.parse(res.json.expiresAt)).toBe(ctx.clock.now() + 60 * MINUTE);
    ctx.clock.advance(45 * MINUTE);
    expect((await api(ctx.app, 'GET', '/me', { token: res.json.token })).status).toBe(200);
    ctx.clock.advance(15 * MINUTE);
    expect((await api(ctx.app, 'GET', '/me', { token: res.json.token })).status).toBe(401);
  });

  it('logout revokes the session', async () => {
    await open();
    const jack = await createUser(ctx.services, { loginName: 'jack' });
    const token = await login(ctx.app, 'jack', jack.password);
    const keep = await login(ctx.app, 'jack', jack.password);
    // A body that is not empty is refused before anything happens.
    const garbage = await api(ctx.app, 'POST', '/auth/logout', { token, body: [1, 2, 3] });
    expect(garbage.status).toBe(400);
    expect((await api(ctx.app, 'GET', '/me', { token })).status).toBe(200);
    expect((await api(ctx.app, 'POST', '/auth/logout', { token, body: {} })).status).toBe(204);
    expect((await api(ctx.app, 'GET', '/me', { token })).status).toBe(401);
    expect((await api(ctx.app, 'POST', '/auth/logout', { token })).status).toBe(401);
    expect((await api(ctx.app, 'GET', '/me', { token: keep })).status).toBe(200);
    expect((await auditOf(ctx.services.store.db, 'Logout')).map((r) => r.login_name)).toEqual([
      'jack',
    ]);
  });

  it('changing your password ends your other sessions and keeps this one', async () => {
    await open();
    const kim = await createUser(ctx.services, { loginName: 'kim' });
    const current = await login(ctx.app, 'kim', kim.password);
    const other = await login(ctx.app, 'kim', kim.password);
    const next = testSecret('next');

    const wrong = await api(ctx.app, 'POST', '/me/password', {
      token: current,
      body: { currentPassword: testSecret('wrong'), newPassword: next },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error.field).toBe('/currentPassword');
    expect((await api(ctx.app, 'GET', '/me', { token: other })).status).toBe(200);

    const same = await api(ctx.app, 'POST', '/me/password', {
      token: current,
      body: { currentPassword: kim.password, newPassword: kim.password },
    });
    expect(same.status).toBe(400);
    expect(same.json.error.field).toBe('/newPassword');

    const ok = await api(ctx.app, 'POST', '/me/password', {
      token: current,
      body: { currentPassword: kim.password, newPassword: next },
    });
    expect(ok.status).toBe(204);
    expect((await api(ctx.app, 'GET', '/me', { token: current })).status).toBe(200);
    expect((await api(ctx.app, 'GET', '/me', { token: other })).status).toBe(401);
    const old = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'kim', password: kim.password },
    });
    expect(old.status).toBe(401);
    await login(ctx.app, 'kim', next);
    const changed = await auditOf(ctx.services.store.db, 'Password Changed');
    expect(changed.map((r) => r.status)).toEqual(['denied', 'success']);
  });

  it('disabling a user ends their sessions and blocks login like a wrong password', async () => {
    await open();
    const admin = await adminToken(ctx);
    const lee = await createUser(ctx.services, { loginName: 'lee' });
    const t1 = await login(ctx.app, 'lee', lee.password);
    const t2 = await login(ctx.app, 'lee', lee.password);
    const disabled = await api(ctx.app, 'POST', `/users/${lee.id}/disable`, { token: admin });
    expect(disabled.status).toBe(200);
    expect(disabled.json.enabled).toBe(false);
    for (const t of [t1, t2])
      expect((await api(ctx.app, 'GET', '/me', { token: t })).status).toBe(401);
    const refused = await api(ctx.app, 'POST', '/auth/login', {
      body: { loginName: 'lee', password: lee.password },
    });
    expect(refused.status).toBe(401);
    expect(refused.json.error.code).toBe('invalid_credentials');

    expect(
      (await api(ctx.app, 'POST', `/users/${lee.id}/enable`, { token: admin })).json.enabled,
    ).toBe(true);
    await login(ctx.app, 'lee', lee.password);
    const events = (
      await ctx.services.store.db.selectFrom('audit_log').select('event').orderBy('seq').execute()
    ).map((r) => r.event);
    expect(events).toContain('User Disabled');
    expect(events).toContain('User Enabled');
  });

  it('an administrator reset forces a password change before anything but the session routes', async () => {
    await open();
    const admin = await adminToken(ctx);
    const mia = await createUser(ctx.services, { loginName: 'mia' });
    const before = await login(ctx.app, 'mia', mia.password);
    const temporary = testSecret('temp');
    const reset = await api(ctx.app, 'POST', `/users/${mia.id}/reset-password`, {
      token: admin,
      body: { newPassword: temporary },
    });
    expect(reset.status).toBe(200);
    expect(reset.json.mustChangePassword).toBe(true);
    expect(reset.body).not.toContain('argon2');
    expect((await api(ctx.app, 'GET', '/me', { token: before })).status).toBe(401);

    // A route that needs a plain 'user' session, as the vault routes do.
    const app = await buildApp(ctx.services, { logger: false });
    app.get('/api/v1/probe', { config: { auth: 'user' } }, async () => ({ ok: true }));
    await app.ready();
    try {
      const res = await api(app, 'POST', '/auth/login', {
        body: { loginName: 'mia', password: temporary },
      });
      expect(res.json.mustChangePassword).toBe(true);
      const token = res.json.token as string;
      const probe = await api(app, 'GET', '/probe', { token });
      expect(probe.status).toBe(403);
      expect(probe.json.error.code).toBe('password_change_required');
      const me = await api(app, 'GET', '/me', { token });
      expect(me.status).toBe(200);
      expect(me.json.mustChangePassword).toBe(true);

      const next = testSecret('mine');
      expect(
        (
          await api(app, 'POST', '/me/password', {
            token,
            body: { currentPassword: temporary, newPassword: next },
          })
        ).status,
      ).toBe(204);
      expect((await api(app, 'GET', '/probe', { token })).status).toBe(200);
    } finally {
      await app.close();
    }
    expect((await auditOf(ctx.services.store.db, 'Password Reset')).map((r) => r.target)).toEqual([
      'mia',
    ]);
  });

  it('an administrator with a forced change is held back from administration too', async () => {
    await open();
    const root = await adminToken(ctx);
    const ned = await createUser(ctx.services, { loginName: 'ned', administrator: true });
    const temporary = testSecret('temp');
    await api(ctx.app, 'POST', `/users/${ned.id}/reset-password`, {
      token: root,
      body: { newPassword: temporary },
    });
    const token = await login(ctx.app, 'ned', temporary);
    const res = await api(ctx.app, 'GET', '/users', { token });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('password_change_required');
  });
});
