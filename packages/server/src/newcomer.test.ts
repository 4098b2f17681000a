import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from './test-support/harness.js';
import { ensureFirstAdministrator } from './users/first-start.js';

/**
 * The newcomer's path (issue "done when"): the first start prints an administrator with a
 * one-time password; with that and the API alone the newcomer changes it and builds the demo
 * organisation's structure — roles and a sub-role, users, folders, entries with custom fields
 * and attachments, a blocking folder, grants (one time-limited) — and it behaves as specified.
 */
describe.each(DIALECTS)(
  'a newcomer builds the demo organisation with the API alone (%s)',
  (dialect) => {
    let ctx: TestContext;
    let admin: string;
    const ids: Record<string, string> = {};
    const passwords = {
      alice: testSecret('alice'),
      bob: testSecret('bob'),
      carol: testSecret('carol'),
    };

    const call = async (token: string | null, method: string, url: string, payload?: unknown) => {
      const res = await ctx.app.inject({
        method: method as 'GET',
        url: `/api/v1${url}`,
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(payload !== undefined ? { payload: payload as object } : {}),
      });
      return { status: res.statusCode, body: res.body ? (res.json() as any) : null };
    };
    const ok = async (token: string | null, method: string, url: string, payload?: unknown) => {
      const r = await call(token, method, url, payload);
      expect({ url, status: r.status, body: r.status < 300 ? null : r.body }).toEqual({
        url,
        status: r.status < 300 ? r.status : 200,
        body: null,
      });
      return r.body;
    };
    const login = async (loginName: string, password: string) =>
      (await ok(null, 'POST', '/auth/login', { loginName, password })).token as string;

    beforeAll(async () => {
      ctx = await createTestContext(dialect);
    });
    afterAll(async () => {
      await ctx.close();
    });

    it('logs in with the printed one-time password and must change it first', async () => {
      const first = await ensureFirstAdministrator(ctx.services);
      expect(first?.loginName).toBe('admin');
      expect(await ensureFirstAdministrator(ctx.services)).toBeNull();
      const r = await call(null, 'POST', '/auth/login', {
        loginName: 'admin',
        password: first!.oneTimePassword,
      });
      expect(r.status).toBe(200);
      expect(r.body.mustChangePassword).toBe(true);
      const blocked = await call(r.body.token, 'GET', '/vault/tree');
      expect([blocked.status, blocked.body.error.code]).toEqual([403, 'password_change_required']);
      const newPassword = testSecret('admin-new');
      await ok(r.body.token, 'POST', '/me/password', {
        currentPassword: first!.oneTimePassword,
        newPassword,
      });
      expect(
        (
          await call(null, 'POST', '/auth/login', {
            loginName: 'admin',
            password: first!.oneTimePassword,
          })
        ).status,
      ).toBe(401);
      admin = await login('admin', newPassword);
    });

    it('creates the roles, the sub-role and the users', async () => {
      for (const name of ['Operations', 'Engineering', 'Developers']) {
        ids[name] = (await ok(admin, 'POST', '/roles', { name })).id;
      }
      await ok(admin, 'PUT', `/roles/${ids.Engineering}/subroles/${ids.Developers}`);
      const user = async (loginName: string, password: string, roles: string[]) =>
        (
          await ok(admin, 'POST', '/users', {
            loginName,
            password,
            roles,
            mustChangePassword: false,
          })
        ).id as string;
      ids.alice = await user('alice@corp.example', passwords.alice, [ids.Operations!]);
      ids.bob = await user('bob', passwords.bob, [ids.Developers!]);
      ids.carol = await user('carol', passwords.carol, []);
    });

    it('creates the folders, the blocking folder and the entries', async () => {
      const tree = await ok(admin, 'GET', '/vault/tree');
      ids.Root = tree.rootId;
      const folder = async (name: string, parent: string) => {
        ids[name] = (await ok(admin, 'POST', '/folders', { parentId: ids[parent], name })).id;
      };
      await folder('Infrastructure', 'Root');
      await folder('Servers', 'Infrastructure');
      await folder('Network', 'Infrastructure');
      await folder('Legacy', 'Infrastructure');
      await folder('Development', 'Root');
      await folder('Shared', 'Root');
      await ok(admin, 'PUT', `/folders/${ids.Legacy}/block-inheritance`, { block: true });
      const entry = async (folder: string, name: string, extra: object = {}) => {
        ids[name] = (
          await ok(admin, 'POST', '/entries', {
            folderId: ids[folder],
            name,
            username: `${name}-user`,
            password: testSecret(name),
            url: `https://${name}.corp.example`,
            notes: `Notes of ${name}`,
            ...extra,
          })
        ).id;
      };
      await entry('Servers', 'db-prod', {
        customFields: [
          { name: 'port', value: '5432', protected: false },
          { name: 'root-password', value: testSecret('root'), protected: true },
        ],
      });
      await entry('Servers', 'web-01');
      await entry('Servers', 'web-02');
      await entry('Network', 'core-switch');
      await entry('Network', 'vpn', {
        attachments: [
          { fileName: 'vpn.conf', data: Buffer.from('remote vpn 1194\n').toString('base64') },
        ],
      });
      await entry('Legacy', 'old-mainframe');
      await entry('Development', 'git', {
        customFields: [{ name: 'cf', value: 'demo', protected: false }],
        attachments: [{ fileName: 'readme.txt', data: Buffer.from('hello\n').toString('base64') }],
      });
      await entry('Development', 'ci-token');
      await entry('Shared', 'wifi');
      await entry('Shared', 'printer');
    });

    it('grants access with the built-in levels, one of them time-limited', async () => {
      const levels = (await ok(admin, 'GET', '/access-levels')).levels as Array<{
        id: string;
        name: string;
      }>;
      const level = (name: string) => levels.find((l) => l.name === name)!.id;
      const grant = (
        folder: string,
        principalType: string,
        principalId: string,
        name: string,
        expiresAt?: string,
      ) =>
        ok(admin, 'POST', `/folders/${ids[folder]}/access`, {
          principalType,
          principalId,
          accessLevelId: level(name),
          ...(expiresAt ? { expiresAt } : {}),
        });
      await grant('Infrastructure', 'role', ids.Operations!, 'Full + Offline');
      await grant('Development', 'user', ids.alice!, 'Read-Only');
      await grant('Development', 'role', ids.Engineering!, 'Full');
      await grant('Shared', 'user', ids.bob!, 'Read-Only');
      await grant(
        'Shared',
        'user',
        ids.carol!,
        'Full + Offline',
        new Date(ctx.clock.now() + 30 * 86_400_000).toISOString(),
      );
    });

    it('behaves as the demo organisation is specified', async () => {
      const alice = await login('alice@corp.example', passwords.alice);
      const bob = await login('BOB', passwords.bob);
      const names = async (token: string) =>
        ((await ok(token, 'GET', '/vault/tree')).entries as Array<{ name: string }>)
          .map((e) => e.name)
          .sort();
      expect(await names(alice)).toEqual([
        'ci-token',
        'core-switch',
        'db-prod',
        'git',
        'vpn',
        'web-01',
        'web-02',
      ]);
      expect((await call(alice, 'GET', `/entries/${ids['old-mainframe']}`)).status).toBe(404);
      expect((await ok(alice, 'GET', `/entries/${ids['db-prod']}`)).permissions).toContain(
        'viewEntryOffline',
      );
      expect((await call(alice, 'PATCH', `/entries/${ids.git}`, { name: 'x' })).status).toBe(403);
      expect(
        (await call(bob, 'PATCH', `/entries/${ids['ci-token']}`, { notes: 'changed by bob' }))
          .status,
      ).toBe(200);
      expect((await ok(bob, 'GET', `/entries/${ids.wifi}`)).permissions).not.toContain(
        'viewEntryOffline',
      );
      expect(
        (await ok(admin, 'GET', `/entries/${ids['old-mainframe']}/password`)).password,
      ).toContain('TESTSECRET');
      const carol = await login('carol', passwords.carol);
      expect(await names(carol)).toEqual(['printer', 'wifi']);
      ctx.clock.advance(30 * 86_400_000);
      // Thirty days later her session has long expired, and so has her only grant.
      expect((await call(carol, 'GET', '/vault/tree')).status).toBe(401);
      expect(await names(await login('carol', passwords.carol))).toEqual([]);
    });
  },
);
