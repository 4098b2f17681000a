import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_SETTINGS, OFFLINE_PACKAGE_FORMAT } from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { OfflineWorld, expectCached } from './offline.support.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe.each(DIALECTS)('offline package (%s)', (dialect) => {
  let ctx: TestContext;
  let w: OfflineWorld;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    w = await OfflineWorld.create(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('a package large enough to be decrypted in bulk (on a worker thread with SQLite) carries every value exactly', async () => {
    const user = await w.user();
    const f = await w.folder(null, w.unique('Bulk'));
    // 40 entries: 40 × (password, notes, custom fields) + 4 attachments = 124 sealed values.
    const made = [];
    for (let i = 0; i < 40; i++) {
      made.push(await w.entry(f, i % 10 === 0 ? { attachmentBytes: 5000 + i } : {}));
    }
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    const pkg = await w.package(user.token);
    await expectCached(w, pkg, { in: made, out: [] });
    const byId = new Map(pkg.entries.map((e) => [e.id, e]));
    for (const m of made) {
      const e = byId.get(m.id)!;
      expect(e.password).toBe(m.password);
      expect(e.notes).toBe(`notes of ${m.name}`);
      expect(e.customFields.find((c) => c.name === 'pin')).toMatchObject({
        value: m.secretField,
        protected: true,
      });
      if (m.attachment) {
        expect(e.attachments).toHaveLength(1);
        expect(Buffer.from(e.attachments[0]!.dataBase64, 'base64').equals(m.attachment)).toBe(true);
      } else {
        expect(e.attachments).toEqual([]);
      }
    }
  });

  it('carries every field, protected custom fields, attachments byte for byte, paths, folders on the way only, settings, password requirements', async () => {
    const user = await w.user({
      loginName: `Alice.Offline-${w.unique('x')}@Corp.Example`,
      displayName: 'Alice Offline',
    });
    const area = await w.folder(null, w.unique('Area'));
    const team = await w.folder(area, 'Team');
    const sub = await w.folder(team, 'Sub');
    const other = await w.folder(area, 'Other'); // visible, but nothing in it goes offline
    const plain = await w.entry(team, { name: 'Plain' });
    const withFile = await w.entry(sub, { name: 'With file', attachmentBytes: 16 * 1024 });
    const readOnly = await w.entry(other, { name: 'Read only' });
    await w.grant({ folder: team, user: user.id, level: 'full-offline' });
    await w.grant({ folder: other, user: user.id, level: 'read-only' });
    await w.clientRule(user.id, { expireCacheAfterDays: 7, maxOfflineHours: 48 });
    const policy = await w.api(w.admin.token, 'POST', '/policies', {
      name: w.unique('Offline policy'),
      settings: { passwordRequirements: { minLength: 20, minDigits: 2, minClasses: 3 } },
    });
    expect(policy.statusCode, policy.body).toBe(201);
    const assigned = await w.api(w.admin.token, 'PUT', `/users/${user.id}/policy`, {
      policyId: (policy.json() as { id: string }).id,
    });
    expect(assigned.statusCode, assigned.body).toBe(200);

    const now = ctx.clock.now();
    const pkg = await w.package(user.token, { clientLabel: 'laptop' });
    await expectCached(w, pkg, { in: [plain, withFile], out: [readOnly] });

    expect(pkg.format).toBe(OFFLINE_PACKAGE_FORMAT);
    expect(pkg.serverId).toBe(ctx.services.serverId);
    expect(pkg.loginName).toBe(user.loginName); // exactly as stored: the UPN keeps its case
    expect(pkg.user).toEqual({ id: user.id, displayName: 'Alice Offline' });
    expect(pkg.createdAt).toBe(new Date(now).toISOString());
    expect(pkg.expiresAt).toBe(new Date(now + 7 * DAY).toISOString());
    expect(pkg.maxOfflineUntil).toBe(new Date(now + 48 * HOUR).toISOString());
    const effective = await w.api(user.token, 'GET', '/client-config/effective');
    expect(pkg.clientSettings).toEqual(effective.json());
    expect(pkg.clientSettings.settings.expireCacheAfterDays).toBe(7);
    const myPolicy = await w.api(user.token, 'GET', '/me/policy');
    expect(pkg.passwordRequirements).toEqual(
      (myPolicy.json() as { settings: { passwordRequirements: unknown } }).settings
        .passwordRequirements,
    );
    expect(pkg.passwordRequirements).toMatchObject({ minLength: 20, minDigits: 2, minClasses: 3 });
    const revision = await w.api(user.token, 'GET', '/me/revision');
    expect(pkg.revision).toBe((revision.json() as { revision: string }).revision);

    // Folders: exactly those on the path to a cached entry, parents first.
    const root = ctx.services.vault.rootId;
    expect(pkg.folders.map((f) => f.id)).toEqual([root, area, team, sub]);
    expect(pkg.folders[0]).toEqual({ id: root, parentId: null, name: 'Root', path: 'Root' });
    expect(pkg.folders[3]).toMatchObject({ parentId: team, name: 'Sub' });
    expect(pkg.folders[3]!.path.endsWith('/Team/Sub')).toBe(true);

    const p = pkg.entries.find((e) => e.id === plain.id)!;
    expect(p).toMatchObject({
      folderId: team,
      path: plain.path,
      name: 'Plain',
      username: 'user-of-Plain',
      password: plain.password,
      url: 'https://plain.example',
      notes: 'notes of Plain',
      tags: ['offline', 'test'],
      attachments: [],
    });
    expect(p.customFields).toEqual([
      { name: 'port', value: '22', protected: false },
      { name: 'pin', value: plain.secretField, protected: true },
    ]);
    expect(typeof p.createdAt).toBe('string');
    expect(typeof p.modifiedAt).toBe('string');
    const f = pkg.entries.find((e) => e.id === withFile.id)!;
    expect(f.password).toBe(withFile.password);
    expect(f.attachments).toHaveLength(1);
    expect(f.attachments[0]!.fileName).toBe('With file.bin');
    expect(f.attachments[0]!.size).toBe(16 * 1024);
    expect(Buffer.from(f.attachments[0]!.dataBase64, 'base64').equals(withFile.attachment!)).toBe(
      true,
    );

    // The inventory knows the cache.
    const row = await w.cacheRow(pkg.cacheId);
    expect(row).toMatchObject({
      user_id: user.id,
      login_name: user.loginName,
      client_label: 'laptop',
      comment: null,
      status: 'active',
      entry_count: 2,
      revision: pkg.revision,
    });
    expect(Number(row.created_at)).toBe(now);
    expect(Number(row.expires_at)).toBe(now + 7 * DAY);
    expect(Number(row.max_offline_until)).toBe(now + 48 * HOUR);
    // Offline Sync records name the user and hold no secret.
    for (const r of await w.syncRecords(pkg.cacheId)) {
      expect(r.login_name).toBe(user.loginName);
      expect(r.status).toBe('success');
      expect(JSON.stringify(r)).not.toContain('TESTSECRET');
    }
  });

  it('without a rule: never expires, no offline cap, the default settings', async () => {
    const user = await w.user();
    const f = await w.folder(null);
    await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    const pkg = await w.package(user.token);
    expect(pkg.expiresAt).toBeNull();
    expect(pkg.maxOfflineUntil).toBeNull();
    expect(pkg.clientSettings.settings).toEqual(DEFAULT_CLIENT_SETTINGS);
    expect(pkg.clientSettings.source).toBe('default');
    expect(DEFAULT_CLIENT_SETTINGS.offlineCommentRequired).toBe(false);
  });

  it('a comment goes into every Offline Sync record; when the rule requires one, none or a blank one is refused and nothing happens', async () => {
    const user = await w.user();
    const f = await w.folder(null);
    await w.entry(f);
    await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    await w.clientRule(user.id, { offlineCommentRequired: true });
    const caches = await w.countCaches();
    const syncs = (await w.audit('Offline Sync')).length;
    for (const body of [{}, { comment: '' }, { comment: '   \n ' }]) {
      const res = await w.packageRequest(user.token, body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        error: { code: 'validation_failed', field: '/comment' },
      });
    }
    expect(await w.countCaches()).toBe(caches);
    expect((await w.audit('Offline Sync')).length).toBe(syncs);

    const pkg = await w.package(user.token, { comment: '  Site visit, no network  ' });
    const records = await w.syncRecords(pkg.cacheId);
    expect(records).toHaveLength(2);
    for (const r of records) expect(r.details.comment).toBe('Site visit, no network');
    expect((await w.cacheRow(pkg.cacheId)).comment).toBe('Site visit, no network');
  });

  it('a new package with the same client label supersedes the previous cache; another label does not', async () => {
    const user = await w.user();
    const f = await w.folder(null);
    await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    const first = await w.package(user.token, { clientLabel: 'cli on laptop' });
    const phone = await w.package(user.token, { clientLabel: 'pwa' });
    const unlabelled = await w.package(user.token);
    const second = await w.package(user.token, { clientLabel: ' cli on laptop ' });
    expect(await w.cacheRow(first.cacheId)).toMatchObject({
      status: 'cleared',
      status_reason: `superseded by ${second.cacheId}`,
      status_by: user.loginName,
    });
    for (const id of [phone.cacheId, unlabelled.cacheId, second.cacheId]) {
      expect((await w.cacheRow(id)).status).toBe('active');
    }
    expect((await w.cacheRow(second.cacheId)).client_label).toBe('cli on laptop');
  });

  it('access shrinking while the package is made: what the vault left out is neither registered nor audited', async () => {
    const user = await w.user();
    const f = await w.folder(null);
    const kept = await w.entry(f);
    const lost = await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    const vault = ctx.services.vault;
    const original = vault.exportEntries.bind(vault);
    // The vault's own check (made after eligibility) no longer allows one entry.
    vault.exportEntries = async (actor, ids, require) =>
      (await original(actor, ids, require)).filter((e) => e.id !== lost.id);
    try {
      const pkg = await w.package(user.token);
      await expectCached(w, pkg, { in: [kept], out: [lost] });
      expect(pkg.entries).toHaveLength(1);
      const rows = await ctx.services.store.db
        .selectFrom('offline_cache_entries')
        .select('entry_id')
        .where('cache_id', '=', pkg.cacheId)
        .execute();
      expect(rows.map((r) => r.entry_id)).toEqual([kept.id]);
      // Nothing left at all: 403, and nothing registered.
      vault.exportEntries = async () => [];
      const caches = await w.countCaches();
      const syncs = (await w.audit('Offline Sync')).length;
      const res = await w.packageRequest(user.token);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('offline_not_allowed');
      expect(await w.countCaches()).toBe(caches);
      expect((await w.audit('Offline Sync')).length).toBe(syncs);
    } finally {
      vault.exportEntries = original;
    }
  });

  it('refuses bad input with 400 and registers nothing', async () => {
    const user = await w.user();
    const f = await w.folder(null);
    await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    const caches = await w.countCaches();
    const cases: Array<[unknown, string]> = [
      [{ clientLabel: 'x'.repeat(101) }, '/clientLabel'],
      [{ comment: 'x'.repeat(1001) }, '/comment'],
      [{ clientLabel: 'tab\there' }, '/clientLabel'],
      [{ comment: 'bell\u0007' }, '/comment'],
      [{ clientLabel: 42 }, '/clientLabel'],
      [{ other: true }, ''],
      [[], ''],
      ['null', ''],
    ];
    for (const [body, field] of cases) {
      const res = await w.api(user.token, 'POST', '/offline/package', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
      if (field) expect(res.json().error.field).toBe(field);
    }
    const anonymous = await w.api(null, 'POST', '/offline/package', {});
    expect(anonymous.statusCode).toBe(401);
    expect(await w.countCaches()).toBe(caches);
    // An empty body is fine.
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/offline/package',
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(res.statusCode, res.body).toBe(200);
  });
});
