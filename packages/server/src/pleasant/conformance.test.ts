import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NIL_UUID } from '@strongroom/protocol';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { createUser, login } from '../test-support/identity.js';
import { DEFAULT_CLIENT_RULE_ID } from '../clientconfig/service.js';
import { PleasantClient, expectErrorMessage, type Method } from './pleasant.support.js';

/**
 * Conformance of the Pleasant-compatible API, rules 6–12 of the wire specification and every
 * endpoint and model, replayed as real clients send requests: bare tokens, mixed-case paths,
 * trailing slashes, property names in any case, `{"Item": …}` bodies, DELETE with a body, the
 * legacy aliases. The vault is built by an administrator through the native API; what the
 * Pleasant calls did is read back through the native API or the database.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$/;
const b64 = (text: string) => Buffer.from(text).toString('base64');

const CREDENTIAL_KEYS = [
  'Attachments',
  'CommentPrompts',
  'Created',
  'CustomApplicationFields',
  'CustomUserFields',
  'Expires',
  'GroupId',
  'HasModifyEntriesAccess',
  'HasViewEntryContentsAccess',
  'Id',
  'Modified',
  'Name',
  'Notes',
  'Password',
  'Tags',
  'Url',
  'Username',
];
const V6_KEYS = [
  'HasModifyTOTPAccess',
  'HasViewEntryPasswordAccess',
  'HasViewTOTPAccess',
  'TOTPDigits',
  'TOTPIssuer',
  'TOTPPeriod',
  'TOTPSecret',
];
const FOLDER_KEYS = [
  'Children',
  'CommentPrompts',
  'Created',
  'Credentials',
  'CustomApplicationFields',
  'CustomUserFields',
  'Expires',
  'HasModifyEntriesAccess',
  'HasViewEntryContentsAccess',
  'Id',
  'Modified',
  'Name',
  'Notes',
  'ParentId',
  'Tags',
];
const PROMPT_KEYS = [
  'AskForCommentOnModifyEntries',
  'AskForCommentOnModifyFolders',
  'AskForCommentOnMoveEntries',
  'AskForCommentOnMoveFolders',
  'AskForCommentOnViewOffline',
  'AskForCommentOnViewPassword',
];

type Json = Record<string, any>;

/** Every property name of a Pleasant answer, except the keys of the two user-data maps. */
function propertyNames(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) propertyNames(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      if (k !== 'CustomUserFields' && k !== 'CustomApplicationFields') propertyNames(v, out);
    }
  }
  return out;
}

