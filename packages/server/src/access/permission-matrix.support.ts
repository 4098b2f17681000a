import { expect } from 'vitest';
import { VAULT_PERMISSIONS, type VaultPermission } from '@strongroom/protocol';
import type { App } from '../http/app.js';
import { testSecret, type TestContext } from '../test-support/harness.js';
import { createUser, login } from '../test-support/identity.js';

/**
 * Helpers of the permission-matrix test: every call goes through the HTTP API (an administrator
 * builds folders, entries, access levels and grants; the user under test calls with their own
 * token), and effects are read back from the database.
 */

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
export type Response = Awaited<ReturnType<App['inject']>>;

/** A permission set of one access level: A flags and G flags. */
export interface Flags {
  allow: readonly VaultPermission[];
  grant: readonly VaultPermission[];
}

export interface Caller {
  id: string;
  loginName: string;
  token: string;
}

export interface CreatedEntry {
  id: string;
  name: string;
  username: string;
  password: string;
  attachments: { id: string; fileName: string }[];
}

const sorted = (list: readonly VaultPermission[]) =>
  VAULT_PERMISSIONS.filter((p) => list.includes(p));

export class MatrixHarness {
  admin!: Caller;
  /** A user who only ever receives grants (the principal of grants made in the tests). */
  bystander!: { id: string; loginName: string };
  private readonly levels = new Map<string, string>();
  private counter = 0;
  /** Audit records up to this sequence number are ignored by `audit()`. */
  private auditFrom = 0;

  constructor(readonly ctx: TestContext) {}

  async init(): Promise<void> {
    const a = await createUser(this.ctx.services, {
      loginName: this.unique('admin'),
      administrator: true,
    });
    this.admin = {
      id: a.id,
      loginName: a.loginName,
      token: await login(this.ctx.app, a.loginName, a.password),
    };
    const b = await createUser(this.ctx.services, { loginName: this.unique('bystander') });
    this.bystander = { id: b.id, loginName: b.loginName };
  }

  get rootId(): string {
    return this.ctx.services.vault.rootId;
  }

  get db() {
    return this.ctx.services.store.db;
  }

  /** A name no other case uses. */
  unique(prefix: string): string {
    this.counter += 1;
    return `${prefix}-${this.counter}`;
  }

  call(token: string, method: Method, url: string, payload?: unknown): Promise<Response> {
    return this.ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  }

  /** An administrator's call that must succeed with `status`; returns the JSON body. */
  async asAdmin<T = Record<string, unknown>>(
    method: Method,
    url: string,
    payload?: unknown,
    status = 200,
  ): Promise<T> {
    const res = await this.call(this.admin.token, method, url, payload);
    if (res.statusCode !== status) {
      throw new Error(`${method} ${url} as administrator: ${res.statusCode} ${res.body}`);
    }
    return (res.body === '' ? undefined : res.json()) as T;
  }

  /** A fresh user with no grants (optionally a direct member of roles), logged in. */
  async user(roles: string[] = []): Promise<Caller> {
    const u = await createUser(this.ctx.services, { loginName: this.unique('u'), roles });
    return {
      id: u.id,
      loginName: u.loginName,
      token: await login(this.ctx.app, u.loginName, u.password),
    };
  }

  /** A fresh user who never logs in: the principal of a grant made in a test. */
  async grantee(): Promise<string> {
    return (await createUser(this.ctx.services, { loginName: this.unique('grantee') })).id;
  }

  // ---------------------------------------------------------------- vault nodes (as admin)

  async folder(parentId: string, name = this.unique('F')): Promise<string> {
    const f = await this.asAdmin<{ id: string }>('POST', '/folders', { parentId, name }, 201);
    return f.id;
  }

  /** A new folder directly under Root: the private playground of one case. */
  caseFolder(): Promise<string> {
    return this.folder(this.rootId, this.unique('case'));
  }

  async entry(
    folderId: string,
    extra: Record<string, unknown> = {},
    name = this.unique('E'),
  ): Promise<CreatedEntry> {
    const username = this.unique('login');
    const password = testSecret('pw');
    const e = await this.asAdmin<CreatedEntry>(
      'POST',
      '/entries',
      { folderId, name, username, password, notes: `notes of ${name}`, ...extra },
      201,
    );
    return { id: e.id, name, username, password, attachments: e.attachments };
  }

  archiveFolder(id: string): Promise<unknown> {
    return this.asAdmin('POST', `/folders/${id}/archive`, undefined, 204);
  }

  archiveEntry(id: string): Promise<unknown> {
    return this.asAdmin('POST', `/entries/${id}/archive`, undefined, 204);
  }

  // ---------------------------------------------------------------- levels and grants

  /** The id of a custom access level with exactly these flags (created once, by the admin). */
  async level(flags: Flags): Promise<string> {
    const allow = sorted(flags.allow);
    const grant = sorted(flags.grant);
    const key = `${allow.join(',')}|${grant.join(',')}`;
    const known = this.levels.get(key);
    if (known) return known;
    const created = await this.asAdmin<{ id: string; allow: string[]; grant: string[] }>(
      'POST',
      '/access-levels',
      { name: this.unique('level'), allow, grant },
      201,
    );
    expect({ allow: created.allow, grant: created.grant }).toEqual({ allow, grant });
    this.levels.set(key, created.id);
    return created.id;
  }

  /** The id of a built-in level by key ('read-only', 'full-grant'…). */
  builtinLevel(key: string): Promise<string> {
    return this.ctx.services.access.builtinLevelId(key);
  }

  /** A grant made by the administrator through the API; returns the grant id. */
  async grant(
    node: { type: 'folder' | 'entry'; id: string },
    principal: { type: 'user' | 'role'; id: string },
    accessLevelId: string,
    expiresAt?: number,
  ): Promise<string> {
    const base = node.type === 'folder' ? 'folders' : 'entries';
    const g = await this.asAdmin<{ id: string }>(
      'POST',
      `/${base}/${node.id}/access`,
      {
        principalType: principal.type,
        principalId: principal.id,
        accessLevelId,
        ...(expiresAt === undefined ? {} : { expiresAt: new Date(expiresAt).toISOString() }),
      },
      201,
    );
    return g.id;
  }

  // ---------------------------------------------------------------- reading effects back

  async folderRow(id: string) {
    return this.db.selectFrom('folders').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async entryRow(id: string) {
    return this.db.selectFrom('entries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async grantExists(id: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('grants')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** From now on, `audit()` only returns records written after this point. */
  async markAudit(): Promise<void> {
    const last = await this.db
      .selectFrom('audit_log')
      .select('seq')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    this.auditFrom = Number(last?.seq ?? 0);
  }

  /** Audit records of one caller and event since `markAudit()`, oldest first. */
  async audit(loginName: string, event: string) {
    return this.db
      .selectFrom('audit_log')
      .select(['status', 'target', 'details'])
      .where('seq', '>', this.auditFrom)
      .where('login_name', '=', loginName)
      .where('event', '=', event)
      .orderBy('seq')
      .execute();
  }
}

/** Asserts an error answer: the status and the stable error code of spec §3. */
export function expectError(res: Response, status: 404 | 403): void {
  expect({
    status: res.statusCode,
    code: (res.json() as { error?: { code?: string } }).error?.code,
  }).toEqual({ status, code: status === 404 ? 'not_found' : 'not_allowed' });
}
