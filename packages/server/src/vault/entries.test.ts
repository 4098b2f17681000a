import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../shared/errors.js';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { adminActor, auditRecords, customLevel, grant, userActor } from '../test-support/vault.js';
import type { VaultService } from './service.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'ok';
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

describe.each(DIALECTS)('vault entries (%s)', (dialect) => {
  let ctx: TestContext;
  let vault: VaultService;
  const admin = adminActor();
  let folderId: string;

  beforeAll(async () => {
    ctx = await createTestContext(dialect, { config: { attachmentLimitBytes: 1024 } });
    vault = ctx.services.vault;
    folderId = (await vault.createFolder(admin, { parentId: vault.rootId, name: 'A' })).id;
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** Every byte stored for an entry (row, versions, attachments), as one searchable string. */
  async function storedBytes(entryId: string): Promise<string> {
    const db = ctx.services.store.db;
    const rows = [
      await db.selectFrom('entries').selectAll().where('id', '=', entryId).execute(),
      await db.selectFrom('entry_versions').selectAll().where('entry_id', '=', entryId).execute(),
      await db.selectFrom('attachments').selectAll().where('entry_id', '=', entryId).execute(),
    ].flat();
    return rows
      .map((r) =>
        Object.values(r)
          .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
          .join('|'),
      )
      .join('\n');
  }

  it('round-trips every field and never returns the password with the details', async () => {
    const password = testSecret('pw');
    const hidden = testSecret('cf');
    const notes = testSecret('notes');
    const fileText = testSecret('file');
    const e = await vault.createEntry(admin, {
      folderId,
      name: 'db-prod',
      username: 'postgres',
      password,
      url: 'https://db.example',
      notes,
      tags: ['db', 'prod'],
      customFields: [
        { name: 'port', value: '5432', protected: false },
        { name: 'root-password', value: hidden, protected: true },
      ],
      clientMeta: { IconId: 12, ForegroundColor: '#00ff00', AutoTypeEnabled: true },
      expiresAt: '2031-05-06T07:08:09.000Z',
      attachments: [{ fileName: 'vpn.conf', data: b64(fileText) }],
    });
    const got = await vault.getEntry(admin, e.id);
    expect(got).toEqual(e);
    expect(got).toMatchObject({
      folderId,
      name: 'db-prod',
      path: 'Root/A/db-prod',
      username: 'postgres',
      url: 'https://db.example',
      notes,
      tags: ['db', 'prod'],
      customFields: [
        { name: 'port', value: '5432', protected: false },
        { name: 'root-password', value: hidden, protected: true },
      ],
      clientMeta: { IconId: 12, ForegroundColor: '#00ff00', AutoTypeEnabled: true },
      hasPassword: true,
      expiresAt: '2031-05-06T07:08:09.000Z',
      version: 1,
      modifiedBy: admin.userId,
      archivedAt: null,
    });
    expect(got.attachments).toEqual([
      expect.objectContaining({ fileName: 'vpn.conf', size: Buffer.byteLength(fileText) }),
    ]);
    expect(JSON.stringify(got)).not.toContain(password);
    expect(await vault.getPassword(admin, e.id)).toBe(password);
    const att = await vault.getAttachment(admin, e.id, got.attachments[0]!.id);
    expect(Buffer.from(att.data, 'base64').toString()).toBe(fileText);

    // At rest: password, notes, custom fields and attachment bytes are sealed.
    const raw = await storedBytes(e.id);
    for (const s of [password, hidden, notes, fileText]) expect(raw).not.toContain(s);
    expect(raw).toContain('postgres');
  });

  it('audits every password fetch, and a refused one on a visible entry as denied', async () => {
    const password = testSecret('pw');
    const e = await vault.createEntry(admin, { folderId, name: 'fetch-me', password });
    const before = (await auditRecords(ctx.services, 'Password Fetched')).length;
    await vault.getPassword(admin, e.id);
    await vault.getPassword(admin, e.id);
    const names = await customLevel(ctx.services, [
      'viewFolders',
      'viewEntryNames',
      'viewEntryContents',
    ]);
    const viewer = userActor('viewer');
    await grant(ctx.services, { node: folderId, to: viewer.userId, level: names });
    expect(await codeOf(vault.getPassword(viewer, e.id))).toBe('not_allowed');
    const stranger = userActor('stranger');
    expect(await codeOf(vault.getPassword(stranger, e.id))).toBe('not_found');

    const records = (await auditRecords(ctx.services, 'Password Fetched')).slice(before);
    expect(records.map((r) => [r.login_name, r.status, r.target])).toEqual([
      ['admin', 'success', 'Root/A/fetch-me'],
      ['admin', 'success', 'Root/A/fetch-me'],
      ['viewer', 'denied', 'Root/A/fetch-me'],
    ]);
    for (const r of records) expect(r.details).not.toContain(password);
  });

  it('shows protected custom field values only to holders of View Entry Password', async () => {
    const hidden = testSecret('cf');
    const e = await vault.createEntry(admin, {
      folderId,
      name: 'protected',
      customFields: [
        { name: 'pin', value: hidden, protected: true },
        { name: 'plain', value: 'visible', protected: false },
      ],
    });
    const contentsOnly = await customLevel(ctx.services, [
      'viewFolders',
      'viewEntryNames',
      'viewEntryContents',
      'modifyEntries',
    ]);
    const u = userActor('contents-only');
    await grant(ctx.services, { node: folderId, to: u.userId, level: contentsOnly });
    const seen = await vault.getEntry(u, e.id);
    expect(seen.customFields).toEqual([
      { name: 'pin', value: null, protected: true },
      { name: 'plain', value: 'visible', protected: false },
    ]);
    expect(JSON.stringify(seen)).not.toContain(hidden);
    // Saving back what they see keeps the protected value (null = unchanged).
    await vault.updateEntry(u, e.id, {
      customFields: [
        { name: 'pin', value: null, protected: true },
        { name: 'plain', value: 'changed', protected: false },
      ],
    });
    const full = await vault.getEntry(admin, e.id);
    expect(full.customFields).toEqual([
      { name: 'pin', value: hidden, protected: true },
      { name: 'plain', value: 'changed', protected: false },
    ]);
    // A null value for a field that has no protected value now is refused.
    expect(
      await codeOf(
        vault.updateEntry(u, e.id, {
          customFields: [{ name: 'new', value: null, protected: true }],
        }),
      ),
    ).toBe('validation_failed');
  });

  it('needs View Entry Contents for details and View Entry Names to be seen at all', async () => {
    const e = await vault.createEntry(admin, { folderId, name: 'levels' });
    const names = await customLevel(ctx.services, ['viewFolders', 'viewEntryNames']);
    const u = userActor('names-only');
    await grant(ctx.services, { node: folderId, to: u.userId, level: names });
    expect(await codeOf(vault.getEntry(u, e.id))).toBe('not_allowed');
    const none = await customLevel(ctx.services, ['viewFolders']);
    const v = userActor('folders-only');
    await grant(ctx.services, { node: folderId, to: v.userId, level: none });
    expect(await codeOf(vault.getEntry(v, e.id))).toBe('not_found');
    // An entry-level grant makes an entry visible inside a folder the user can't see.
    const w = userActor('entry-grant');
    await grant(ctx.services, { node: e.id, nodeType: 'entry', to: w.userId, level: 'read-only' });
    expect((await vault.getEntry(w, e.id)).path).toBe('Root/A/levels');
    expect(await codeOf(vault.getFolder(w, folderId))).toBe('ok');
    expect((await vault.getFolder(w, folderId)).folder.visible).toBe(false);
  });

  it('updates partially, keeps every previous version and restores one as a new version', async () => {
    const p1 = testSecret('p1');
    const p2 = testSecret('p2');
    const e = await vault.createEntry(admin, {
      folderId,
      name: 'versioned',
      username: 'first',
      password: p1,
      notes: 'v1 notes',
      attachments: [{ fileName: 'one.txt', data: b64('one') }],
    });
    ctx.clock.advance(60_000);
    const editor = userActor('editor');
    await grant(ctx.services, { node: folderId, to: editor.userId, level: 'full' });
    const u = await vault.updateEntry(editor, e.id, { password: p2, notes: 'v2 notes' });
    expect(u).toMatchObject({ version: 2, username: 'first', notes: 'v2 notes' });
    const rec = (await auditRecords(ctx.services, 'Entry Updated')).at(-1)!;
    expect(JSON.parse(rec.details)).toEqual({ fields: ['password', 'notes'] });
    expect(rec.details).not.toContain(p2);
    // Nothing changed: no version.
    expect((await vault.updateEntry(editor, e.id, { username: 'first' })).version).toBe(2);
    // Attachments are saves too.
    const one = u.attachments[0]!;
    ctx.clock.advance(60_000);
    await vault.removeAttachment(editor, e.id, one.id);
    const two = await vault.addAttachment(editor, e.id, { fileName: 'two.txt', data: b64('two') });
    const now = await vault.getEntry(admin, e.id);
    expect(now.version).toBe(4);
    expect(now.attachments.map((a) => a.fileName)).toEqual(['two.txt']);

    const hist = await vault.history(admin, e.id);
    expect(hist.versions.map((v) => [v.version, v.current, v.modifiedBy])).toEqual([
      [4, true, editor.userId],
      [3, false, editor.userId],
      [2, false, editor.userId],
      [1, false, admin.userId],
    ]);
    const v1 = await vault.historyVersion(admin, e.id, 1);
    expect(v1).toMatchObject({
      version: 1,
      current: false,
      name: 'versioned',
      notes: 'v1 notes',
      hasPassword: true,
      attachments: [expect.objectContaining({ id: one.id, fileName: 'one.txt' })],
    });
    expect(JSON.stringify(v1)).not.toContain(p1);
    expect(await vault.historyPassword(admin, e.id, 1)).toBe(p1);
    expect(await vault.historyPassword(admin, e.id, 4)).toBe(p2);
    expect(await codeOf(vault.historyVersion(admin, e.id, 9))).toBe('not_found');
    // A removed attachment is still downloadable from history (View Entry History).
    expect(
      Buffer.from((await vault.getAttachment(admin, e.id, one.id)).data, 'base64').toString(),
    ).toBe('one');

    const restored = await vault.restoreVersion(editor, e.id, 1);
    expect(restored).toMatchObject({ version: 5, notes: 'v1 notes' });
    expect(restored.attachments.map((a) => a.id)).toEqual([one.id]);
    expect(await vault.getPassword(admin, e.id)).toBe(p1);
    expect((await vault.history(admin, e.id)).versions.length).toBe(5);
    // The version restored from is intact, and the one it replaced is kept.
    expect((await vault.historyVersion(admin, e.id, 4)).attachments.map((a) => a.id)).toEqual([
      two.id,
    ]);
    expect(await codeOf(vault.restoreVersion(editor, e.id, 5))).toBe('conflict');

    const events = (await auditRecords(ctx.services))
      .filter((r) => r.target === 'Root/A/versioned')
      .map((r) => r.event);
    expect(events).toEqual(
      expect.arrayContaining([
        'Entry Created',
        'Entry Updated',
        'Attachment Removed',
        'Attachment Added',
        'History Viewed',
        'Password Fetched',
        'Attachment Downloaded',
        'History Restored',
      ]),
    );
  });

  it("takes custom fields without `protected` as the entry's current field of that name is", async () => {
    const pin = testSecret('pin');
    const e = await vault.createEntry(admin, {
      folderId,
      name: 'unflagged fields',
      customFields: [
        { name: 'PIN', value: pin, protected: true },
        { name: 'Port', value: '5432' },
        { name: 'Empty', value: null },
      ],
    });
    expect(e.customFields).toEqual([
      { name: 'PIN', value: pin, protected: true },
      { name: 'Port', value: '5432', protected: false },
      { name: 'Empty', value: '', protected: false },
    ]);
    await vault.editEntry(admin, e.id, {
      fields: {
        customFields: [
          { name: 'PIN', value: null },
          { name: 'Port', value: null },
          { name: 'New', value: 'n' },
        ],
      },
    });
    expect((await vault.getEntry(admin, e.id)).customFields).toEqual([
      { name: 'PIN', value: pin, protected: true },
      { name: 'Port', value: '', protected: false },
      { name: 'New', value: 'n', protected: false },
    ]);
    await vault.editEntry(admin, e.id, {
      fields: { customFields: [{ name: 'PIN', value: 'changed' }] },
    });
    expect((await vault.getEntry(admin, e.id)).customFields).toEqual([
      { name: 'PIN', value: 'changed', protected: true },
    ]);
    // With the flag given, a null value is still refused where nothing protected is kept.
    await expect(
      vault.editEntry(admin, e.id, {
        fields: { customFields: [{ name: 'Other', value: null, protected: false }] },
      }),
    ).rejects.toMatchObject({ field: '/customFields/0/value' });
  });

  it('guards history with View Entry History, and old passwords with View Entry Password too', async () => {
    const e = await vault.createEntry(admin, {
      folderId,
      name: 'hist-guard',
      password: testSecret(),
    });
    await vault.updateEntry(admin, e.id, { username: 'x' });
    const noHistory = await customLevel(ctx.services, [
      'viewFolders',
      'viewEntryNames',
      'viewEntryContents',
      'viewEntryPassword',
    ]);
    const a = userActor('no-history');
    await grant(ctx.services, { node: e.id, nodeType: 'entry', to: a.userId, level: noHistory });
    expect(await codeOf(vault.history(a, e.id))).toBe('not_allowed');
    expect(await codeOf(vault.historyVersion(a, e.id, 1))).toBe('not_allowed');
    const historyOnly = await customLevel(ctx.services, [
      'viewFolders',
      'viewEntryNames',
      'viewEntryHistory',
    ]);
    const b = userActor('history-only');
    await grant(ctx.services, { node: e.id, nodeType: 'entry', to: b.userId, level: historyOnly });
    // History without View Entry Contents: the versions are listed, their fields stay closed.
    expect((await vault.history(b, e.id)).versions.length).toBeGreaterThan(0);
    expect(await codeOf(vault.historyVersion(b, e.id, 1))).toBe('not_allowed');
    expect(await codeOf(vault.historyPassword(b, e.id, 1))).toBe('not_allowed');
    const denied = (await auditRecords(ctx.services, 'Password Fetched')).at(-1)!;
    expect([denied.login_name, denied.status, JSON.parse(denied.details)]).toEqual([
      'history-only',
      'denied',
      { version: 1 },
    ]);
    expect(await codeOf(vault.restoreVersion(b, e.id, 1))).toBe('not_allowed');
  });

  it('limits attachments to the configured size (413) and validates their names', async () => {
    const e = await vault.createEntry(admin, { folderId, name: 'files' });
    const atLimit = Buffer.alloc(1024, 7);
    await vault.addAttachment(admin, e.id, { fileName: 'ok.bin', data: b64(atLimit) });
    const over = Buffer.alloc(1025, 7);
    expect(
      await codeOf(vault.addAttachment(admin, e.id, { fileName: 'big.bin', data: b64(over) })),
    ).toBe('payload_too_large');
    expect(
      await codeOf(
        vault.createEntry(admin, {
          folderId,
          name: 'files2',
          attachments: [{ fileName: 'big.bin', data: b64(over) }],
        }),
      ),
    ).toBe('payload_too_large');
    expect(
      await codeOf(vault.addAttachment(admin, e.id, { fileName: '../x', data: b64('x') })),
    ).toBe('validation_failed');
    expect(await codeOf(vault.addAttachment(admin, e.id, { fileName: 'x', data: '***' }))).toBe(
      'validation_failed',
    );
    const list = await vault.listAttachments(admin, e.id);
    expect(list.attachments.map((a) => [a.fileName, a.size])).toEqual([['ok.bin', 1024]]);
    expect((await vault.getEntry(admin, e.id)).version).toBe(2);
    expect(await codeOf(vault.removeAttachment(admin, e.id, e.id))).toBe('not_found');
  });

  it('moves entries with Move Entries on the source and the destination', async () => {
    const src = await vault.createFolder(admin, { parentId: vault.rootId, name: 'ESrc' });
    const dst = await vault.createFolder(admin, { parentId: vault.rootId, name: 'EDst' });
    const e = await vault.createEntry(admin, { folderId: src.id, name: 'moving' });
    const u = userActor('entry-mover');
    await grant(ctx.services, { node: src.id, to: u.userId, level: 'full' });
    expect(await codeOf(vault.moveEntry(u, e.id, dst.id))).toBe('not_found');
    await grant(ctx.services, { node: dst.id, to: u.userId, level: 'read-only' });
    expect(await codeOf(vault.moveEntry(u, e.id, dst.id))).toBe('not_allowed');
    await grant(ctx.services, { node: dst.id, to: u.userId, level: 'full' });
    expect(await vault.moveEntry(u, e.id, dst.id)).toEqual({
      id: e.id,
      folderId: dst.id,
      name: 'moving',
      path: 'Root/EDst/moving',
    });
    const rec = (await auditRecords(ctx.services, 'Entry Moved')).at(-1)!;
    expect([rec.target, JSON.parse(rec.details)]).toEqual([
      'Root/EDst/moving',
      { from: 'Root/ESrc/moving', to: 'Root/EDst/moving' },
    ]);
    expect(await codeOf(vault.moveEntry(admin, e.id, vault.privateRootId))).toBe('conflict');
  });

  it('archives, restores into a chosen folder and deletes entries for good', async () => {
    const e = await vault.createEntry(admin, {
      folderId,
      name: 'bin-me',
      attachments: [{ fileName: 'f', data: b64('f') }],
    });
    await vault.updateEntry(admin, e.id, { url: 'https://x' });
    const reader = userActor('bin-reader');
    await grant(ctx.services, { node: folderId, to: reader.userId, level: 'read-only' });
    expect(await codeOf(vault.archiveEntry(reader, e.id))).toBe('not_allowed');
    expect(await codeOf(vault.deleteEntry(admin, e.id))).toBe('conflict');
    await vault.archiveEntry(admin, e.id);
    expect(await codeOf(vault.archiveEntry(admin, e.id))).toBe('conflict');
    expect((await vault.archive(reader)).entries.map((x) => [x.id, x.path])).toContainEqual([
      e.id,
      'Root/A/bin-me',
    ]);
    expect((await vault.tree(admin)).entries.map((x) => x.id)).not.toContain(e.id);
    expect(await codeOf(vault.moveEntry(admin, e.id, folderId))).toBe('conflict');
    // Details stay readable while in the Archive.
    expect((await vault.getEntry(admin, e.id)).archivedAt).not.toBeNull();

    const other = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Elsewhere' });
    expect(await vault.restoreEntry(admin, e.id, other.id)).toMatchObject({
      folderId: other.id,
      path: 'Root/Elsewhere/bin-me',
    });
    expect(await codeOf(vault.restoreEntry(admin, e.id, other.id))).toBe('conflict');
    await vault.archiveEntry(admin, e.id);
    await vault.deleteEntry(admin, e.id);
    const db = ctx.services.store.db;
    expect(await db.selectFrom('entries').select('id').where('id', '=', e.id).execute()).toEqual(
      [],
    );
    expect(
      await db.selectFrom('attachments').select('id').where('entry_id', '=', e.id).execute(),
    ).toEqual([]);
    expect(
      await db.selectFrom('entry_versions').select('id').where('entry_id', '=', e.id).execute(),
    ).toEqual([]);
    const events = (await auditRecords(ctx.services))
      .filter((r) => r.target.endsWith('/bin-me'))
      .map((r) => [r.event, r.target]);
    expect(events).toEqual(
      expect.arrayContaining([
        ['Entry Archived', 'Root/A/bin-me'],
        ['Entry Restored', 'Root/Elsewhere/bin-me'],
        ['Entry Deleted', 'Root/Elsewhere/bin-me'],
      ]),
    );
  });

  it('creates entries only with Add Entries, and validates every field', async () => {
    const reader = userActor('add-reader');
    await grant(ctx.services, { node: folderId, to: reader.userId, level: 'read-only' });
    expect(await codeOf(vault.createEntry(reader, { folderId, name: 'x' }))).toBe('not_allowed');
    expect(await codeOf(vault.createEntry(userActor('nobody'), { folderId, name: 'x' }))).toBe(
      'not_found',
    );
    const field = async (input: Record<string, unknown>) => {
      try {
        await vault.createEntry(admin, { folderId, name: 'v', ...input } as never);
      } catch (err) {
        return err instanceof AppError ? err.field : String(err);
      }
      return 'ok';
    };
    expect(await field({ name: 'a/b' })).toBe('/name');
    expect(await field({ url: 'x'.repeat(3000) })).toBe('/url');
    expect(await field({ tags: 'not-an-array' })).toBe('/tags');
    expect(await field({ clientMeta: { nested: { no: 1 } } })).toBe('/clientMeta/nested');
    expect(await field({ customFields: [{ name: 'k', value: null, protected: true }] })).toBe(
      '/customFields/0/value',
    );
    expect(await field({ expiresAt: '2020-13-45' })).toBe('/expiresAt');
  });

  it('exports entries in full for callers holding the required permissions only', async () => {
    const folder = await vault.createFolder(admin, { parentId: vault.rootId, name: 'Export' });
    const password = testSecret('pw');
    const hidden = testSecret('cf');
    const a = await vault.createEntry(admin, {
      folderId: folder.id,
      name: 'exp-a',
      username: 'ua',
      password,
      notes: 'note a',
      customFields: [{ name: 'k', value: hidden, protected: true }],
      attachments: [{ fileName: 'a.txt', data: b64('bytes-a') }],
    });
    const b = await vault.createEntry(admin, { folderId: folder.id, name: 'exp-b' });
    const gone = await vault.createEntry(admin, { folderId: folder.id, name: 'exp-gone' });
    await vault.archiveEntry(admin, gone.id);
    const full = userActor('full-user');
    await grant(ctx.services, { node: folder.id, to: full.userId, level: 'full' });
    const offline = userActor('offline-user');
    await grant(ctx.services, { node: folder.id, to: offline.userId, level: 'full-offline' });

    const auditBefore = (await auditRecords(ctx.services)).length;
    const ids = [a.id, b.id, gone.id, '6f1c2a9e-0000-4000-8000-000000000001'];
    const need = ['viewEntryPassword', 'viewEntryOffline'] as const;
    expect(await vault.exportEntries(full, ids, need)).toEqual([]);
    const got = await vault.exportEntries(offline, ids, need);
    expect(got.map((e) => e.name).sort()).toEqual(['exp-a', 'exp-b']);
    const ea = got.find((e) => e.id === a.id)!;
    expect(ea).toMatchObject({
      path: 'Root/Export/exp-a',
      username: 'ua',
      password,
      notes: 'note a',
      customFields: [{ name: 'k', value: hidden, protected: true }],
    });
    expect(ea.attachments.map((x) => [x.fileName, x.data.toString()])).toEqual([
      ['a.txt', 'bytes-a'],
    ]);
    expect((await auditRecords(ctx.services)).length).toBe(auditBefore);
  });
});
