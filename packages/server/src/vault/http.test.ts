import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { adminToken, createUser, login } from '../test-support/identity.js';
import { auditRecords, grant } from '../test-support/vault.js';

const UNKNOWN = '6f1c2a9e-0000-4000-8000-000000000001';
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

describe.each(DIALECTS)('vault HTTP API (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: string;
  let alice: { id: string; token: string };
  let rootId: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, {
      config: { bodyLimitBytes: 64 * 1024, attachmentLimitBytes: 2048 },
    });
    admin = await adminToken(ctx);
    const u = await createUser(ctx.services, { loginName: 'alice@corp.example' });
    alice = { id: u.id, token: await login(ctx.app, u.loginName, u.password) };
    rootId = ctx.services.vault.rootId;
  });
  afterAll(async () => {
    await ctx.close();
  });

  const call = (
    token: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
  ) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}),
      },
      ...(body === undefined ? {} : { payload: body as string | object }),
    });

  async function state(): Promise<Record<string, number>> {
    const db = ctx.services.store.db;
    const out: Record<string, number> = {};
    for (const t of ['folders', 'entries', 'entry_versions', 'attachments', 'grants'] as const) {
      out[t] = (await db.selectFrom(t).select('id').execute()).length;
    }
    out.audit = (await db.selectFrom('audit_log').select('seq').execute()).length;
    const entries = await db.selectFrom('entries').select(['id', 'version', 'name']).execute();
    out.entryState = JSON.stringify(entries.sort((a, b) => (a.id < b.id ? -1 : 1))).length;
    out.versions = entries.reduce((n, e) => n + e.version, 0);
    return out;
  }

  it('serves the whole life of an entry, never with its password outside /password', async () => {
    const password = testSecret('pw');
    const secretField = testSecret('cf');
    const f = await call(admin, 'POST', '/folders', {
      parentId: rootId,
      name: 'Ops',
      tags: ['team'],
      clientMeta: { IconId: 1 },
    });
    expect(f.statusCode).toBe(201);
    const folder = f.json();
    expect(folder).toMatchObject({ path: 'Root/Ops', visible: true, tags: ['team'] });

    const created = await call(admin, 'POST', '/entries', {
      folderId: folder.id,
      name: 'vpn',
      username: 'ops',
      password,
      url: 'https://vpn.corp.example',
      notes: 'the notes',
      tags: ['net'],
      customFields: [
        { name: 'port', value: '1194', protected: false },
        { name: 'psk', value: secretField, protected: true },
      ],
      clientMeta: { IconId: 29, BackgroundColor: '#123456', AutoTypeEnabled: true },
      expiresAt: '2032-01-01T00:00:00Z',
      attachments: [{ fileName: 'vpn.conf', data: b64('remote vpn.corp.example') }],
    });
    expect(created.statusCode).toBe(201);
    const entry = created.json();
    expect(entry).not.toHaveProperty('password');
    expect(created.body).not.toContain(password);
    expect(entry).toMatchObject({
      path: 'Root/Ops/vpn',
      expiresAt: '2032-01-01T00:00:00.000Z',
      clientMeta: { IconId: 29, BackgroundColor: '#123456', AutoTypeEnabled: true },
      customFields: [
        { name: 'port', value: '1194', protected: false },
        { name: 'psk', value: secretField, protected: true },
      ],
    });

    const details = await call(admin, 'GET', `/entries/${entry.id}`);
    expect(details.statusCode).toBe(200);
    expect(details.json()).toEqual(entry);
    expect(details.body).not.toContain(password);

    const fetched = (await auditRecords(ctx.services, 'Password Fetched')).length;
    for (let i = 0; i < 2; i++) {
      const pw = await call(admin, 'GET', `/entries/${entry.id}/password`);
      expect(pw.statusCode).toBe(200);
      expect(pw.json()).toEqual({ password });
    }
    const records = (await auditRecords(ctx.services, 'Password Fetched')).slice(fetched);
    expect(records.map((r) => [r.status, r.target])).toEqual([
      ['success', 'Root/Ops/vpn'],
      ['success', 'Root/Ops/vpn'],
    ]);

    const tree = await call(admin, 'GET', '/vault/tree');
    expect(tree.statusCode).toBe(200);
    expect(tree.body).not.toContain(password);
    expect(tree.body).not.toContain(secretField);
    expect(tree.json().entries).toContainEqual(
      expect.objectContaining({ id: entry.id, name: 'vpn', username: 'ops' }),
    );
    const search = await call(admin, 'GET', '/vault/search?q=VPN.CORP');
    expect(search.statusCode).toBe(200);
    expect(search.json().entries.map((e: { id: string }) => e.id)).toEqual([entry.id]);
    expect(search.body).not.toContain(password);

    const patched = await call(admin, 'PATCH', `/entries/${entry.id}`, { notes: 'new notes' });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ version: 2, notes: 'new notes', username: 'ops' });

    const atts = await call(admin, 'GET', `/entries/${entry.id}/attachments`);
    const attId = atts.json().attachments[0].id;
    const dl = await call(admin, 'GET', `/entries/${entry.id}/attachments/${attId}`);
    expect(dl.statusCode).toBe(200);
    expect(dl.json()).toMatchObject({
      id: attId,
      fileName: 'vpn.conf',
      size: 23,
      data: b64('remote vpn.corp.example'),
    });
    const added = await call(admin, 'POST', `/entries/${entry.id}/attachments`, {
      fileName: 'ca.pem',
      data: b64('cert'),
    });
    expect(added.statusCode).toBe(201);
    expect(
      (await call(admin, 'DELETE', `/entries/${entry.id}/attachments/${attId}`)).statusCode,
    ).toBe(204);

    const hist = await call(admin, 'GET', `/entries/${entry.id}/history`);
    expect(hist.statusCode).toBe(200);
    expect(hist.json().versions.map((v: { version: number }) => v.version)).toEqual([4, 3, 2, 1]);
    const v1 = await call(admin, 'GET', `/entries/${entry.id}/history/1`);
    expect(v1.json()).toMatchObject({ version: 1, notes: 'the notes', hasPassword: true });
    expect(v1.body).not.toContain(password);
    const v1pw = await call(admin, 'GET', `/entries/${entry.id}/history/1/password`);
    expect(v1pw.json()).toEqual({ password });
    const restored = await call(admin, 'POST', `/entries/${entry.id}/history/1/restore`);
    expect(restored.statusCode).toBe(200);
    expect(restored.json()).toMatchObject({ version: 5, notes: 'the notes' });
    expect(restored.json().attachments.map((a: { id: string }) => a.id)).toEqual([attId]);

    const other = (
      await call(admin, 'POST', '/folders', { parentId: rootId, name: 'Other' })
    ).json();
    const moved = await call(admin, 'POST', `/entries/${entry.id}/move`, { folderId: other.id });
    expect(moved.json()).toEqual({
      id: entry.id,
      folderId: other.id,
      name: 'vpn',
      path: 'Root/Other/vpn',
    });
    expect((await call(admin, 'POST', `/entries/${entry.id}/archive`)).statusCode).toBe(204);
    const archive = await call(admin, 'GET', '/vault/archive');
    expect(archive.json().entries.map((e: { id: string }) => e.id)).toEqual([entry.id]);
    const back = await call(admin, 'POST', `/entries/${entry.id}/restore`, { folderId: folder.id });
    expect(back.json().path).toBe('Root/Ops/vpn');
    expect((await call(admin, 'POST', `/entries/${entry.id}/archive`)).statusCode).toBe(204);
    expect((await call(admin, 'DELETE', `/entries/${entry.id}`)).statusCode).toBe(204);
    expect((await call(admin, 'GET', `/entries/${entry.id}`)).statusCode).toBe(404);

    // Folders: view, edit, move, archive, restore, delete.
    const view = await call(admin, 'GET', `/folders/${folder.id}`);
    expect(view.json()).toMatchObject({ folder: { id: folder.id }, children: [], entries: [] });
    const renamed = await call(admin, 'PATCH', `/folders/${folder.id}`, { name: 'Operations' });
    expect(renamed.json().path).toBe('Root/Operations');
    const mv = await call(admin, 'POST', `/folders/${folder.id}/move`, { parentId: other.id });
    expect(mv.json().path).toBe('Root/Other/Operations');
    expect(
      (await call(admin, 'POST', `/folders/${other.id}/move`, { parentId: folder.id })).statusCode,
    ).toBe(409);
    expect((await call(admin, 'POST', `/folders/${folder.id}/archive`)).statusCode).toBe(204);
    const rf = await call(admin, 'POST', `/folders/${folder.id}/restore`, { parentId: rootId });
    expect(rf.json().path).toBe('Root/Operations');
    expect((await call(admin, 'DELETE', `/folders/${folder.id}`)).statusCode).toBe(409);
    expect((await call(admin, 'POST', `/folders/${folder.id}/archive`)).statusCode).toBe(204);
    expect((await call(admin, 'DELETE', `/folders/${folder.id}`)).statusCode).toBe(204);
  });

  it('answers invisible things exactly like unknown ones, and audits a refused fetch', async () => {
    const folder = (
      await call(admin, 'POST', '/folders', { parentId: rootId, name: 'Secret' })
    ).json();
    const entry = (
      await call(admin, 'POST', '/entries', {
        folderId: folder.id,
        name: 'hidden',
        password: testSecret(),
      })
    ).json();
    for (const url of [
      `/entries/${entry.id}`,
      `/entries/${entry.id}/password`,
      `/entries/${entry.id}/history`,
      `/entries/${entry.id}/attachments`,
    ]) {
      const hidden = await call(alice.token, 'GET', url);
      const unknown = await call(alice.token, 'GET', url.replace(entry.id, UNKNOWN));
      expect([hidden.statusCode, hidden.body]).toEqual([404, unknown.body]);
    }
    const hiddenFolder = await call(alice.token, 'GET', `/folders/${folder.id}`);
    const unknownFolder = await call(alice.token, 'GET', `/folders/${UNKNOWN}`);
    expect([hiddenFolder.statusCode, hiddenFolder.body]).toEqual([404, unknownFolder.body]);
    const hiddenPatch = await call(alice.token, 'PATCH', `/entries/${entry.id}`, { name: 'x' });
    const unknownPatch = await call(alice.token, 'PATCH', `/entries/${UNKNOWN}`, { name: 'x' });
    expect([hiddenPatch.statusCode, hiddenPatch.body]).toEqual([404, unknownPatch.body]);

    // Visible without View Entry Password: 403, audited as denied.
    const level = await ctx.services.store.db
      .insertInto('access_levels')
      .values({
        id: '6f1c2a9e-0000-4000-8000-0000000000aa',
        name: 'Contents',
        name_key: 'contents',
        description: '',
        builtin_key: null,
        allow: JSON.stringify(['viewFolders', 'viewEntryNames', 'viewEntryContents']),
        grant_flags: '[]',
        created_at: ctx.clock.now(),
        updated_at: ctx.clock.now(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await grant(ctx.services, { node: folder.id, to: alice.id, level: level.id });
    expect((await call(alice.token, 'GET', `/entries/${entry.id}`)).statusCode).toBe(200);
    const refused = await call(alice.token, 'GET', `/entries/${entry.id}/password`);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('not_allowed');
    const last = (await auditRecords(ctx.services, 'Password Fetched')).at(-1)!;
    expect([last.login_name, last.status, last.target]).toEqual([
      'alice@corp.example',
      'denied',
      'Root/Secret/hidden',
    ]);
    expect(
      (await call(alice.token, 'PATCH', `/entries/${entry.id}`, { name: 'x' })).statusCode,
    ).toBe(403);
  });

  it('refuses bad input on every route with 400 and the field, and changes nothing', async () => {
    const folder = (
      await call(admin, 'POST', '/folders', { parentId: rootId, name: 'Inputs' })
    ).json();
    const entry = (
      await call(admin, 'POST', '/entries', {
        folderId: folder.id,
        name: 'target',
        password: testSecret(),
      })
    ).json();
    const attId = (
      await call(admin, 'POST', `/entries/${entry.id}/attachments`, {
        fileName: 'a',
        data: b64('a'),
      })
    ).json().id;
    const before = await state();
    const E = `/entries/${entry.id}`;
    const F = `/folders/${folder.id}`;
    const cases: Array<[string, 'GET' | 'POST' | 'PATCH' | 'DELETE', string, unknown]> = [
      ['/name', 'POST', '/folders', { parentId: rootId, name: 'a/b' }],
      ['/name', 'POST', '/folders', { parentId: rootId, name: '' }],
      ['/parentId', 'POST', '/folders', { parentId: 'root', name: 'x' }],
      ['/parentId', 'POST', '/folders', { name: 'x' }],
      ['/color', 'POST', '/folders', { parentId: rootId, name: 'x', color: 'red' }],
      ['/tags/0', 'POST', '/folders', { parentId: rootId, name: 'x', tags: [''] }],
      ['/name', 'PATCH', F, { name: 5 }],
      ['/expiresAt', 'PATCH', F, { expiresAt: 'next week' }],
      ['/parentId', 'POST', `${F}/move`, {}],
      ['/parentId', 'POST', `${F}/restore`, { parentId: 42 }],
      ['/folderId', 'POST', '/entries', { name: 'x' }],
      ['/name', 'POST', '/entries', { folderId: folder.id, name: 'x'.repeat(256) }],
      ['/tags', 'POST', '/entries', { folderId: folder.id, name: 'x', tags: 'a' }],
      [
        '/customFields/0/protected',
        'POST',
        '/entries',
        { folderId: folder.id, name: 'x', customFields: [{ name: 'a', value: 'b' }] },
      ],
      [
        '/clientMeta/icon',
        'POST',
        '/entries',
        { folderId: folder.id, name: 'x', clientMeta: { icon: { id: 1 } } },
      ],
      [
        '/clientMeta',
        'POST',
        '/entries',
        {
          folderId: folder.id,
          name: 'x',
          clientMeta: { a: 'x'.repeat(6000), b: 'x'.repeat(6000), c: 'x'.repeat(6000) },
        },
      ],
      ['/expiresAt', 'POST', '/entries', { folderId: folder.id, name: 'x', expiresAt: 'soon' }],
      [
        '/attachments/0/data',
        'POST',
        '/entries',
        { folderId: folder.id, name: 'x', attachments: [{ fileName: 'f', data: '!!!' }] },
      ],
      ['/password', 'PATCH', E, { password: 7 }],
      ['/url', 'PATCH', E, { url: 'x'.repeat(3000) }],
      ['/folderId', 'POST', `${E}/move`, { folderId: 'elsewhere' }],
      ['/folderId', 'POST', `${E}/restore`, {}],
      ['/data', 'POST', `${E}/attachments`, { fileName: 'a' }],
      ['/fileName', 'POST', `${E}/attachments`, { fileName: 'a/b', data: '' }],
      ['/id', 'GET', '/entries/not-an-id', undefined],
      ['/attachmentId', 'GET', `${E}/attachments/xyz`, undefined],
      ['/version', 'GET', `${E}/history/0`, undefined],
      ['/version', 'POST', `${E}/history/abc/restore`, undefined],
      ['/q', 'GET', '/vault/search', undefined],
      ['/q', 'GET', `/vault/search?q=${'x'.repeat(201)}`, undefined],
      ['/userId', 'POST', '/users/bob/private-folder', undefined],
    ];
    const failures: string[] = [];
    for (const [field, method, url, body] of cases) {
      const res = await call(admin, method, url, body);
      const got =
        res.statusCode === 400
          ? res.json().error.field
          : `${res.statusCode} ${res.body.slice(0, 100)}`;
      if (got !== field) failures.push(`${method} ${url}: expected ${field}, got ${got}`);
    }
    expect(failures).toEqual([]);

    // Malformed JSON, an oversized body, an oversized attachment.
    const malformed = await call(admin, 'POST', '/entries', '{"folderId": ');
    expect([malformed.statusCode, malformed.json().error.code]).toEqual([400, 'malformed_body']);
    const huge = await call(admin, 'POST', '/entries', {
      folderId: folder.id,
      name: 'huge',
      notes: 'x'.repeat(70 * 1024),
    });
    expect([huge.statusCode, huge.json().error.code]).toEqual([413, 'payload_too_large']);
    const big = await call(admin, 'POST', `${E}/attachments`, {
      fileName: 'big.bin',
      data: b64(Buffer.alloc(2049, 1)),
    });
    expect([big.statusCode, big.json().error.code]).toEqual([413, 'payload_too_large']);

    // Unknown ids: 404 on every kind of route.
    for (const [method, url, body] of [
      ['GET', `/entries/${UNKNOWN}`, undefined],
      ['PATCH', `/entries/${UNKNOWN}`, { name: 'x' }],
      ['DELETE', `/entries/${UNKNOWN}`, undefined],
      ['POST', `/entries/${UNKNOWN}/archive`, undefined],
      ['POST', `/entries/${UNKNOWN}/move`, { folderId: folder.id }],
      ['POST', `${E}/move`, { folderId: UNKNOWN }],
      ['GET', `${E}/attachments/${UNKNOWN}`, undefined],
      ['DELETE', `/entries/${entry.id}/attachments/${UNKNOWN}`, undefined],
      ['GET', `${E}/history/99`, undefined],
      ['GET', `/folders/${UNKNOWN}`, undefined],
      ['PATCH', `/folders/${UNKNOWN}`, { notes: 'x' }],
      ['POST', `/folders/${UNKNOWN}/archive`, undefined],
      ['DELETE', `/folders/${UNKNOWN}`, undefined],
      ['POST', '/folders', { parentId: UNKNOWN, name: 'x' }],
      ['POST', '/entries', { folderId: UNKNOWN, name: 'x' }],
      ['POST', `/users/${UNKNOWN}/private-folder`, undefined],
    ] as const) {
      const res = await call(admin, method, url, body);
      if (res.statusCode !== 404) failures.push(`${method} ${url} → ${res.statusCode}`);
    }
    expect(failures).toEqual([]);
    expect(await state()).toEqual(before);
    // The attachment is still there, unchanged.
    const still = await call(admin, 'GET', `${E}/attachments/${attId}`);
    expect(still.json().data).toBe(b64('a'));
  });

  it('creates private folders for holders of the application permission only', async () => {
    const denied = await call(alice.token, 'POST', `/users/${alice.id}/private-folder`);
    expect([denied.statusCode, denied.json().error.code]).toEqual([403, 'forbidden']);
    const created = await call(admin, 'POST', `/users/${alice.id}/private-folder`);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      name: 'alice@corp.example',
      kind: 'private',
      path: 'Root/Private Folders/alice@corp.example',
      ownerUserId: alice.id,
    });
    const again = await call(admin, 'POST', `/users/${alice.id}/private-folder`);
    expect(again.statusCode).toBe(409);
    const tree = (await call(alice.token, 'GET', '/vault/tree')).json();
    expect(tree.folders).toContainEqual(
      expect.objectContaining({ id: created.json().id, visible: true }),
    );
    const mine = await call(alice.token, 'POST', '/entries', {
      folderId: created.json().id,
      name: 'my-secret',
      password: testSecret(),
    });
    expect(mine.statusCode).toBe(201);
  });
});
