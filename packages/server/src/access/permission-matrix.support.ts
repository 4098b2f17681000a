import { describe, expect, it } from 'vitest';
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

// ---------------------------------------------------------------- rows and cases

export type Outcome = 'ok' | 'not_found' | 'not_allowed' | 'hidden';
export type NodeRef = { type: 'folder' | 'entry'; id: string };

export interface NodeNeed {
  /** Where the grant is made, as the table says. */
  on: string;
  allow: VaultPermission[];
  grant?: VaultPermission[];
  /** The permission without which the node is invisible (404). */
  seeBy?: VaultPermission;
}

export interface Fixture {
  nodes: Record<string, NodeRef>;
  /** Runs after the case's grants are made (e.g. moves the item to the Archive). */
  arrange?: () => Promise<unknown>;
}

export interface Row<F extends Fixture = Fixture> {
  endpoint: string;
  needs: Record<string, NodeNeed>;
  /** Outcome when a permission is missing, if not the default ("node.perm" or "node.G:perm"). */
  missing?: Record<string, Outcome>;
  /** A filtered read: a missing permission leaves the item out of a successful answer. */
  listing?: boolean;
  okStatus: number;
  setup(h: MatrixHarness): Promise<F>;
  call(h: MatrixHarness, caller: Caller, fx: F): Promise<Response>;
  verify(h: MatrixHarness, caller: Caller, fx: F, res: Response, outcome: Outcome): Promise<void>;
}

export const row = <F extends Fixture>(r: Row<F>): Row => r as unknown as Row;
export const folderRef = (id: string): NodeRef => ({ type: 'folder', id });
export const entryRef = (id: string): NodeRef => ({ type: 'entry', id });
export const ok = (o: Outcome) => o === 'ok';

// ---------------------------------------------------------------- the cases

interface Item {
  node: string;
  flag: 'allow' | 'grant';
  perm: VaultPermission;
}

export const ALL = [...VAULT_PERMISSIONS];

function items(r: Row): Item[] {
  return Object.entries(r.needs).flatMap(([node, n]) => [
    ...n.allow.map((perm) => ({ node, flag: 'allow' as const, perm })),
    ...(n.grant ?? []).map((perm) => ({ node, flag: 'grant' as const, perm })),
  ]);
}

const label = (i: Item) => `${i.node}.${i.flag === 'grant' ? 'G:' : ''}${i.perm}`;

function missingOutcome(r: Row, i: Item): Outcome {
  const override = r.missing?.[label(i)];
  if (override) return override;
  if (r.listing) return 'hidden';
  return i.flag === 'allow' && r.needs[i.node]!.seeBy === i.perm ? 'not_found' : 'not_allowed';
}

function exactLevels(r: Row): Record<string, Flags> {
  return Object.fromEntries(
    Object.entries(r.needs).map(([node, n]) => [node, { allow: n.allow, grant: n.grant ?? [] }]),
  );
}

interface Case {
  name: string;
  levels: Record<string, Flags> | 'administrator';
  expected: Outcome;
}

function casesOf(r: Row): Case[] {
  const exact = exactLevels(r);
  const out: Case[] = [
    { name: 'exactly the required set: allowed', levels: exact, expected: 'ok' },
  ];
  for (const i of items(r)) {
    const expected = missingOutcome(r, i);
    const without = (list: readonly VaultPermission[], flag: Item['flag']) =>
      list.filter((p) => !(flag === i.flag && p === i.perm));
    const n = exact[i.node]!;
    out.push({
      name: `required set without ${label(i)}: ${expected}`,
      levels: {
        ...exact,
        [i.node]: { allow: without(n.allow, 'allow'), grant: without(n.grant, 'grant') },
      },
      expected,
    });
    out.push({
      name: `every permission but ${label(i)} on ${i.node}: ${expected}`,
      levels: {
        ...exact,
        [i.node]: { allow: without(ALL, 'allow'), grant: without(ALL, 'grant') },
      },
      expected,
    });
  }
  out.push({
    name: 'administrator without any grant: allowed',
    levels: 'administrator',
    expected: 'ok',
  });
  return out;
}

/**
 * The cases of one row as tests (in the caller's `describe`): a fresh user per case gets exactly
 * the case's grants, then calls; `expectRefusal` asserts the API's refusal shape.
 */
export function defineRowCases(
  r: Row,
  harness: () => MatrixHarness,
  expectRefusal: (res: Response, status: 404 | 403) => void,
): void {
  describe(r.endpoint, () => {
    for (const c of casesOf(r)) {
      it(c.name, async () => {
        const h = harness();
        const fx = await r.setup(h);
        let caller: Caller;
        if (c.levels === 'administrator') {
          caller = h.admin;
        } else {
          caller = await h.user();
          for (const [node, flags] of Object.entries(c.levels)) {
            if (flags.allow.length + flags.grant.length === 0) continue;
            await h.grant(fx.nodes[node]!, { type: 'user', id: caller.id }, await h.level(flags));
          }
        }
        await fx.arrange?.();
        await h.markAudit();
        const res = await r.call(h, caller, fx);
        if (c.expected === 'ok') expect(res.statusCode, res.body).toBe(r.okStatus);
        else if (c.expected === 'not_found') expectRefusal(res, 404);
        else if (c.expected === 'not_allowed') expectRefusal(res, 403);
        await r.verify(h, caller, fx, res, c.expected);
      });
    }
  });
}

/** A row's node is seen through View Folders (folders) or View Entry Names (entries). */
export const FOLDER_SEEN = { seeBy: 'viewFolders' } as const;
export const ENTRY_SEEN = { seeBy: 'viewEntryNames' } as const;

/** Entry in its own folder: Root/case/F/E. */
export async function entryCase(h: MatrixHarness, extra: Record<string, unknown> = {}) {
  const c = await h.caseFolder();
  const f = await h.folder(c);
  const e = await h.entry(f, extra);
  return { f, e };
}

/** Audit outcome shared by the rows that record denied attempts. */
export async function expectAudited(
  h: MatrixHarness,
  caller: Caller,
  event: string,
  outcome: Outcome,
  target: string,
): Promise<void> {
  const records = await h.audit(caller.loginName, event);
  const expected =
    outcome === 'ok'
      ? [['success', target]]
      : outcome === 'not_allowed'
        ? [['denied', target]]
        : [];
  expect(records.map((r) => [r.status, r.target])).toEqual(expected);
}
