import { randomBytesOf as randomBytes } from '@strongroom/crypto';
import { expect } from 'vitest';
import { APP_PERMISSIONS, type OfflinePackage } from '@strongroom/protocol';
import type { Actor } from '../http/auth.js';
import { testActor } from '../test-support/actors.js';
import { testSecret, type TestContext } from '../test-support/harness.js';
import { createUser, login } from '../test-support/identity.js';
import { levelId } from '../access/test-fixture.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID } from '../users/role-graph.js';

/**
 * Test fixture of the offline area: a vault built through the real services (sealed secrets,
 * attachments), users who log in for real, grants made through the API (so every hook runs),
 * and the audit records of a cache read back.
 */

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface MadeEntry {
  id: string;
  folderId: string;
  name: string;
  path: string;
  password: string;
  secretField: string;
  attachment: Buffer | null;
}

export interface MadeUser {
  id: string;
  loginName: string;
  password: string;
  token: string;
}

export class OfflineWorld {
  private counter = 0;

  private constructor(
    readonly ctx: TestContext,
    readonly admin: { id: string; token: string; actor: Actor },
    private readonly adminPassword: string,
  ) {}

  static async create(ctx: TestContext): Promise<OfflineWorld> {
    const loginName = `offline-admin-${randomBytes(3).toString('hex')}`;
    const u = await createUser(ctx.services, { loginName, administrator: true });
    const token = await login(ctx.app, loginName, u.password);
    const actor = testActor({
      userId: u.id,
      loginName,
      isAdministrator: true,
      appPermissions: new Set(APP_PERMISSIONS),
      roleIds: [ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID],
    });
    return new OfflineWorld(ctx, { id: u.id, token, actor }, u.password);
  }

  /**
   * Logs the administrator and these users in again (after the test clock moved past the
   * session lifetime).
   */
  async relogin(...users: MadeUser[]): Promise<void> {
    const admin = await this.services.store.db
      .selectFrom('users')
      .select('login_name')
      .where('id', '=', this.admin.id)
      .executeTakeFirstOrThrow();
    this.admin.token = await login(this.ctx.app, admin.login_name, this.adminPassword);
    for (const u of users) u.token = await login(this.ctx.app, u.loginName, u.password);
  }

  get services() {
    return this.ctx.services;
  }

  unique(base: string): string {
    return `${base}-${++this.counter}`;
  }

