import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { OfflineWorld, type MadeUser } from './offline.support.js';

describe.each(DIALECTS)('caller revision (%s)', (dialect) => {
  let ctx: TestContext;
  let w: OfflineWorld;
  let user: MadeUser;
  let seen: string; // a folder the user sees (Full + Offline)
  let namesOnly: string; // a folder where the user sees entry names only
  let hidden: string; // a folder the user cannot see
  let seenEntry: string;
  let nameEntry: string;

  const revision = async (token = user.token): Promise<string> => {
    const res = await w.api(token, 'GET', '/me/revision');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { revision: string };
    expect(Object.keys(body)).toEqual(['revision']);
    return body.revision;
  };

  /** Runs `change` and says whether the user's revision moved. */
  const moves = async (change: () => Promise<unknown>): Promise<boolean> => {
    const before = await revision();
    await change();
    return (await revision()) !== before;
  };

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    w = await OfflineWorld.create(ctx);
    user = await w.user();
    seen = await w.folder(null, 'Seen');
    namesOnly = await w.folder(null, 'Names');
    hidden = await w.folder(null, 'Hidden');
    seenEntry = (await w.entry(seen)).id;
    nameEntry = (await w.entry(namesOnly)).id;
    await w.entry(hidden);
    await w.grant({ folder: seen, user: user.id, level: 'full-offline' });
    await w.grant({ folder: namesOnly, user: user.id, level: await w.level(['viewEntryNames']) });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('is stable while nothing changes, and the package carries the same value', async () => {
    const r1 = await revision();
    expect(r1).toMatch(/^[0-9a-f]{32}$/);
    expect(await revision()).toBe(r1);
    const pkg = await w.package(user.token);
    expect(pkg.revision).toBe(r1);
    expect(await revision()).toBe(r1); // making a package changes nothing the user sees
    // Another user has another revision.
    const other = await w.user();
    expect(await revision(other.token)).not.toBe(r1);
  });

  it('moves when something the user sees changes, even within the same millisecond', async () => {
    const vault = ctx.services.vault;
    const admin = w.admin.actor;
    // Every change below happens at the same test-clock time.
    expect(
      await moves(() => vault.updateEntry(admin, seenEntry, { url: 'https://a.example' })),
    ).toBe(true);
    expect(
      await moves(() => vault.updateEntry(admin, seenEntry, { password: 'TESTSECRET-new' })),
    ).toBe(true);
    expect(
      await moves(() =>
        vault.addAttachment(admin, seenEntry, { fileName: 'a.txt', data: 'aGVsbG8=' }),
      ),
    ).toBe(true);
    expect(await moves(() => vault.updateFolder(admin, seen, { notes: 'new notes' }))).toBe(true);
    expect(await moves(() => w.entry(seen))).toBe(true);
    expect(await moves(() => vault.updateEntry(admin, nameEntry, { name: 'Renamed' }))).toBe(true);
    expect(await moves(() => vault.archiveEntry(admin, nameEntry))).toBe(true);
  });

  it('moves when the user gains or loses access, or offline eligibility, through grants, levels or roles', async () => {
    const role = await w.role();
    let grantId = '';
    expect(
      await moves(async () => {
        grantId = await w.grant({ folder: hidden, role, level: 'read-only' });
      }),
    ).toBe(false); // a grant to a role the user is not in
    expect(
      await moves(() => w.api(w.admin.token, 'PUT', `/roles/${role}/members/${user.id}`)),
    ).toBe(true); // now the user is in it: the hidden folder shows
    expect(await moves(() => w.removeGrant({ folder: hidden }, grantId))).toBe(true);
    // Eligibility alone: an entry-level grant adding View Entry Offline on a visible entry.
    const offlineOnly = await w.level(['viewEntryOffline']);
    const viaLevel = await w.entry(hidden);
    await w.grant({ entry: viaLevel.id, user: user.id, level: 'read-only' });
    expect(
      await moves(() => w.grant({ entry: viaLevel.id, user: user.id, level: offlineOnly })),
    ).toBe(true);
  });

  it('stays when only things the user cannot see change', async () => {
    const vault = ctx.services.vault;
    const admin = w.admin.actor;
    const stranger = await w.user();
    const elsewhere = await w.folder(null, 'Elsewhere');
    const hiddenOne = await w.entry(elsewhere);
    expect(
      await moves(() => vault.updateEntry(admin, hiddenOne.id, { url: 'https://x.example' })),
    ).toBe(false);
    expect(await moves(() => w.entry(elsewhere))).toBe(false);
    expect(
      await moves(() => w.grant({ folder: elsewhere, user: stranger.id, level: 'full' })),
    ).toBe(false);
    expect(await moves(() => vault.updateFolder(admin, elsewhere, { notes: 'unseen' }))).toBe(
      false,
    );
    expect(await moves(() => w.role())).toBe(false);
  });

  it('moves when a time-limited grant ends, before any sweep', async () => {
    const f = await w.folder(null, 'Temporary');
    await w.entry(f);
    await w.grant({
      folder: f,
      user: user.id,
      level: 'read-only',
      expiresAt: ctx.clock.now() + 60_000,
    });
    const before = await revision();
    ctx.clock.advance(120_000);
    await w.relogin(user);
    expect(await revision()).not.toBe(before);
  });
});
