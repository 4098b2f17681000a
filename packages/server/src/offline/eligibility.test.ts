import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { sweepExpiredGrants } from '../access/service.js';
import { OfflineWorld, expectCached, type MadeEntry, type MadeUser } from './offline.support.js';

/**
 * The eligibility matrix (offline-mode §1.1, §1.2): which entries go into an offline package,
 * each case asserting the package contents and the audit (exactly one Offline Sync record per
 * cached entry, none for the others). Every case has its own user and folders; the user also
 * holds one "anchor" entry through a plain permanent grant, so a case whose entry is left out
 * still gets a package to look into.
 */
describe.each(DIALECTS)('offline eligibility (%s)', (dialect) => {
  let ctx: TestContext;
  let w: OfflineWorld;
  const HOUR = 3_600_000;

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    w = await OfflineWorld.create(ctx);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  /** A user with one anchor entry they may take offline, and a fresh case folder. */
  const newCase = async (roles: string[] = []) => {
    const user = await w.user({ roles });
    const caseFolder = await w.folder(null, w.unique('Case'));
    const anchorFolder = await w.folder(caseFolder, 'Anchor');
    const anchor = await w.entry(anchorFolder);
    await w.grant({ folder: anchorFolder, user: user.id, level: 'full-offline' });
    return { user, caseFolder, anchor };
  };

  const check = async (user: MadeUser, anchor: MadeEntry, inE: MadeEntry[], outE: MadeEntry[]) => {
    const pkg = await w.package(user.token);
    await expectCached(w, pkg, { in: [anchor, ...inE], out: outE });
    expect(pkg.entries).toHaveLength(1 + inE.length);
    return pkg;
  };

  it('View Entry Offline through a grant to the user', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    await check(user, anchor, [e], []);
  });

  it('through a grant to a role the user belongs to', async () => {
    const role = await w.role();
    const { user, caseFolder, anchor } = await newCase([role]);
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({ folder: f, role, level: 'full-offline' });
    await check(user, anchor, [e], []);
  });

  it('through a grant to an outer role, the user being a member of its sub-role', async () => {
    const outer = await w.role();
    const inner = await w.role({ parent: outer });
    const { user, caseFolder, anchor } = await newCase([inner]);
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({ folder: f, role: outer, level: 'full-offline' });
    await check(user, anchor, [e], []);
  });

  it('through a grant on the entry itself', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    const other = await w.entry(f);
    await w.grant({ entry: e.id, user: user.id, level: 'full-offline' });
    await check(user, anchor, [e], [other]);
  });

  it('inherited from a parent folder, with the full path', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const parent = await w.folder(caseFolder, 'Parent');
    const child = await w.folder(parent, 'Child');
    const e = await w.entry(child, { name: 'Deep' });
    await w.grant({ folder: parent, user: user.id, level: 'full-offline' });
    const pkg = await check(user, anchor, [e], []);
    const cached = pkg.entries.find((x) => x.id === e.id)!;
    expect(cached.path).toBe(e.path);
    expect(cached.path.endsWith('/Parent/Child/Deep')).toBe(true);
  });

  it('blocked above: a grant made above a folder that blocks inheritance does not count', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const top = await w.folder(caseFolder, 'Top');
    const blocked = await w.folder(top, 'Blocked');
    const above = await w.entry(top);
    const below = await w.entry(blocked);
    await w.grant({ folder: top, user: user.id, level: 'full-offline' });
    const res = await w.api(w.admin.token, 'PUT', `/folders/${blocked}/block-inheritance`, {
      block: true,
    });
    expect(res.statusCode, res.body).toBe(200);
    await check(user, anchor, [above], [below]);
    // A grant on the blocking folder itself counts again.
    await w.grant({ folder: blocked, user: user.id, level: 'full-offline' });
    await check(user, anchor, [above, below], []);
  });

  it('time-limited grants only: left out', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({
      folder: f,
      user: user.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + 24 * HOUR,
    });
    // The user does see the entry (the grant counts online)…
    const tree = await w.api(user.token, 'GET', '/vault/tree');
    expect((tree.json() as { entries: Array<{ id: string }> }).entries.map((x) => x.id)).toContain(
      e.id,
    );
    // …but may not take it offline.
    await check(user, anchor, [], [e]);
  });

  it('a time-limited Full + Offline over a permanent Read-Only: left out (offline only through the time-limited one)', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'read-only' });
    await w.grant({
      folder: f,
      user: user.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + 24 * HOUR,
    });
    await check(user, anchor, [], [e]);
  });

  it('time-limited and permanent grants with View Entry Offline: cached', async () => {
    const role = await w.role();
    const { user, caseFolder, anchor } = await newCase([role]);
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({
      folder: f,
      user: user.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + 24 * HOUR,
    });
    await w.grant({ folder: f, role, level: 'full-offline' });
    await check(user, anchor, [e], []);
  });

  it('an expired grant never counts, before and after the sweep', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({
      folder: f,
      user: user.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + HOUR,
    });
    await check(user, anchor, [], [e]);
    ctx.clock.advance(2 * HOUR);
    await w.relogin(user); // the sessions ended meanwhile
    await check(user, anchor, [], [e]); // expired, not yet swept
    expect(await sweepExpiredGrants(ctx.services)).toBeGreaterThan(0);
    await check(user, anchor, [], [e]);
  });

  it('a permanent level without View Entry Offline: left out', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full' });
    await w.grant({ folder: f, user: user.id, level: 'full-grant-block' });
    await check(user, anchor, [], [e]);
  });

  it('View Entry Offline without View Entry Contents and Password: left out; with them from another permanent grant: cached', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const e = await w.entry(f);
    const offlineOnly = await w.level(['viewFolders', 'viewEntryNames', 'viewEntryOffline']);
    await w.grant({ folder: f, user: user.id, level: offlineOnly });
    await check(user, anchor, [], [e]);
    await w.grant({ folder: f, user: user.id, level: 'read-only' });
    await check(user, anchor, [e], []);
  });

  it('entries in the Archive are left out, archived on their own or through their folder', async () => {
    const { user, caseFolder, anchor } = await newCase();
    const f = await w.folder(caseFolder);
    const sub = await w.folder(f);
    const kept = await w.entry(f);
    const archived = await w.entry(f);
    const inArchivedFolder = await w.entry(sub);
    await w.grant({ folder: f, user: user.id, level: 'full-offline' });
    await w.services.vault.archiveEntry(w.admin.actor, archived.id);
    await w.services.vault.archiveFolder(w.admin.actor, sub);
    await check(user, anchor, [kept], [archived, inArchivedFolder]);
  });

  it('administrators: their implicit rights do not count, only their explicit permanent grants', async () => {
    const admin = await w.user({ administrator: true });
    const f = await w.folder(null, w.unique('AdminCase'));
    const notGranted = await w.entry(f);
    const g = await w.folder(f);
    const granted = await w.entry(g);
    const viaTimeLimited = await w.entry(f);
    // An administrator sees and reads everything online…
    const res = await w.ctx.app.inject({
      method: 'GET',
      url: `/api/v1/entries/${notGranted.id}/password`,
      headers: { authorization: `Bearer ${admin.token}` },
    });
    expect(res.statusCode).toBe(200);
    // …but takes offline only what a permanent grant with View Entry Offline gives.
    await w.grant({ folder: g, user: admin.id, level: 'full-offline' });
    await w.grant({
      entry: viaTimeLimited.id,
      user: admin.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + HOUR,
    });
    const pkg = await w.package(admin.token);
    await expectCached(w, pkg, { in: [granted], out: [notGranted, viaTimeLimited] });
  });

  it('an administrator without any offline grant is refused like anyone else', async () => {
    const admin = await w.user({ administrator: true });
    const f = await w.folder(null, w.unique('AdminNone'));
    await w.entry(f);
    const res = await w.packageRequest(admin.token, {});
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('offline_not_allowed');
  });

  it('no eligible entry: 403 offline_not_allowed, nothing registered, nothing audited', async () => {
    const user = await w.user();
    const f = await w.folder(null);
    await w.entry(f);
    await w.grant({ folder: f, user: user.id, level: 'full' });
    await w.grant({
      folder: f,
      user: user.id,
      level: 'full-offline',
      expiresAt: ctx.clock.now() + HOUR,
    });
    const caches = await w.countCaches();
    const syncs = (await w.audit('Offline Sync')).length;
    const res = await w.packageRequest(user.token, { clientLabel: 'laptop', comment: 'trip' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      error: { code: 'offline_not_allowed', message: 'You have no entries you may take offline.' },
    });
    expect(await w.countCaches()).toBe(caches);
    expect((await w.audit('Offline Sync')).length).toBe(syncs);
  });
});