  api(token: string | null, method: Method, url: string, payload?: unknown) {
    return this.ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { payload: payload as string } : {}),
    });
  }

  async folder(parentId: string | null, name = this.unique('Folder')): Promise<string> {
    const f = await this.services.vault.createFolder(this.admin.actor, {
      parentId: parentId ?? this.services.vault.rootId,
      name,
    });
    return f.id;
  }

  async entry(
    folderId: string,
    opts: { name?: string; attachmentBytes?: number } = {},
  ): Promise<MadeEntry> {
    const name = opts.name ?? this.unique('Entry');
    const password = testSecret('pw');
    const secretField = testSecret('pin');
    const attachment = opts.attachmentBytes ? randomBytes(opts.attachmentBytes) : null;
    const e = await this.services.vault.createEntry(this.admin.actor, {
      folderId,
      name,
      username: `user-of-${name}`,
      password,
      url: `https://${name.toLowerCase()}.example`,
      notes: `notes of ${name}`,
      tags: ['offline', 'test'],
      customFields: [
        { name: 'port', value: '22', protected: false },
        { name: 'pin', value: secretField, protected: true },
      ],
      ...(attachment ? { attachments: [{ fileName: `${name}.bin`, data: attachment }] } : {}),
    });
    return { id: e.id, folderId, name, path: e.path, password, secretField, attachment };
  }

  async user(
    opts: {
      roles?: string[];
      loginName?: string;
      displayName?: string;
      administrator?: boolean;
    } = {},
  ) {
    const loginName = opts.loginName ?? this.unique('offline-user');
    const u = await createUser(this.services, {
      loginName,
      roles: opts.roles,
      displayName: opts.displayName,
      administrator: opts.administrator,
    });
    const token = await login(this.ctx.app, loginName, u.password);
    return { id: u.id, loginName: u.loginName, password: u.password, token } satisfies MadeUser;
  }

  /** A grant made through the API by the administrator; returns its id. */
  async grant(opts: {
    folder?: string;
    entry?: string;
    user?: string;
    role?: string;
    level: string;
    expiresAt?: number | null;
  }): Promise<string> {
    const node = opts.folder !== undefined ? `folders/${opts.folder}` : `entries/${opts.entry}`;
    const res = await this.api(this.admin.token, 'POST', `/${node}/access`, {
      principalType: opts.user !== undefined ? 'user' : 'role',
      principalId: opts.user ?? opts.role,
      accessLevelId: await levelId(this.services, opts.level),
      ...(opts.expiresAt != null ? { expiresAt: new Date(opts.expiresAt).toISOString() } : {}),
    });
    expect(res.statusCode, res.body).toBe(201);
    return (res.json() as { id: string }).id;
  }

  async removeGrant(node: { folder: string } | { entry: string }, grantId: string) {
    const path = 'folder' in node ? `folders/${node.folder}` : `entries/${node.entry}`;
    const res = await this.api(this.admin.token, 'DELETE', `/${path}/access/${grantId}`);
    expect(res.statusCode, res.body).toBe(204);
  }

  /** A custom access level with exactly these A flags, made through the API. */
  async level(allow: string[]): Promise<string> {
    const res = await this.api(this.admin.token, 'POST', '/access-levels', {
      name: this.unique('Level'),
      allow,
      grant: [],
    });
    expect(res.statusCode, res.body).toBe(201);
    return (res.json() as { id: string }).id;
  }

  /** A role made through the API; with `parent`, it becomes a sub-role of that role. */
  async role(opts: { parent?: string; permissions?: string[] } = {}): Promise<string> {
    const parent = opts.parent;
    const res = await this.api(this.admin.token, 'POST', '/roles', {
      name: this.unique('Role'),
      ...(opts.permissions ? { permissions: opts.permissions } : {}),
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = (res.json() as { id: string }).id;
    if (parent) {
      const sub = await this.api(this.admin.token, 'PUT', `/roles/${parent}/subroles/${id}`);
      expect(sub.statusCode, sub.body).toBeLessThan(300);
    }
    return id;
  }

  async clientRule(userId: string, settings: Record<string, unknown>): Promise<void> {
    const res = await this.api(this.admin.token, 'POST', '/client-config/rules', {
      name: this.unique('Offline rule'),
      principalType: 'user',
      principalId: userId,
      settings,
    });
    expect(res.statusCode, res.body).toBe(201);
  }

  packageRequest(token: string, body: Record<string, unknown> = {}) {
    return this.api(token, 'POST', '/offline/package', body);
  }

  /** A package that must succeed. */
  async package(token: string, body: Record<string, unknown> = {}): Promise<OfflinePackage> {
    const res = await this.packageRequest(token, body);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as OfflinePackage;
  }

  /** Audit records of an event, oldest first, details parsed. */
  async audit(event: string) {
    const rows = await this.services.store.db
      .selectFrom('audit_log')
      .select([
        'event',
        'status',
        'target',
        'details',
        'login_name',
        'at',
        'offline',
        'occurred_at',
      ])
      .where('event', '=', event)
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({
      ...r,
      at: Number(r.at),
      occurred_at: r.occurred_at === null ? null : Number(r.occurred_at),
      details: JSON.parse(r.details) as Record<string, unknown>,
    }));
  }

  /** The Offline Sync records of one cache. */
  async syncRecords(cacheId: string) {
    return (await this.audit('Offline Sync')).filter((r) => r.details.cacheId === cacheId);
  }

  async cacheRow(id: string) {
    return this.services.store.db
      .selectFrom('offline_caches')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
  }

  async countCaches(): Promise<number> {
    const r = await this.services.store.db
      .selectFrom('offline_caches')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

/**
 * Asserts that the package holds exactly `expected` among `candidates` (others may be there:
 * entries of other cases the caller also holds), and that the cache's audit is exactly one
 * Offline Sync record per cached entry, with the entry's path.
 */
export async function expectCached(
  world: OfflineWorld,
  pkg: OfflinePackage,
  opts: { in: MadeEntry[]; out: MadeEntry[] },
): Promise<void> {
  const ids = new Set(pkg.entries.map((e) => e.id));
  for (const e of opts.in) expect(ids.has(e.id), `${e.path} should be cached`).toBe(true);
  for (const e of opts.out) expect(ids.has(e.id), `${e.path} should not be cached`).toBe(false);
  const records = await world.syncRecords(pkg.cacheId);
  expect(records).toHaveLength(pkg.entries.length);
  expect(records.map((r) => r.details.entryId).sort()).toEqual(pkg.entries.map((e) => e.id).sort());
  const byEntry = new Map(records.map((r) => [r.details.entryId as string, r]));
  for (const e of pkg.entries) expect(byEntry.get(e.id)!.target).toBe(e.path);
  for (const e of opts.out) expect(byEntry.has(e.id)).toBe(false);
  expect((await world.cacheRow(pkg.cacheId)).entry_count).toBe(pkg.entries.length);
}
