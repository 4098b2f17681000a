import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OfflineCache, OfflineCacheList, OfflineCacheStatusView } from '@strongroom/protocol';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { sweepExpiredGrants } from '../access/service.js';
import { OfflineWorld, type MadeUser } from './offline.support.js';

const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000aa';

describe.each(DIALECTS)('offline cache inventory and revocation (%s)', (dialect) => {
  let ctx: TestContext;
  let w: OfflineWorld;
  let manager: MadeUser; // holds manageOfflineCaches through a role, not an administrator

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    w = await OfflineWorld.create(ctx);
    const role = await w.role({ permissions: ['manageOfflineCaches'] });
    manager = await w.user({ roles: [role] });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** A user who may take one folder offline, with a cache; returns the grant too. */
  const userWithCache = async (opts: { roles?: string[]; label?: string } = {}) => {
    const user = await w.user({ roles: opts.roles });
    const folder = await w.folder(null);
    await w.entry(folder);
    const grantId = await w.grant({ folder, user: user.id, level: 'full-offline' });
    const pkg = await w.package(user.token, opts.label ? { clientLabel: opts.label } : {});
    return { user, folder, grantId, cacheId: pkg.cacheId, pkg };
  };

  const status = async (token: string, id: string) => {
    const res = await w.api(token, 'GET', `/offline/caches/${id}/status`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as OfflineCacheStatusView;
  };

  const revokedRecords = async (cacheId: string) =>
    (await w.audit('Offline Cache Revoked')).filter((r) => r.details.cacheId === cacheId);

  it('lists caches: administrators and holders of Manage Offline Caches see all (filters, paging), users see their own', async () => {
    const a = await userWithCache({ label: 'a-laptop' });
    const b = await userWithCache();
    const second = await w.package(a.user.token, { clientLabel: 'a-phone' });

    const mine = await w.api(a.user.token, 'GET', '/me/offline/caches');
    expect(mine.statusCode).toBe(200);
    const own = mine.json() as OfflineCacheList;
    expect(own.items.map((c) => c.id)).toEqual(
      [second.cacheId, a.cacheId].sort((x, y) =>
        // newest first; both made at the same test-clock time: then by id
        x < y ? -1 : 1,
      ),
    );
    expect(own.total).toBe(2);
    expect(own.items.every((c) => c.userId === a.user.id)).toBe(true);
    const first = own.items.find((c) => c.id === a.cacheId)!;
    expect(first).toMatchObject({
      loginName: a.user.loginName,
      clientLabel: 'a-laptop',
      entryCount: 1,
      status: 'active',
      statusChangedAt: null,
      statusReason: null,
      statusBy: null,
      expiresAt: null,
      maxOfflineUntil: null,
      revision: a.pkg.revision,
    });

    for (const token of [w.admin.token, manager.token]) {
      const all = await w.api(token, 'GET', '/offline/caches');
      expect(all.statusCode).toBe(200);
      const ids = (all.json() as OfflineCacheList).items.map((c) => c.id);
      expect(ids).toEqual(expect.arrayContaining([a.cacheId, b.cacheId, second.cacheId]));
    }
    const onlyB = await w.api(manager.token, 'GET', `/offline/caches?userId=${b.user.id}`);
    expect((onlyB.json() as OfflineCacheList).items.map((c) => c.id)).toEqual([b.cacheId]);
    const page = await w.api(manager.token, 'GET', `/offline/caches?userId=${a.user.id}&limit=1`);
    const p1 = page.json() as OfflineCacheList;
    expect(p1).toMatchObject({ total: 2, limit: 1, offset: 0 });
    expect(p1.items).toHaveLength(1);
    const page2 = await w.api(
      manager.token,
      'GET',
      `/offline/caches?userId=${a.user.id}&limit=1&offset=1`,
    );
    expect((page2.json() as OfflineCacheList).items[0]!.id).not.toBe(p1.items[0]!.id);

    // Plain users may not list everyone's caches or revoke.
    expect((await w.api(a.user.token, 'GET', '/offline/caches')).statusCode).toBe(403);
    expect(
      (await w.api(a.user.token, 'POST', `/offline/caches/${b.cacheId}/revoke`, {})).statusCode,
    ).toBe(403);
    // Bad filters.
    for (const q of ['status=gone', 'userId=nope', 'limit=0', 'limit=abc', 'offset=-1', 'x=1']) {
      const res = await w.api(manager.token, 'GET', `/offline/caches?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
    }
  });

  it('revoke: audited with the reason, the owner learns it from the status call; revoking again changes nothing; a cleared cache cannot be revoked', async () => {
    const { user, cacheId } = await userWithCache({ label: 'laptop' });
    const before = await status(user.token, cacheId);
    expect(before).toMatchObject({ cacheId, status: 'active', revoked: false, reason: null });

    const res = await w.api(manager.token, 'POST', `/offline/caches/${cacheId}/revoke`, {
      reason: 'laptop stolen',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json() as OfflineCache).toMatchObject({
      id: cacheId,
      status: 'revoked',
      statusReason: 'laptop stolen',
      statusBy: manager.loginName,
      statusChangedAt: new Date(ctx.clock.now()).toISOString(),
    });
    const records = await revokedRecords(cacheId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      login_name: manager.loginName,
      target: user.loginName,
      status: 'success',
    });
    expect(records[0]!.details).toMatchObject({
      cacheId,
      userId: user.id,
      reason: 'laptop stolen',
    });
    expect(await status(user.token, cacheId)).toMatchObject({
      status: 'revoked',
      revoked: true,
      reason: 'laptop stolen',
    });

    const again = await w.api(w.admin.token, 'POST', `/offline/caches/${cacheId}/revoke`);
    expect(again.statusCode, again.body).toBe(200);
    expect((again.json() as OfflineCache).statusReason).toBe('laptop stolen');
    expect(await revokedRecords(cacheId)).toHaveLength(1);

    const other = await userWithCache();
    expect(
      (await w.api(other.user.token, 'DELETE', `/offline/caches/${other.cacheId}`)).statusCode,
    ).toBe(204);
    const cleared = await w.api(w.admin.token, 'POST', `/offline/caches/${other.cacheId}/revoke`);
    expect(cleared.statusCode).toBe(409);
    expect(cleared.json().error.code).toBe('conflict');
    expect((await w.cacheRow(other.cacheId)).status).toBe('cleared');

    const unknown = await w.api(w.admin.token, 'POST', `/offline/caches/${UNKNOWN_ID}/revoke`);
    expect(unknown.statusCode).toBe(404);
    const nullBody = await w.api(
      w.admin.token,
      'POST',
      `/offline/caches/${cacheId}/revoke`,
      'null',
    );
    expect(nullBody.statusCode).toBe(400);
    const bad = await w.api(w.admin.token, 'POST', `/offline/caches/${cacheId}/revoke`, {
      reason: 'x'.repeat(501),
    });
    expect(bad.statusCode).toBe(400);
  });

  it('status and clear are for the owner only: anyone else, administrators included, gets 404', async () => {
    const { user, cacheId } = await userWithCache();
    const stranger = await w.user();
    for (const token of [stranger.token, w.admin.token]) {
      const s = await w.api(token, 'GET', `/offline/caches/${cacheId}/status`);
      expect(s.statusCode).toBe(404);
      expect(s.json().error.code).toBe('not_found');
      expect((await w.api(token, 'DELETE', `/offline/caches/${cacheId}`)).statusCode).toBe(404);
    }
    expect((await w.cacheRow(cacheId)).status).toBe('active');
    expect(
      (await w.api(user.token, 'GET', `/offline/caches/${UNKNOWN_ID}/status`)).statusCode,
    ).toBe(404);
    expect((await w.api(user.token, 'GET', '/offline/caches/not-an-id/status')).statusCode).toBe(
      400,
    );
  });

  it('clear: the client deleted its cache; audited once; the status says cleared', async () => {
    const { user, cacheId } = await userWithCache({ label: 'pwa' });
    const res = await w.api(user.token, 'DELETE', `/offline/caches/${cacheId}`);
    expect(res.statusCode).toBe(204);
    expect(await w.cacheRow(cacheId)).toMatchObject({
      status: 'cleared',
      status_reason: 'cleared by the client',
      status_by: user.loginName,
    });
    expect(await status(user.token, cacheId)).toMatchObject({ status: 'cleared', revoked: false });
    expect((await w.api(user.token, 'DELETE', `/offline/caches/${cacheId}`)).statusCode).toBe(204);
    const records = (await w.audit('Offline Cache Cleared')).filter(
      (r) => r.details.cacheId === cacheId,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ login_name: user.loginName, target: user.loginName });
  });

  it('status: expiry, staleness and the current revision', async () => {
    const user = await w.user();
    const folder = await w.folder(null);
    const e = await w.entry(folder);
    await w.grant({ folder, user: user.id, level: 'full-offline' });
    await w.clientRule(user.id, { expireCacheAfterDays: 1 });
    const pkg = await w.package(user.token);
    const s1 = await status(user.token, pkg.cacheId);
    expect(s1).toMatchObject({ expired: false, stale: false, revision: pkg.revision });
    expect(s1.expiresAt).toBe(pkg.expiresAt);
    await w.services.vault.updateEntry(w.admin.actor, e.id, { url: 'https://changed.example' });
    const s2 = await status(user.token, pkg.cacheId);
    expect(s2.stale).toBe(true);
    expect(s2.revision).not.toBe(pkg.revision);
    ctx.clock.advance(86_400_000 + 1);
    await w.relogin(user, manager);
    expect(await status(user.token, pkg.cacheId)).toMatchObject({
      expired: true,
      status: 'active',
    });
  });

  it('disabling a user revokes their active caches in the same change', async () => {
    const { user, cacheId } = await userWithCache();
    const res = await w.api(w.admin.token, 'POST', `/users/${user.id}/disable`);
    expect(res.statusCode, res.body).toBe(200);
    expect(await w.cacheRow(cacheId)).toMatchObject({
      status: 'revoked',
      status_reason: 'user disabled',
    });
    const records = await revokedRecords(cacheId);
    expect(records).toHaveLength(1);
    expect(records[0]!.details.reason).toBe('user disabled');
    // The revocation is in the transaction of the change: it follows the User Disabled record.
    const seq = await ctx.services.store.db
      .selectFrom('audit_log')
      .select(['event', 'seq'])
      .where('event', 'in', ['User Disabled', 'Offline Cache Revoked'])
      .orderBy('seq', 'desc')
      .limit(2)
      .execute();
    expect(seq.map((r) => r.event)).toEqual(['Offline Cache Revoked', 'User Disabled']);
  });

  it('removing the last grant with View Entry Offline revokes the cache before the answer; with another eligible entry left it stays', async () => {
    const { user, folder, grantId, cacheId } = await userWithCache();
    const second = await w.folder(null);
    await w.entry(second);
    const secondGrant = await w.grant({ folder: second, user: user.id, level: 'full-offline' });

    await w.removeGrant({ folder }, grantId);
    expect((await w.cacheRow(cacheId)).status).toBe('active'); // the other folder remains
    expect(await revokedRecords(cacheId)).toHaveLength(0);

    await w.removeGrant({ folder: second }, secondGrant);
    expect(await w.cacheRow(cacheId)).toMatchObject({
      status: 'revoked',
      status_reason: 'offline access removed',
      status_by: 'strongroom',
    });
    const records = await revokedRecords(cacheId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ login_name: 'strongroom', target: user.loginName });
    expect(records[0]!.details.reason).toBe('offline access removed');
    expect(await status(user.token, cacheId)).toMatchObject({ revoked: true });
  });

  it('losing offline access through a role, a sub-role, a level or block inheritance revokes; a time-limited grant ending does not', async () => {
    // Membership removed.
    const role = await w.role();
    const viaRole = await w.user({ roles: [role] });
    const f1 = await w.folder(null);
    await w.entry(f1);
    await w.grant({ folder: f1, role, level: 'full-offline' });
    const c1 = (await w.package(viaRole.token)).cacheId;
    const out = await w.api(w.admin.token, 'DELETE', `/roles/${role}/members/${viaRole.id}`);
    expect(out.statusCode, out.body).toBe(200);
    expect((await w.cacheRow(c1)).status).toBe('revoked');

    // Sub-role removed from the role that holds the grant.
    const outer = await w.role();
    const inner = await w.role({ parent: outer });
    const viaSub = await w.user({ roles: [inner] });
    const f2 = await w.folder(null);
    await w.entry(f2);
    await w.grant({ folder: f2, role: outer, level: 'full-offline' });
    const c2 = (await w.package(viaSub.token)).cacheId;
    const unnest = await w.api(w.admin.token, 'DELETE', `/roles/${outer}/subroles/${inner}`);
    expect(unnest.statusCode, unnest.body).toBe(200);
    expect((await w.cacheRow(c2)).status).toBe('revoked');

    // The level loses View Entry Offline.
    const level = await w.level([
      'viewFolders',
      'viewEntryNames',
      'viewEntryContents',
      'viewEntryPassword',
      'viewEntryOffline',
    ]);
    const viaLevel = await w.user();
    const f3 = await w.folder(null);
    await w.entry(f3);
    await w.grant({ folder: f3, user: viaLevel.id, level });
    const c3 = (await w.package(viaLevel.token)).cacheId;
    const patched = await w.api(w.admin.token, 'PATCH', `/access-levels/${level}`, {
      allow: ['viewFolders', 'viewEntryNames', 'viewEntryContents', 'viewEntryPassword'],
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await w.cacheRow(c3)).status).toBe('revoked');

    // Block inheritance below the grant.
    const viaBlock = await w.user();
    const top = await w.folder(null);
    const below = await w.folder(top);
    await w.entry(below);
    await w.grant({ folder: top, user: viaBlock.id, level: 'full-offline' });
    const c4 = (await w.package(viaBlock.token)).cacheId;
    const blocked = await w.api(w.admin.token, 'PUT', `/folders/${below}/block-inheritance`, {
      block: true,
    });
    expect(blocked.statusCode, blocked.body).toBe(200);
    expect((await w.cacheRow(c4)).status).toBe('revoked');

    // A time-limited grant ends and is swept: offline rests on the permanent grant, which stays.
    const keeps = await userWithCache();
    const f5 = await w.folder(null);
    await w.entry(f5);
    await w.grant({
      folder: f5,
      user: keeps.user.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + 60_000,
    });
    ctx.clock.advance(120_000);
    expect(await sweepExpiredGrants(ctx.services)).toBeGreaterThan(0);
    expect((await w.cacheRow(keeps.cacheId)).status).toBe('active');
    expect(await revokedRecords(keeps.cacheId)).toHaveLength(0);
  });

  it('deleting the user revokes their caches; the inventory keeps them', async () => {
    const { user, cacheId } = await userWithCache();
    const res = await w.api(w.admin.token, 'DELETE', `/users/${user.id}`);
    expect(res.statusCode, res.body).toBe(204);
    expect(await w.cacheRow(cacheId)).toMatchObject({
      status: 'revoked',
      status_reason: 'user deleted',
      login_name: user.loginName,
    });
  });

  it('a change that no hook saw (made in SQL) is caught by the status call and by the periodic re-check', async () => {
    const a = await userWithCache();
    const b = await userWithCache();
    await ctx.services.store.db
      .deleteFrom('grants')
      .where('id', 'in', [a.grantId, b.grantId])
      .execute();
    expect((await w.cacheRow(a.cacheId)).status).toBe('active');
    expect(await status(a.user.token, a.cacheId)).toMatchObject({
      status: 'revoked',
      revoked: true,
      reason: 'offline access removed',
    });
    expect((await w.cacheRow(b.cacheId)).status).toBe('active');
    await ctx.services.offline.recheckIfChanged();
    expect((await w.cacheRow(b.cacheId)).status).toBe('revoked');
    expect(await revokedRecords(b.cacheId)).toHaveLength(1);
    // Nothing changed since: the next re-check is one counter read and revokes nothing more.
    expect(await ctx.services.offline.recheck()).toBe(0);
  });
});
