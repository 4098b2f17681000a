import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_ACCESS_LEVELS, VAULT_PERMISSIONS, type AccessLevel } from '@strongroom/protocol';
import { openStore } from '../db/connect.js';
import { DIALECTS, createTestContext, type TestContext } from '../test-support/harness.js';
import { createRole, createUser, login } from '../test-support/identity.js';
import { seedAccessLevels } from './service.js';
import {
  accessState,
  auditRecords,
  insertFolder,
  insertGrant,
  levelId,
  rootFolderId,
} from './test-fixture.js';

const UNKNOWN_ID = '6f1c2a9e-0000-4000-8000-0000000000ff';

describe.each(DIALECTS)('access levels (%s)', (dialect) => {
  let ctx: TestContext;
  let admin: string;
  let manager: string; // holds manageAccessLevels through a role, not an administrator
  let user: string; // a plain user
  let counter = 0;

  const call = (
    token: string | null,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    payload?: unknown,
  ) =>
    ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { payload: payload as string } : {}),
    });

  const uniqueName = (base: string) => `${base} ${++counter}`;
  const create = async (body: Record<string, unknown>) => {
    const res = await call(admin, 'POST', '/access-levels', body);
    expect(res.statusCode).toBe(201);
    return res.json() as AccessLevel;
  };

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    const a = await createUser(ctx.services, { loginName: 'lv-admin', administrator: true });
    admin = await login(ctx.app, a.loginName, a.password);
    const role = await createRole(ctx.services, 'Level Managers', {
      permissions: ['manageAccessLevels'],
    });
    const m = await createUser(ctx.services, { loginName: 'lv-manager', roles: [role] });
    manager = await login(ctx.app, m.loginName, m.password);
    const u = await createUser(ctx.services, { loginName: 'lv-user' });
    user = await login(ctx.app, u.loginName, u.password);
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('seeds the built-in levels with the catalogue permissions; any user may list them', async () => {
    const res = await call(user, 'GET', '/access-levels');
    expect(res.statusCode).toBe(200);
    const levels = (res.json() as { levels: AccessLevel[] }).levels;
    const builtins = levels.filter((l) => l.builtin);
    expect(builtins.map((l) => [l.builtinKey, l.name, l.allow, l.grant])).toEqual(
      BUILTIN_ACCESS_LEVELS.map((b) => [b.key, b.name, b.allow, b.grant]),
    );
    const full = builtins.find((l) => l.builtinKey === 'full')!;
    expect(full.allow).not.toContain('viewEntryOffline');
    expect(full.allow).not.toContain('setBlockInheritance');
    expect(builtins.find((l) => l.builtinKey === 'read-only')!.allow).not.toContain(
      'viewEntryOffline',
    );

    const one = await call(user, 'GET', `/access-levels/${full.id}`);
    expect(one.statusCode).toBe(200);
    expect((one.json() as AccessLevel).name).toBe('Full');
    expect((await call(null, 'GET', '/access-levels')).statusCode).toBe(401);
  });

  it('seeding is idempotent, safe from two processes at once, and restores tampered built-ins', async () => {
    const fullId = await levelId(ctx.services, 'full');
    // Someone edits a built-in in the database: the next start puts it back.
    await ctx.services.store.db
      .updateTable('access_levels')
      .set({ allow: JSON.stringify([...VAULT_PERMISSIONS]) })
      .where('id', '=', fullId)
      .execute();
    // PostgreSQL: a second connection pool stands in for a second server process. SQLite is one
    // server process (docs/decisions.md): concurrent starts there share its one connection.
    const cfg = ctx.services.config;
    const second =
      dialect === 'postgres'
        ? openStore({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, pgSchema: cfg.pgSchema })
        : ctx.services.store;
    try {
      await Promise.all([
        seedAccessLevels(ctx.services.store, ctx.clock),
        seedAccessLevels(second, ctx.clock),
        seedAccessLevels(second, ctx.clock),
      ]);
    } finally {
      if (second !== ctx.services.store) await second.close();
    }
    const rows = await ctx.services.store.db
      .selectFrom('access_levels')
      .select(['id', 'builtin_key', 'allow'])
      .where('builtin_key', 'is not', null)
      .execute();
    expect(rows).toHaveLength(BUILTIN_ACCESS_LEVELS.length);
    const full = rows.find((r) => r.builtin_key === 'full')!;
    expect(full.id).toBe(fullId);
    expect(JSON.parse(full.allow)).toEqual(
      BUILTIN_ACCESS_LEVELS.find((b) => b.key === 'full')!.allow,
    );
  });

  it('an administrator or a holder of manageAccessLevels creates a custom level; others may not', async () => {
    const name = uniqueName('Auditors');
    const res = await call(manager, 'POST', '/access-levels', {
      name: `  ${name}  `,
      description: 'Read names only',
      allow: ['viewEntryNames', 'viewFolders'],
      grant: [],
    });
    expect(res.statusCode).toBe(201);
    const level = res.json() as AccessLevel;
    expect(level).toMatchObject({
      name,
      description: 'Read names only',
      builtin: false,
      builtinKey: null,
      allow: ['viewFolders', 'viewEntryNames'], // catalogue order
      grant: [],
      grantCount: 0,
    });
    const [rec] = (await auditRecords(ctx.services, 'Access Level Created')).filter(
      (r) => r.target === name,
    );
    expect(rec).toMatchObject({ status: 'success', login_name: 'lv-manager' });
    expect(rec!.details).toMatchObject({ accessLevelId: level.id, allow: level.allow, grant: [] });

    const before = await accessState(ctx.services);
    const refused = await call(user, 'POST', '/access-levels', {
      name: uniqueName('Nope'),
      allow: [],
      grant: [],
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('forbidden');
    expect(await accessState(ctx.services)).toBe(before);
  });

  it('View Entry Offline is present only when explicitly listed', async () => {
    const everythingElse = VAULT_PERMISSIONS.filter((p) => p !== 'viewEntryOffline');
    const noOffline = await create({
      name: uniqueName('All but offline'),
      allow: everythingElse,
      grant: everythingElse,
    });
    expect(noOffline.allow).not.toContain('viewEntryOffline');
    expect(noOffline.grant).not.toContain('viewEntryOffline');
    // Editing other fields never adds it.
    const renamed = await call(admin, 'PATCH', `/access-levels/${noOffline.id}`, {
      name: uniqueName('Still no offline'),
    });
    expect(renamed.statusCode).toBe(200);
    expect((renamed.json() as AccessLevel).allow).toEqual(everythingElse);

    const withOffline = await create({
      name: uniqueName('Offline readers'),
      allow: ['viewFolders', 'viewEntryOffline'],
      grant: [],
    });
    expect(withOffline.allow).toEqual(['viewFolders', 'viewEntryOffline']);
  });

  it('names are unique regardless of case', async () => {
    const name = uniqueName('Helpdesk');
    await create({ name, allow: [], grant: [] });
    const other = await create({ name: uniqueName('Other'), allow: [], grant: [] });
    const before = await accessState(ctx.services);
    const dup = await call(admin, 'POST', '/access-levels', {
      name: name.toUpperCase(),
      allow: [],
      grant: [],
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('conflict');
    const clashBuiltin = await call(admin, 'POST', '/access-levels', {
      name: 'read-only',
      allow: [],
      grant: [],
    });
    expect(clashBuiltin.statusCode).toBe(409);
    const rename = await call(admin, 'PATCH', `/access-levels/${other.id}`, { name });
    expect(rename.statusCode).toBe(409);
    expect(await accessState(ctx.services)).toBe(before);
  });

  it('edits a custom level and records what changed', async () => {
    const level = await create({
      name: uniqueName('Editors'),
      allow: ['viewFolders', 'modifyEntries'],
      grant: [],
    });
    ctx.clock.advance(1000);
    const newName = uniqueName('Senior editors');
    const res = await call(manager, 'PATCH', `/access-levels/${level.id}`, {
      name: newName,
      description: 'now with history',
      allow: ['viewFolders', 'viewEntryHistory'],
      grant: ['viewFolders'],
    });
    expect(res.statusCode).toBe(200);
    const updated = res.json() as AccessLevel;
    expect(updated).toMatchObject({
      id: level.id,
      name: newName,
      description: 'now with history',
      allow: ['viewFolders', 'viewEntryHistory'],
      grant: ['viewFolders'],
    });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(level.updatedAt));
    const rec = (await auditRecords(ctx.services, 'Access Level Updated')).find(
      (r) => r.target === newName,
    );
    expect(rec?.details).toMatchObject({
      name: { from: level.name, to: newName },
      allow: { added: ['viewEntryHistory'], removed: ['modifyEntries'] },
      grant: { added: ['viewFolders'], removed: [] },
    });
    // The change applies to every grant of the level at once.
    const listed = (await call(user, 'GET', '/access-levels')).json() as { levels: AccessLevel[] };
    expect(listed.levels.find((l) => l.id === level.id)?.allow).toEqual([
      'viewFolders',
      'viewEntryHistory',
    ]);
  });

  it('built-in levels cannot be edited or deleted', async () => {
    const before = await accessState(ctx.services);
    for (const key of ['read-only', 'full-grant', 'grant-only']) {
      const id = await levelId(ctx.services, key);
      const patch = await call(admin, 'PATCH', `/access-levels/${id}`, { name: 'Mine now' });
      expect(patch.statusCode).toBe(403);
      expect(patch.json().error.code).toBe('not_allowed');
      const del = await call(admin, 'DELETE', `/access-levels/${id}`);
      expect(del.statusCode).toBe(403);
      expect(del.json().error.code).toBe('not_allowed');
    }
    expect(await accessState(ctx.services)).toBe(before);
  });

  it('a level in use is deleted only with a replacement, which takes over its grants in one go', async () => {
    const root = await rootFolderId(ctx.services);
    const folder = await insertFolder(ctx.services, root, uniqueName('Deletion'));
    const u = await createUser(ctx.services, { loginName: `lv-del-${counter}` });
    const doomed = await create({ name: uniqueName('Doomed'), allow: ['viewFolders'], grant: [] });
    const g1 = await insertGrant(ctx.services, { node: { folder }, user: u.id, level: doomed.id });
    const g2 = await insertGrant(ctx.services, {
      node: { folder: root },
      user: u.id,
      level: doomed.id,
    });
    const readOnly = await levelId(ctx.services, 'read-only');

    const before = await accessState(ctx.services);
    const inUse = await call(admin, 'DELETE', `/access-levels/${doomed.id}`);
    expect(inUse.statusCode).toBe(409);
    expect(inUse.json().error.message).toContain('2 grants');
    const self = await call(
      admin,
      'DELETE',
      `/access-levels/${doomed.id}?replaceWith=${doomed.id}`,
    );
    expect(self.statusCode).toBe(400);
    const unknown = await call(
      admin,
      'DELETE',
      `/access-levels/${doomed.id}?replaceWith=${UNKNOWN_ID}`,
    );
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.field).toBe('/replaceWith');
    const badId = await call(admin, 'DELETE', `/access-levels/${doomed.id}?replaceWith=nope`);
    expect(badId.statusCode).toBe(400);
    const byUser = await call(
      user,
      'DELETE',
      `/access-levels/${doomed.id}?replaceWith=${readOnly}`,
    );
    expect(byUser.statusCode).toBe(403);
    expect(await accessState(ctx.services)).toBe(before);

    const ok = await call(admin, 'DELETE', `/access-levels/${doomed.id}?replaceWith=${readOnly}`);
    expect(ok.statusCode).toBe(204);
    const grants = await ctx.services.store.db
      .selectFrom('grants')
      .select(['id', 'access_level_id'])
      .where('id', 'in', [g1, g2])
      .execute();
    expect(grants.map((g) => g.access_level_id)).toEqual([readOnly, readOnly]);
    expect((await call(admin, 'GET', `/access-levels/${doomed.id}`)).statusCode).toBe(404);
    const rec = (await auditRecords(ctx.services, 'Access Level Deleted')).find(
      (r) => r.target === doomed.name,
    );
    expect(rec?.details).toMatchObject({ replacedWith: 'Read-Only', grantsReassigned: 2 });

    // A level nobody uses needs no replacement.
    const unused = await create({ name: uniqueName('Unused'), allow: [], grant: [] });
    expect((await call(manager, 'DELETE', `/access-levels/${unused.id}`)).statusCode).toBe(204);
  });

  it('bad input on every level route gets a 4xx with a code and changes nothing', async () => {
    const level = await create({ name: uniqueName('Target'), allow: ['viewFolders'], grant: [] });
    const before = await accessState(ctx.services);
    const cases: Array<[string, 'POST' | 'PATCH' | 'DELETE' | 'GET', string, unknown, number]> = [
      ['malformed JSON', 'POST', '/access-levels', '{"name": ', 400],
      ['number name', 'POST', '/access-levels', { name: 42, allow: [], grant: [] }, 400],
      ['blank name', 'POST', '/access-levels', { name: '   ', allow: [], grant: [] }, 400],
      ['empty name', 'POST', '/access-levels', { name: '', allow: [], grant: [] }, 400],
      ['long name', 'POST', '/access-levels', { name: 'x'.repeat(101), allow: [], grant: [] }, 400],
      ['missing grant', 'POST', '/access-levels', { name: 'N', allow: [] }, 400],
      [
        'unknown permission',
        'POST',
        '/access-levels',
        { name: 'N', allow: ['fly'], grant: [] },
        400,
      ],
      [
        'repeated permission',
        'POST',
        '/access-levels',
        { name: 'N', allow: ['viewFolders', 'viewFolders'], grant: [] },
        400,
      ],
      [
        'allow not a list',
        'POST',
        '/access-levels',
        { name: 'N', allow: 'viewFolders', grant: [] },
        400,
      ],
      [
        'extra field',
        'POST',
        '/access-levels',
        { name: 'N', allow: [], grant: [], builtin: true },
        400,
      ],
      ['array body', 'POST', '/access-levels', '[1,2]', 400],
      ['empty patch', 'PATCH', `/access-levels/${level.id}`, {}, 400],
      ['patch wrong type', 'PATCH', `/access-levels/${level.id}`, { allow: [7] }, 400],
      ['patch blank name', 'PATCH', `/access-levels/${level.id}`, { name: ' ' }, 400],
      ['patch extra field', 'PATCH', `/access-levels/${level.id}`, { builtinKey: 'full' }, 400],
      ['patch malformed id', 'PATCH', '/access-levels/not-an-id', { name: 'N' }, 400],
      ['patch unknown id', 'PATCH', `/access-levels/${UNKNOWN_ID}`, { name: 'N' }, 404],
      ['delete malformed id', 'DELETE', '/access-levels/not-an-id', undefined, 400],
      ['delete unknown id', 'DELETE', `/access-levels/${UNKNOWN_ID}`, undefined, 404],
      ['get malformed id', 'GET', '/access-levels/NOT-AN-ID', undefined, 400],
      ['get unknown id', 'GET', `/access-levels/${UNKNOWN_ID}`, undefined, 404],
    ];
    for (const [label, method, url, body, status] of cases) {
      const res = await call(admin, method, url, body);
      expect([label, res.statusCode]).toEqual([label, status]);
      expect(typeof res.json().error.code).toBe('string');
    }
    expect(await accessState(ctx.services)).toBe(before);
  });
});