describe.each(DIALECTS)('Pleasant-compatible API conformance (%s)', (dialect) => {
  let ctx: TestContext;
  let p: PleasantClient;
  let p6: PleasantClient;
  /** Native token of the administrator (set-up), and their Pleasant token. */
  let adminNative: string;
  let admin: string;
  let adminUser: { id: string; loginName: string };
  let rootId: string;
  let n = 0;
  const unique = (prefix: string) => `${prefix}-${++n}`;

  const native = async <T = Json>(
    method: Method,
    url: string,
    payload?: unknown,
    status?: number,
  ): Promise<T> => {
    const res = await ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { authorization: `Bearer ${adminNative}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    const expected = status ?? (method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200);
    expect({
      url,
      status: res.statusCode,
      body: res.statusCode === expected ? '' : res.body,
    }).toEqual({
      url,
      status: expected,
      body: '',
    });
    return (res.body === '' ? undefined : res.json()) as T;
  };
  const folder = async (parentId: string, name = unique('F'), extra: Json = {}) =>
    (await native<{ id: string }>('POST', '/folders', { parentId, name, ...extra })).id;
  const entry = async (folderId: string, extra: Json = {}) => {
    const name = (extra.name as string | undefined) ?? unique('E');
    const password = testSecret('pw');
    const e = await native<Json>('POST', '/entries', {
      folderId,
      name,
      username: unique('user'),
      password,
      notes: `notes of ${name}`,
      ...extra,
    });
    return { ...e, password } as Json & { id: string; name: string; password: string };
  };
  const caseFolder = () => folder(rootId, unique('case'));
  const level = async (key: string) => ctx.services.access.builtinLevelId(key);
  const grant = async (
    node: { folder?: string; entry?: string },
    userId: string,
    levelKey: string,
    expiresAt?: string,
  ) =>
    native<{ id: string }>(
      'POST',
      node.folder ? `/folders/${node.folder}/access` : `/entries/${node.entry}/access`,
      {
        principalType: 'user',
        principalId: userId,
        accessLevelId: await level(levelKey),
        ...(expiresAt ? { expiresAt } : {}),
      },
    );
  /** A user with their Pleasant token. */
  const user = async () => {
    const u = await createUser(ctx.services, { loginName: unique('u') });
    return { ...u, token: await p.token(u.loginName, u.password) };
  };
  const audit = async (event: string, since: number) =>
    ctx.services.store.db
      .selectFrom('audit_log')
      .select(['login_name', 'status', 'target', 'details'])
      .where('event', '=', event)
      .where('seq', '>', since)
      .orderBy('seq')
      .execute();
  const lastSeq = async () =>
    Number(
      (
        await ctx.services.store.db
          .selectFrom('audit_log')
          .select('seq')
          .orderBy('seq', 'desc')
          .limit(1)
          .executeTakeFirst()
      )?.seq ?? 0,
    );

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    p = new PleasantClient(ctx);
    p6 = new PleasantClient(ctx, '/api/v6/rest');
    const a = await createUser(ctx.services, {
      loginName: 'conformance-admin',
      administrator: true,
    });
    adminUser = a;
    adminNative = await login(ctx.app, a.loginName, a.password);
    admin = await p.token(a.loginName, a.password);
    rootId = ctx.services.vault.rootId;
  });
  afterAll(async () => {
    await ctx.close();
  });

  // ---------------------------------------------------------------- rule 6: routing

  it('serves the same API under /api/v5/rest and /api/v6/rest', async () => {
    const f = await caseFolder();
    const e = await entry(f);
    for (const client of [p, p6]) {
      expect(await client.ok(admin, 'GET', '/folders/root')).toBe(rootId);
      expect(await client.ok(admin, 'GET', `/entries/${e.id}/password`)).toBe(e.password);
    }
    const v5 = await p.ok<Json>(admin, 'GET', `/entries/${e.id}`);
    const v6 = await p6.ok<Json>(admin, 'GET', `/entries/${e.id}`);
    expect(Object.keys(v5).sort()).toEqual(CREDENTIAL_KEYS);
    expect(Object.keys(v6).sort()).toEqual([...CREDENTIAL_KEYS, ...V6_KEYS].sort());
  });

  it('matches paths in any case and with a trailing slash; the native API stays case-sensitive', async () => {
    const e = await entry(await caseFolder());
    const upper = e.id.toUpperCase();
    for (const url of [
      `/api/v5/rest/entries/${e.id}/password`,
      `/API/V5/REST/ENTRIES/${upper}/PASSWORD`,
      `/Api/V6/Rest/Entries/${upper}/Password/`,
      `/api/v5/rest/Credential/${e.id}/password//`,
    ]) {
      const res = await ctx.app.inject({ method: 'GET', url, headers: { authorization: admin } });
      expect({ url, status: res.statusCode, body: res.body }).toEqual({
        url,
        status: 200,
        body: JSON.stringify(e.password),
      });
    }
    const nativeUpper = await ctx.app.inject({
      method: 'GET',
      url: '/API/V1/ME',
      headers: { authorization: `Bearer ${adminNative}` },
    });
    expect(nativeUpper.statusCode).toBe(404);
    expect(nativeUpper.json().error.code).toBe('not_found');
  });

  it('ignores X-Pleasant-Client-Identifier and Cache-Control request headers', async () => {
    const res = await p.call(admin, 'GET', '/folders/root', {
      headers: {
        'X-Pleasant-Client-Identifier': 'b1f8e0c2-1111-4222-8333-944455556666',
        'Cache-Control': 'no-cache, no-store',
      },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toBe(rootId);
  });

  // ---------------------------------------------------------------- rule 7: property names

  it('writes PascalCase property names everywhere', async () => {
    const f = await caseFolder();
    await entry(f, {
      tags: ['t'],
      customFields: [{ name: 'lowercase key', value: 'v', protected: false }],
      clientMeta: { iconId: '3' },
      attachments: [{ fileName: 'a.txt', data: b64('a') }],
    });
    const bodies = [
      await p6.ok(admin, 'GET', `/folders/${f}`),
      await p.ok(admin, 'GET', '/accesslevels'),
      await p.ok(admin, 'POST', '/search', { Search: 'notes of' }),
      await p.ok(admin, 'GET', '/getserverinfo'),
      await p.ok(admin, 'POST', '/passwordstrength', { Password: 'x' }),
    ];
    const names = bodies.flatMap((b) => propertyNames(b));
    expect(names.length).toBeGreaterThan(50);
    expect(names.filter((k) => !/^[A-Z]/.test(k))).toEqual([]);
  });

  it('reads property names in any case', async () => {
    const f = await caseFolder();
    const id = await p.ok<string>(admin, 'POST', '/entries', {
      NAME: 'mixed case',
      groupid: f,
      userName: 'svc-mixed',
      PASSWORD: 'pw-mixed',
      url: 'https://mixed.example',
      NoTeS: 'some notes',
      tags: [{ name: 'one' }, { NAME: 'two' }],
      customuserfields: { Field: 'value' },
      customApplicationFields: { IconId: '7' },
      expires: '2031-05-06T07:08:09Z',
    });
    const e = await native<Json>('GET', `/entries/${id}`);
    expect(e).toMatchObject({
      folderId: f,
      name: 'mixed case',
      username: 'svc-mixed',
      url: 'https://mixed.example',
      notes: 'some notes',
      tags: ['one', 'two'],
      customFields: [{ name: 'Field', value: 'value', protected: false }],
      clientMeta: { IconId: '7' },
      expiresAt: '2031-05-06T07:08:09.000Z',
    });
    expect(await p.ok(admin, 'GET', `/entries/${id}/password`)).toBe('pw-mixed');
    await p.ok(admin, 'PATCH', `/entries/${id}`, { name: 'renamed', USERNAME: 'svc-2' });
    expect(await native<Json>('GET', `/entries/${id}`)).toMatchObject({
      name: 'renamed',
      username: 'svc-2',
    });
  });

  // ---------------------------------------------------------------- rule 8: bare JSON strings

  it('answers ids and passwords as compact JSON strings, non-ASCII unescaped', async () => {
    const f = await caseFolder();
    const password = 'pässwörd ✓ 密码 "quoted" \\ slash';
    const created = await p.call(admin, 'POST', '/entries', {
      payload: { Name: 'unicode', GroupId: f, Password: password },
    });
    expect(created.statusCode).toBe(200);
    expect(created.headers['content-type']).toMatch(/^application\/json/);
    const id = created.json() as string;
    expect(created.body).toBe(`"${id}"`);
    const fetched = await p.call(admin, 'GET', `/entries/${id}/password`);
    expect(fetched.body).toBe(JSON.stringify(password));
    expect(fetched.body).toContain('ä');
    expect(fetched.body).toContain('密码');
    expect(fetched.body).not.toMatch(/\\u[0-9a-f]{4}/i);
    expect(fetched.rawPayload[0]).toBe(0x22); // no BOM, no whitespace
    const root = await p.call(admin, 'GET', '/folders/root');
    expect(root.body).toBe(`"${rootId}"`);
  });

  // ---------------------------------------------------------------- rule 9: status codes

  it('answers POST with 200 and the new id, PATCH, PUT and DELETE with 204 and no body', async () => {
    const f = await caseFolder();
    const post = await p.call(admin, 'POST', '/folders', { payload: { Name: 'sub', ParentId: f } });
    expect(post.statusCode).toBe(200);
    const sub = post.json() as string;
    expect(sub).toMatch(GUID);
    for (const [method, payload] of [
      ['PATCH', { Notes: 'patched' }],
      ['PUT', { Item: { Name: 'sub', Notes: 'put' } }],
      ['DELETE', { Action: 'Archive' }],
    ] as const) {
      const res = await p.call(admin, method, `/folders/${sub}`, { payload });
      expect({ method, status: res.statusCode, body: res.body }).toEqual({
        method,
        status: 204,
        body: '',
      });
    }
    const row = await ctx.services.store.db
      .selectFrom('folders')
      .select(['notes', 'archived_at'])
      .where('id', '=', sub)
      .executeTakeFirstOrThrow();
    expect(row.notes).toBe('put');
    expect(row.archived_at).not.toBeNull();
  });

  // ---------------------------------------------------------------- rule 10: DELETE bodies

  it('takes DELETE with {"Action": "Archive" | "Delete", "Comment"}: archive by default, delete for good on request', async () => {
    const f = await caseFolder();
    const [a, b, c, d, bad] = [
      await entry(f),
      await entry(f),
      await entry(f),
      await entry(f),
      await entry(f),
    ];
    const since = await lastSeq();
    const row = (id: string) =>
      ctx.services.store.db
        .selectFrom('entries')
        .select('archived_at')
        .where('id', '=', id)
        .executeTakeFirst();
    await p.ok(admin, 'DELETE', `/entries/${a.id}`, { Action: 'Archive', Comment: 'tidy' });
    expect((await row(a.id))!.archived_at).not.toBeNull();
    await p.ok(admin, 'DELETE', `/entries/${b.id}`, { action: 'delete', comment: 'gone' });
    expect(await row(b.id)).toBeUndefined();
    // No body at all: archived (the reversible choice).
    expect((await p.call(admin, 'DELETE', `/entries/${c.id}`)).statusCode).toBe(204);
    expect((await row(c.id))!.archived_at).not.toBeNull();
    // .NET clients may send the enum's number.
    await p.ok(admin, 'DELETE', `/credential/${d.id}`, { Action: 1 });
    expect(await row(d.id)).toBeUndefined();
    // An entry already in the Archive: Delete removes it.
    await p.ok(admin, 'DELETE', `/entries/${a.id}`, { Action: 'Delete' });
    expect(await row(a.id)).toBeUndefined();
    const refused = await p.call(admin, 'DELETE', `/entries/${bad.id}`, {
      payload: { Action: 'Shred' },
    });
    expect(expectErrorMessage(refused, 400)).toMatch(/^Action: /);
    expect((await row(bad.id))!.archived_at).toBeNull();

    const events = async (event: string) =>
      (await audit(event, since)).map((r) => r.target.split('/').pop());
    expect(await events('Entry Archived')).toEqual([a.name, b.name, c.name, d.name]);
    expect(await events('Entry Deleted')).toEqual([b.name, d.name, a.name]);

    // Folders alike: Delete on a live folder archives and deletes it with what is in it.
    const g = await folder(f);
    const inG = await entry(g);
    await p.ok(admin, 'DELETE', `/credentialgroup/${g}`, { Action: 'Delete' });
    expect(await row(inG.id)).toBeUndefined();
  });

  // ---------------------------------------------------------------- rule 11: ids, Root, dates

  it('names the root Root with the all-zero ParentId, writes lower-case GUIDs and dates with an offset', async () => {
    const tree = await p.ok<Json>(admin, 'GET', '/folders');
    expect(tree).toMatchObject({ Id: rootId, Name: 'Root', ParentId: NIL_UUID });
    const f = await caseFolder();
    const e = await entry(f, { expiresAt: '2030-01-02T03:04:05.000Z' });
    const got = await p.ok<Json>(admin, 'GET', `/entries/${e.id}`);
    expect(got.Id).toMatch(GUID);
    expect(got.GroupId).toBe(f);
    expect(got.Created).toMatch(DATE);
    expect(got.Modified).toMatch(DATE);
    expect(got.Expires).toBe('2030-01-02T03:04:05.000+00:00');
    const noExpiry = await p.ok<Json>(admin, 'GET', `/entries/${(await entry(f)).id}`);
    expect(noExpiry.Expires).toBeNull();
    // Input: offsets are honoured, a date-time without one is UTC, .NET's 7-digit fractions fit.
    await p.ok(admin, 'PATCH', `/entries/${e.id}`, { Expires: '2030-01-02T03:04:05+02:00' });
    expect((await native<Json>('GET', `/entries/${e.id}`)).expiresAt).toBe(
      '2030-01-02T01:04:05.000Z',
    );
    await p.ok(admin, 'PATCH', `/entries/${e.id}`, { Expires: '2030-06-07T08:09:10.1234567' });
    expect((await native<Json>('GET', `/entries/${e.id}`)).expiresAt).toBe(
      '2030-06-07T08:09:10.123Z',
    );
    await p.ok(admin, 'PATCH', `/entries/${e.id}`, { Expires: null });
    expect((await native<Json>('GET', `/entries/${e.id}`)).expiresAt).toBeNull();
    // GUIDs as .NET writes them are understood.
    for (const groupId of [f.toUpperCase(), `{${f}}`, f.replace(/-/g, '')]) {
      const id = await p.ok<string>(admin, 'POST', '/entries', {
        Name: unique('guid'),
        GroupId: groupId,
      });
      expect((await native<Json>('GET', `/entries/${id}`)).folderId).toBe(f);
    }
  });

  // ---------------------------------------------------------------- rule 12: errors

  it('answers 403 and 404 with {"error_message"}, the same 404 for a missing and a hidden entry', async () => {
    const f = await caseFolder();
    const visible = await entry(f);
    const hidden = await entry(await caseFolder());
    const reader = await user();
    await grant({ folder: f }, reader.id, 'read-only');
    const refused = await p.call(reader.token, 'PATCH', `/entries/${visible.id}`, {
      payload: { Name: 'not allowed' },
    });
    expectErrorMessage(refused, 403);
    const missing = await p.call(
      reader.token,
      'GET',
      '/entries/6f1c2a9e-0000-4000-8000-000000000001',
    );
    const invisible = await p.call(reader.token, 'GET', `/entries/${hidden.id}`);
    expectErrorMessage(missing, 404);
    expect(invisible.statusCode).toBe(404);
    expect(invisible.body).toBe(missing.body);
    const missingPw = await p.call(
      reader.token,
      'GET',
      '/entries/6f1c2a9e-0000-4000-8000-000000000001/password',
    );
    const invisiblePw = await p.call(reader.token, 'GET', `/entries/${hidden.id}/password`);
    expect(invisiblePw.body).toBe(missingPw.body);
    expect(invisiblePw.statusCode).toBe(404);
  });

  it('answers an unknown route or method with 404 {"Message"}', async () => {
    for (const [method, path] of [
      ['GET', '/nothing-here'],
      ['GET', '/entries'],
      ['DELETE', '/accesslevels'],
      ['POST', '/getserverinfo'],
      ['GET', ''],
    ] as const) {
      const res = await p.call(admin, method, path);
      expect({ method, path, status: res.statusCode, keys: Object.keys(res.json()) }).toEqual({
        method,
        path,
        status: 404,
        keys: ['Message'],
      });
    }
  });

  // ---------------------------------------------------------------- models

  it('always includes Attachments, Children and Credentials, and the CommentPrompts', async () => {
    const f = await caseFolder();
    const empty = await folder(f);
    const e = await entry(f);
    const nameOnly = await entry(f);
    const viewer = await user();
    // Names only on one entry, contents on none: its credential still has every member.
    const namesLevel = await native<{ id: string }>('POST', '/access-levels', {
      name: unique('names'),
      allow: ['viewFolders', 'viewEntryNames'],
      grant: [],
    });
    await native('POST', `/folders/${f}/access`, {
      principalType: 'user',
      principalId: viewer.id,
      accessLevelId: namesLevel.id,
    });
    const tree = await p6.ok<Json>(viewer.token, 'GET', `/folders/${f}`);
    expect(Object.keys(tree).sort()).toEqual(FOLDER_KEYS);
    expect(tree.Children.map((c: Json) => c.Id)).toEqual([empty]);
    const child = tree.Children[0];
    expect(Object.keys(child).sort()).toEqual(FOLDER_KEYS);
    expect(child.Children).toEqual([]);
    expect(child.Credentials).toEqual([]);
    expect(Object.keys(tree.CommentPrompts).sort()).toEqual(PROMPT_KEYS);
    const ids = tree.Credentials.map((c: Json) => c.Id).sort();
    expect(ids).toEqual([e.id, nameOnly.id].sort());
    for (const c of tree.Credentials) {
      expect(Object.keys(c).sort()).toEqual([...CREDENTIAL_KEYS, ...V6_KEYS].sort());
      expect(c).toMatchObject({
        Password: null,
        Username: null,
        Attachments: [],
        Tags: [],
        HasViewEntryContentsAccess: false,
        HasModifyEntriesAccess: false,
      });
    }
    const full = await p.ok<Json>(admin, 'GET', `/entries/${e.id}`);
    expect(full.Attachments).toEqual([]);
    expect(full.Password).toBeNull();
    expect(Object.values(full.CommentPrompts)).toEqual([false, false, false, false, false, false]);
  });

  it('maps tags, custom fields, client metadata and attachments both ways', async () => {
    const f = await caseFolder();
    const pin = testSecret('pin');
    const e = await entry(f, {
      tags: ['prod', 'db'],
      customFields: [
        { name: 'PIN', value: pin, protected: true },
        { name: 'Port', value: '5432', protected: false },
      ],
      clientMeta: { IconId: '12', ForegroundColor: '#FF0000', AutoTypeEnabled: 'True' },
      attachments: [{ fileName: 'key.pem', data: b64('-----BEGIN-----') }],
    });
    const got = await p6.ok<Json>(admin, 'GET', `/entries/${e.id}`);
    expect(got).toMatchObject({
      Tags: [{ Name: 'prod' }, { Name: 'db' }],
      CustomUserFields: { PIN: pin, Port: '5432' },
      CustomApplicationFields: {
        IconId: '12',
        ForegroundColor: '#FF0000',
        AutoTypeEnabled: 'True',
      },
      Attachments: [
        {
          CredentialObjectId: e.id,
          AttachmentId: e.attachments[0].id,
          FileName: 'key.pem',
          FileData: null,
          FileSize: 15,
        },
      ],
      HasViewEntryPasswordAccess: true,
      HasViewTOTPAccess: false,
      TOTPSecret: null,
    });
    const files = await p.ok<Json[]>(admin, 'GET', `/entries/${e.id}/attachments`);
    expect(files).toEqual([
      {
        CredentialObjectId: e.id,
        AttachmentId: e.attachments[0].id,
        FileName: 'key.pem',
        FileData: b64('-----BEGIN-----'),
        FileSize: 15,
      },
    ]);
    expect(await p.ok(admin, 'GET', `/entries/${e.id}/attachments/${e.attachments[0].id}`)).toEqual(
      files[0],
    );

    // Created with attachments through this API; custom fields keep their protection.
    const id = await p.ok<string>(admin, 'POST', '/entries', {
      Name: 'with file',
      GroupId: f,
      Attachments: [{ FileName: 'notes.txt', FileData: b64('hello') }],
      CustomUserFields: { Plain: 'x' },
    });
    expect((await native<Json>('GET', `/entries/${id}/attachments`)).attachments).toMatchObject([
      { fileName: 'notes.txt', size: 5 },
    ]);
    await p.ok(admin, 'PATCH', `/entries/${e.id}`, {
      CustomUserFields: { PIN: null, Port: '6432', New: 'n' },
    });
    expect((await native<Json>('GET', `/entries/${e.id}`)).customFields).toEqual([
      { name: 'PIN', value: pin, protected: true },
      { name: 'Port', value: '6432', protected: false },
      { name: 'New', value: 'n', protected: false },
    ]);
    // TOTP seeds on entries are refused, not dropped silently.
    const totp = await p6.call(admin, 'POST', '/entries', {
      payload: { Name: 'otp', GroupId: f, TOTPSecret: 'JBSWY3DPEHPK3PXP' },
    });
    expect(expectErrorMessage(totp, 400)).toMatch(/^TOTPSecret: /);
  });

  it('asks for a comment on offline use when the client settings require one', async () => {
    const e = await entry(await caseFolder());
    await native('PATCH', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`, {
      settings: { offlineCommentRequired: true },
    });
    try {
      const got = await p.ok<Json>(admin, 'GET', `/entries/${e.id}`);
      expect(got.CommentPrompts).toEqual({
        AskForCommentOnViewPassword: false,
        AskForCommentOnViewOffline: true,
        AskForCommentOnModifyEntries: false,
        AskForCommentOnMoveEntries: false,
        AskForCommentOnMoveFolders: false,
        AskForCommentOnModifyFolders: false,
      });
    } finally {
      await native('PATCH', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`, {
        settings: { offlineCommentRequired: false },
      });
    }
  });

  // ---------------------------------------------------------------- folders

  it('reads folders with recurseLevel, the whole tree, and the credentialgroup aliases', async () => {
    const f = await caseFolder();
    const a = await folder(f, 'A');
    const a1 = await folder(a, 'A1');
    const e = await entry(f);
    const deep = await entry(a1);
    const shape = (x: Json): Json => ({
      Id: x.Id,
      Credentials: x.Credentials.map((c: Json) => c.Id),
      Children: x.Children.map(shape),
    });
    expect(shape(await p.ok(admin, 'GET', `/folders/${f}?recurseLevel=0`))).toEqual({
      Id: f,
      Credentials: [e.id],
      Children: [],
    });
    expect(shape(await p.ok(admin, 'GET', `/folders/${f}?RECURSELEVEL=1`))).toEqual({
      Id: f,
      Credentials: [e.id],
      Children: [{ Id: a, Credentials: [], Children: [] }],
    });
    const whole = {
      Id: f,
      Credentials: [e.id],
      Children: [
        { Id: a, Credentials: [], Children: [{ Id: a1, Credentials: [deep.id], Children: [] }] },
      ],
    };
    expect(shape(await p.ok(admin, 'GET', `/folders/${f}`))).toEqual(whole);
    expect(shape(await p.ok(admin, 'GET', `/credentialgroup/${f}/`))).toEqual(whole);
    const bad = await p.call(admin, 'GET', `/folders/${f}?recurseLevel=many`);
    expect(expectErrorMessage(bad, 400)).toMatch(/^recurseLevel: /);

    const rootTree = await p.ok<Json>(admin, 'GET', '/folders');
    expect(rootTree.Id).toBe(rootId);
    expect(JSON.stringify(rootTree)).toContain(deep.id);
    const viaAlias = await p.call(admin, 'GET', '/credentialgroup/');
    expect(viaAlias.json().Id).toBe(rootId);
    expect(await p.ok(admin, 'GET', '/credentialgroup/root')).toBe(rootId);
    // Root's own level only.
    const top = await p.ok<Json>(admin, 'GET', '/folders?recurselevel=1');
    expect(top.Children.every((c: Json) => c.Children.length === 0)).toBe(true);
  });

  it('creates a folder from the input subset, ignoring Children, Credentials and Id', async () => {
    const f = await caseFolder();
    const id = await p.ok<string>(admin, 'POST', '/folders', {
      Id: '6f1c2a9e-0000-4000-8000-0000000000aa',
      Name: 'Databases',
      ParentId: f,
      Notes: 'folder notes',
      Expires: '2032-01-01T00:00:00+00:00',
      Tags: [{ Name: 'infra' }],
      CustomUserFields: { Owner: 'ops' },
      CustomApplicationFields: { IconId: '48' },
      Children: [{ Name: 'ignored child' }],
      Credentials: [{ Name: 'ignored credential' }],
    });
    expect(id).not.toBe('6f1c2a9e-0000-4000-8000-0000000000aa');
    const got = await p.ok<Json>(admin, 'GET', `/folders/${id}`);
    expect(got).toMatchObject({
      Id: id,
      Name: 'Databases',
      ParentId: f,
      Notes: 'folder notes',
      Expires: '2032-01-01T00:00:00.000+00:00',
      Tags: [{ Name: 'infra' }],
      CustomUserFields: { Owner: 'ops' },
      CustomApplicationFields: { IconId: '48' },
      Children: [],
      Credentials: [],
      HasModifyEntriesAccess: true,
      HasViewEntryContentsAccess: true,
    });
  });

  it('updates with PUT {"Item": …} and PATCH; a read-then-write round trip changes nothing', async () => {
    const f = await caseFolder();
    const e = await entry(f, {
      customFields: [{ name: 'PIN', value: testSecret('pin'), protected: true }],
      tags: ['keep'],
    });
    // Someone who may change the entry but not read its password sends back what they read.
    const editor = await user();
    const editLevel = await native<{ id: string }>('POST', '/access-levels', {
      name: unique('editor'),
      allow: ['viewFolders', 'viewEntryNames', 'viewEntryContents', 'modifyEntries'],
      grant: [],
    });
    await native('POST', `/folders/${f}/access`, {
      principalType: 'user',
      principalId: editor.id,
      accessLevelId: editLevel.id,
    });
    const read = await p6.ok<Json>(editor.token, 'GET', `/entries/${e.id}`);
    expect(read.CustomUserFields.PIN).toBeNull();
    await p6.ok(editor.token, 'PUT', `/entries/${e.id}`, { Item: read, Comment: 'no change' });
    const after = await native<Json>('GET', `/entries/${e.id}`);
    expect(after.version).toBe(1);
    expect(after.customFields).toEqual(e.customFields);
    expect(await p.ok(admin, 'GET', `/entries/${e.id}/password`)).toBe(e.password);

    // A PUT with a change: a new version, the password untouched (Password: null keeps it).
    await p6.ok(editor.token, 'PUT', `/entries/${e.id}`, {
      Item: { ...read, Notes: 'changed by PUT' },
    });
    await p.ok(editor.token, 'PATCH', `/entries/${e.id}`, { Url: 'https://patched.example' });
    const changed = await native<Json>('GET', `/entries/${e.id}`);
    expect(changed).toMatchObject({
      version: 3,
      notes: 'changed by PUT',
      url: 'https://patched.example',
      tags: ['keep'],
      customFields: e.customFields,
    });
    expect(await p.ok(admin, 'GET', `/entries/${e.id}/password`)).toBe(e.password);
    // A new password through PATCH.
    await p.ok(admin, 'PATCH', `/entries/${e.id}`, { Password: 'new-password' });
    expect(await p.ok(admin, 'GET', `/entries/${e.id}/password`)).toBe('new-password');
    // The body's Id must be the path's.
    const other = await p.call(admin, 'PATCH', `/entries/${e.id}`, {
      payload: { Id: '6f1c2a9e-0000-4000-8000-000000000001', Name: 'x' },
    });
    expect(expectErrorMessage(other, 400)).toMatch(/^Id: /);
  });

  it('moves entries (GroupId) and folders (ParentId) through PATCH and PUT, audited as moves', async () => {
    const f = await caseFolder();
    const from = await folder(f);
    const to = await folder(f);
    const e = await entry(from);
    const sub = await folder(from);
    const since = await lastSeq();
    await p.ok(admin, 'PATCH', `/entries/${e.id}`, { GroupId: to });
    await p.ok(admin, 'PUT', `/folders/${sub}`, { Item: { Name: 'moved', ParentId: to } });
    expect((await native<Json>('GET', `/entries/${e.id}`)).folderId).toBe(to);
    expect((await native<Json>('GET', `/folders/${sub}`)).folder).toMatchObject({
      parentId: to,
      name: 'moved',
    });
    expect((await audit('Entry Moved', since)).length).toBe(1);
    expect((await audit('Folder Moved', since)).length).toBe(1);
    expect((await audit('Folder Updated', since)).length).toBe(1);
    // Root keeps its all-zero parent; another folder cannot take it.
    await p.ok(admin, 'PATCH', `/folders/${rootId}`, { ParentId: NIL_UUID });
    const bad = await p.call(admin, 'PATCH', `/folders/${to}`, { payload: { ParentId: NIL_UUID } });
    expect(expectErrorMessage(bad, 400)).toMatch(/^ParentId: /);
  });

  // ---------------------------------------------------------------- access levels and user access

  it('lists access levels with Pleasant permission names and Grant twins', async () => {
    const levels = await p.ok<Json[]>(admin, 'GET', '/accesslevels');
    const perms = [
      'ViewFolders',
      'ViewEntryNames',
      'ViewEntryContents',
      'ViewEntryPassword',
      'ViewOffline',
      'ViewEntryHistory',
      'AddEntries',
      'AddFolders',
      'ModifyEntries',
      'ModifyFolderNames',
      'MoveEntries',
      'MoveFolders',
      'ArchiveEntries',
      'ArchiveFolders',
      'DeleteEntries',
      'DeleteFolders',
      'SetBlockInheritance',
      'ViewSecurity',
    ];
    for (const l of levels) {
      expect(Object.keys(l).sort()).toEqual(
        [
          'Id',
          'Name',
          'Description',
          'IsBuiltIn',
          ...perms,
          ...perms.map((x) => `Grant${x}`),
        ].sort(),
      );
    }
    const byName = (name: string) => levels.find((l) => l.Name === name)!;
    expect(byName('Full').ViewOffline).toBe(false);
    expect(byName('Full + Offline').ViewOffline).toBe(true);
    expect(byName('Read-Only')).toMatchObject({
      ViewEntryPassword: true,
      ModifyEntries: false,
      ViewSecurity: true,
    });
    const grantOnly = byName('Grant Only');
    expect(perms.every((x) => grantOnly[x] === false && grantOnly[`Grant${x}`] === true)).toBe(
      true,
    );
    expect(byName('Full + Grant')).toMatchObject({
      GrantViewOffline: false,
      GrantViewFolders: true,
    });
  });

  it('serves user access rows only when an administrator has turned it on', async () => {
    const f = await caseFolder();
    const e = await entry(f);
    const target = await createUser(ctx.services, { loginName: unique('target') });
    const existing = await grant({ folder: f }, target.id, 'read-only');
    const readOnly = await level('read-only');
    const grantsOf = async () =>
      (
        await ctx.services.store.db
          .selectFrom('grants')
          .select('id')
          .where('principal_id', '=', target.id)
          .execute()
      ).map((g) => g.id);

    // Off by default: every user access call is a 403 and changes nothing.
    expect(await native('GET', '/settings/pleasant-api')).toEqual({ userAccessEnabled: false });
    for (const [method, path, payload] of [
      ['GET', `/folders/${f}/useraccess`, undefined],
      ['GET', `/credential/${e.id}/useraccess`, undefined],
      ['POST', `/entries/${e.id}/useraccess`, { UserId: target.id, PermissionSetId: readOnly }],
      ['DELETE', `/credentialgroup/${f}/useraccess/${existing.id}`, undefined],
    ] as const) {
      const res = await p.call(admin, method, path, payload ? { payload } : {});
      expect(expectErrorMessage(res, 403)).toMatch(/not enabled/);
    }
    expect(await grantsOf()).toEqual([existing.id]);

    // Only someone who manages access levels may turn it on; it is audited.
    const plain = await createUser(ctx.services, { loginName: unique('plain') });
    const plainNative = await login(ctx.app, plain.loginName, plain.password);
    const denied = await ctx.app.inject({
      method: 'PATCH',
      url: '/api/v1/settings/pleasant-api',
      headers: { authorization: `Bearer ${plainNative}` },
      payload: { userAccessEnabled: true },
    });
    expect(denied.statusCode).toBe(403);
    const since = await lastSeq();
    expect(await native('PATCH', '/settings/pleasant-api', { userAccessEnabled: true })).toEqual({
      userAccessEnabled: true,
    });
    expect(await audit('Server Settings Changed', since)).toMatchObject([
      { login_name: adminUser.loginName, status: 'success', target: 'Pleasant-compatible API' },
    ]);
    try {
      const rows = await p.ok<Json[]>(admin, 'GET', `/entries/${e.id}/useraccess`);
      expect(rows).toContainEqual({
        Id: existing.id,
        UserId: target.id,
        RoleId: null,
        PrincipalName: target.loginName,
        PermissionSetId: readOnly,
        PermissionSetName: 'Read-Only',
        AccessExpiry: null,
        CredentialGroupId: f,
        CredentialObjectId: null,
        IsInherited: true,
        Created: expect.stringMatching(DATE),
      });
      const expiry = new Date(ctx.clock.now() + 86_400_000).toISOString();
      const added = await p.ok<Json>(admin, 'POST', `/entries/${e.id}/useraccess`, {
        userId: target.id,
        permissionSetId: readOnly,
        accessExpiry: expiry,
      });
      expect(added).toMatchObject({
        UserId: target.id,
        CredentialObjectId: e.id,
        IsInherited: false,
        AccessExpiry: expiry.replace('Z', '+00:00'),
      });
      expect((await grantsOf()).sort()).toEqual([existing.id, added.Id].sort());
      const role = await native<{ id: string }>('POST', '/roles', { name: unique('role') });
      const byRole = await p.ok<Json>(admin, 'POST', `/folders/${f}/useraccess`, {
        RoleId: role.id,
        PermissionSetId: readOnly,
      });
      expect(byRole).toMatchObject({ RoleId: role.id, UserId: null, CredentialGroupId: f });
      await p.ok(admin, 'DELETE', `/entries/${e.id}/useraccess/${added.Id}`, { Action: 'Delete' });
      expect(await grantsOf()).toEqual([existing.id]);
      // Inherited rows are removed where they were made (as the native API says).
      const inherited = await p.call(admin, 'DELETE', `/entries/${e.id}/useraccess/${existing.id}`);
      expectErrorMessage(inherited, 409);
      // Both principals, or none: a 400 naming the field.
      const both = await p.call(admin, 'POST', `/folders/${f}/useraccess`, {
        payload: { UserId: target.id, RoleId: role.id, PermissionSetId: readOnly },
      });
      expect(expectErrorMessage(both, 400)).toMatch(/^UserId: /);
      const past = await p.call(admin, 'POST', `/folders/${f}/useraccess`, {
        payload: {
          UserId: target.id,
          PermissionSetId: readOnly,
          AccessExpiry: '2001-01-01T00:00:00Z',
        },
      });
      expect(expectErrorMessage(past, 400)).toMatch(/^AccessExpiry: /);
    } finally {
      await native('PATCH', '/settings/pleasant-api', { userAccessEnabled: false });
    }
    expectErrorMessage(await p.call(admin, 'GET', `/folders/${f}/useraccess`), 403);
  });

  // ---------------------------------------------------------------- search

  it('searches names, usernames, URLs, tags and notes case-insensitively; Path and FullPath end with a slash', async () => {
    const f = await caseFolder();
    const ops = await folder(f, 'Ops-Search');
    const dbs = await folder(ops, 'Databases');
    const word = unique('zebra').toUpperCase();
    const byName = await entry(dbs, { name: `${word} name` });
    const byUser = await entry(dbs, { username: `svc-${word.toLowerCase()}` });
    const byUrl = await entry(dbs, { url: `https://${word.toLowerCase()}.example` });
    const byTag = await entry(dbs, { tags: [word.toLowerCase()] });
    const byNotes = await entry(dbs, { notes: `mentions ${word.toLowerCase()} here` });
    await entry(dbs, { name: 'unrelated' });
    const sub = await folder(dbs, `${word} folder`);
    const casePath = (await native<Json>('GET', `/folders/${f}`)).folder.path as string;
    for (const key of ['Search', 'search', 'SEARCH']) {
      const res = await p.ok<Json>(admin, 'POST', '/search', { [key]: word.toLowerCase() });
      expect(Object.keys(res).sort()).toEqual(['Credentials', 'Groups']);
      expect(res.Credentials.map((c: Json) => c.Id).sort()).toEqual(
        [byName.id, byUser.id, byUrl.id, byTag.id, byNotes.id].sort(),
      );
      for (const c of res.Credentials) {
        expect(Object.keys(c).sort()).toEqual([
          'GroupId',
          'Id',
          'Name',
          'Notes',
          'Path',
          'Url',
          'Username',
        ]);
        expect(c.Path).toBe(`${casePath}/Ops-Search/Databases/`);
        expect(c.GroupId).toBe(dbs);
      }
      expect(res.Groups).toEqual([
        {
          Id: sub,
          Name: `${word} folder`,
          FullPath: `${casePath}/Ops-Search/Databases/${word} folder/`,
        },
      ]);
    }
    const empty = await p.call(admin, 'POST', '/search', { payload: { Search: '' } });
    expect(expectErrorMessage(empty, 400)).toMatch(/^Search: /);
  });

  // ---------------------------------------------------------------- the rest

  it('answers GetServerInfo and passwordstrength', async () => {
    const info = await p.ok<Json>(admin, 'GET', '/GetServerInfo');
    expect(info).toMatchObject({
      ServerVersion: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+$/),
      ProductName: 'Strongroom',
      ServerId: ctx.services.serverId,
    });
    const rate = async (password: string) =>
      p.ok<{ Score: number; Description: string }>(admin, 'POST', '/PasswordStrength', {
        password,
      });
    const common = await rate('password');
    const short = await rate('abc');
    const strong = await rate(testSecret('Strong-Password') + '-x7#Qv!9@Lr');
    expect(Object.keys(strong).sort()).toEqual(['Description', 'Score']);
    expect(common).toEqual({ Score: 0, Description: 'Very weak' });
    expect(short.Score).toBeLessThan(30);
    expect(strong.Score).toBeGreaterThanOrEqual(90);
    expect(strong.Description).toBe('Very strong');
    expectErrorMessage(await p.call(admin, 'POST', '/passwordstrength', { payload: {} }), 400);
  });

  it('makes the offline package of the native API, in Pleasant JSON, registered and audited the same way', async () => {
    const f = await caseFolder();
    const offline = await folder(f, 'Offline');
    const online = await folder(f, 'Online');
    const a = await entry(offline, {
      attachments: [{ fileName: 'a.bin', data: b64('bytes of a') }],
    });
    const b = await entry(offline, {
      customFields: [{ name: 'PIN', value: '1234', protected: true }],
    });
    await entry(online);
    const traveller = await user();
    await grant({ folder: offline }, traveller.id, 'full-offline');
    await grant({ folder: online }, traveller.id, 'read-only');
    // A time-limited Full + Offline does not make anything eligible (as in the native package).
    await grant(
      { folder: online },
      traveller.id,
      'full-offline',
      new Date(ctx.clock.now() + 3_600_000).toISOString(),
    );

    const since = await lastSeq();
    const res = await p6.call(traveller.token, 'POST', '/OfflinePackage', {
      payload: { Comment: 'flight to Lisbon' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const pkg = res.json() as Json;
    expect(Object.keys(pkg).sort()).toEqual(['Attachments', 'Expiry', 'Root']);
    expect(pkg.Expiry).toBeNull();
    expect(pkg.Root).toMatchObject({ Id: rootId, Name: 'Root', ParentId: NIL_UUID });
    const credentials: Json[] = [];
    const walk = (x: Json) => {
      expect(Object.keys(x).sort()).toEqual(FOLDER_KEYS);
      credentials.push(...x.Credentials);
      x.Children.forEach(walk);
    };
    walk(pkg.Root);
    expect(credentials.map((c) => c.Id).sort()).toEqual([a.id, b.id].sort());
    expect(credentials.find((c) => c.Id === a.id)).toMatchObject({
      Password: a.password,
      HasModifyEntriesAccess: false,
    });
    expect(credentials.find((c) => c.Id === b.id)).toMatchObject({
      Password: b.password,
      CustomUserFields: { PIN: '1234' },
    });
    expect(pkg.Attachments).toEqual([
      {
        CredentialObjectId: a.id,
        AttachmentId: a.attachments[0].id,
        FileName: 'a.bin',
        FileData: b64('bytes of a'),
        FileSize: 10,
      },
    ]);
    // One Offline Sync record per entry, labelled as this API's cache, with the comment.
    const syncs = await audit('Offline Sync', since);
    expect(syncs.map((s) => JSON.parse(s.details).entryId).sort()).toEqual([a.id, b.id].sort());
    for (const s of syncs) {
      expect(JSON.parse(s.details)).toMatchObject({
        clientLabel: 'pleasant-api',
        comment: 'flight to Lisbon',
      });
    }
    const caches = await ctx.services.store.db
      .selectFrom('offline_caches')
      .select(['id', 'client_label', 'status', 'entry_count'])
      .where('user_id', '=', traveller.id)
      .execute();
    expect(caches).toMatchObject([
      { client_label: 'pleasant-api', status: 'active', entry_count: 2 },
    ]);

    // The native package of the same user holds the same entries.
    const nativePkg = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/offline/package',
      headers: { authorization: `Bearer ${traveller.token}` },
      payload: { clientLabel: 'native' },
    });
    expect(
      nativePkg
        .json()
        .entries.map((x: Json) => x.id)
        .sort(),
    ).toEqual([a.id, b.id].sort());

    // A second package supersedes the first of this API.
    await p.ok(traveller.token, 'POST', '/offlinepackage', {});
    const after = await ctx.services.store.db
      .selectFrom('offline_caches')
      .select(['id', 'status'])
      .where('id', '=', caches[0]!.id)
      .executeTakeFirstOrThrow();
    expect(after.status).toBe('cleared');

    // With the comment required by the client settings, none is a 400; with Expire Cache After, an Expiry.
    await native('PATCH', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`, {
      settings: { offlineCommentRequired: true, expireCacheAfterDays: 7 },
    });
    try {
      const noComment = await p.call(traveller.token, 'POST', '/offlinepackage');
      expect(expectErrorMessage(noComment, 400)).toMatch(/^Comment: /);
      const blank = await p.call(traveller.token, 'POST', '/offlinepackage', {
        payload: { Comment: '   ' },
      });
      expect(expectErrorMessage(blank, 400)).toMatch(/^Comment: /);
      const long = await p.call(traveller.token, 'POST', '/offlinepackage', {
        payload: { Comment: 'x'.repeat(1001) },
      });
      expect(expectErrorMessage(long, 400)).toBe('Comment: At most 1000 characters.');
      const dated = await p.ok<Json>(traveller.token, 'POST', '/offlinepackage', {
        Comment: 'trip',
      });
      expect(dated.Expiry).toBe(
        new Date(ctx.clock.now() + 7 * 86_400_000).toISOString().replace('Z', '+00:00'),
      );
    } finally {
      await native('PATCH', `/client-config/rules/${DEFAULT_CLIENT_RULE_ID}`, {
        settings: { offlineCommentRequired: false, expireCacheAfterDays: null },
      });
    }

    // Nothing eligible: 403, nothing registered or audited.
    const stayAtHome = await user();
    await grant({ folder: offline }, stayAtHome.id, 'full');
    const before = await lastSeq();
    expectErrorMessage(await p.call(stayAtHome.token, 'POST', '/offlinepackage'), 403);
    expect(await audit('Offline Sync', before)).toEqual([]);
  });
});
