import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIALECTS,
  createTestContext,
  testSecret,
  type TestContext,
} from '../test-support/harness.js';
import { createUser, login } from '../test-support/identity.js';
import { PleasantClient } from './pleasant.support.js';

interface SearchResult {
  Credentials: Array<{ Id: string; Name: string; Path: string }>;
  Groups: Array<{ Id: string; Name: string; FullPath: string }>;
}

/**
 * How path-based tools (configuration-management lookups, CLIs) find a secret by its path
 * `Root/A/B/Name`: log in, search for the last path component, keep the credential whose
 * `Path + Name` is the wanted path (or the group whose `FullPath` is the wanted folder path with
 * a trailing slash), fetch its password. Done here against decoys — the same name in a sibling
 * folder, in a folder whose name starts the same, and in a folder the user may not see — and
 * read back in the audit log as an administrator would.
 */
describe.each(DIALECTS)('path resolution through the Pleasant-compatible API (%s)', (dialect) => {
  let ctx: TestContext;
  let p: PleasantClient;
  let adminNative: string;
  const secrets = {
    wanted: testSecret('wanted'),
    sibling: testSecret('sibling'),
    prefix: testSecret('prefix'),
    hidden: testSecret('hidden'),
    unicode: testSecret('unicode'),
  };
  let user: { id: string; loginName: string; password: string };

  const native = async (method: 'GET' | 'POST', url: string, payload?: object) => {
    const res = await ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: { authorization: `Bearer ${adminNative}` },
      ...(payload ? { payload } : {}),
    });
    expect(res.statusCode, res.body).toBeLessThan(300);
    return res.json();
  };
  const folder = async (parentId: string, name: string): Promise<string> =>
    (await native('POST', '/folders', { parentId, name })).id;
  const entry = (folderId: string, name: string, password: string) =>
    native('POST', '/entries', { folderId, name, password, username: `svc-${name}` });

  beforeAll(async () => {
    ctx = await createTestContext(dialect);
    p = new PleasantClient(ctx);
    const admin = await createUser(ctx.services, {
      loginName: 'resolver-admin',
      administrator: true,
    });
    adminNative = await login(ctx.app, admin.loginName, admin.password);
    const root = ctx.services.vault.rootId;
    const ops = await folder(root, 'Ops');
    const databases = await folder(ops, 'Databases');
    const databasesOld = await folder(ops, 'Databases Old');
    const secret = await folder(root, 'Secret');
    const teams = await folder(ops, 'Équipe Données');
    await entry(databases, 'db-main', secrets.wanted);
    await entry(ops, 'db-main', secrets.sibling);
    await entry(databasesOld, 'db-main', secrets.prefix);
    await entry(secret, 'db-main', secrets.hidden);
    await entry(teams, 'clé d’accès', secrets.unicode);
    user = await createUser(ctx.services, { loginName: 'ansible@corp.example' });
    await native('POST', `/folders/${ops}/access`, {
      principalType: 'user',
      principalId: user.id,
      accessLevelId: await ctx.services.access.builtinLevelId('read-only'),
    });
  });
  afterAll(async () => {
    await ctx.close();
  });

  /** What a lookup tool does: token, search for the last component, exact path match, fetch. */
  async function lookup(path: string): Promise<{ id: string; password: string }> {
    const token = await p.token(user.loginName, user.password);
    const name = path.slice(path.lastIndexOf('/') + 1);
    const folderPath = path.slice(0, path.lastIndexOf('/') + 1);
    const found = await p.ok<SearchResult>(token, 'POST', '/search', { Search: name });
    const matches = found.Credentials.filter((c) => c.Path + c.Name === path);
    expect(matches.map((c) => c.Path)).toEqual([folderPath]);
    const id = matches[0]!.Id;
    return { id, password: await p.ok<string>(token, 'GET', `/entries/${id}/password`) };
  }

  it('finds Root/Ops/Databases/db-main among its decoys and fetches its password', async () => {
    const token = await p.token(user.loginName, user.password);
    const found = await p.ok<SearchResult>(token, 'POST', '/search', { Search: 'db-main' });
    // The user sees three of the four (not the one under Secret), each with its folder path.
    expect(found.Credentials.map((c) => c.Path + c.Name).sort()).toEqual([
      'Root/Ops/Databases Old/db-main',
      'Root/Ops/Databases/db-main',
      'Root/Ops/db-main',
    ]);
    expect(found.Credentials.every((c) => c.Path.endsWith('/'))).toBe(true);

    const { id, password } = await lookup('Root/Ops/Databases/db-main');
    expect(password).toBe(secrets.wanted);
    expect((await lookup('Root/Ops/db-main')).password).toBe(secrets.sibling);
    expect((await lookup('Root/Ops/Équipe Données/clé d’accès')).password).toBe(secrets.unicode);

    // The administrator sees the fetch in the audit log, with the entry's full path.
    const log = await native(
      'GET',
      `/audit/events?event=${encodeURIComponent('Password Fetched')}&user=${encodeURIComponent(user.loginName)}`,
    );
    const targets = (log.items as Array<{ target: string; status: string; user: string }>).map(
      (r) => [r.user, r.status, r.target],
    );
    expect(targets).toContainEqual([user.loginName, 'success', 'Root/Ops/Databases/db-main']);
    expect(targets.filter((t) => t[2] === 'Root/Ops/Databases/db-main')).toHaveLength(1);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('resolves a folder path through FullPath and reads the folder', async () => {
    const token = await p.token(user.loginName, user.password);
    const wanted = 'Root/Ops/Databases/';
    const found = await p.ok<SearchResult>(token, 'POST', '/search', { Search: 'Databases' });
    expect(found.Groups.map((g) => g.FullPath).sort()).toEqual([
      'Root/Ops/Databases Old/',
      'Root/Ops/Databases/',
    ]);
    const group = found.Groups.find((g) => g.FullPath === wanted)!;
    const f = await p.ok<{ Name: string; Credentials: Array<{ Name: string }> }>(
      token,
      'GET',
      `/folders/${group.Id}`,
    );
    expect(f.Name).toBe('Databases');
    expect(f.Credentials.map((c) => c.Name)).toEqual(['db-main']);
  });

  it('finds nothing under a folder the user may not see', async () => {
    const token = await p.token(user.loginName, user.password);
    const found = await p.ok<SearchResult>(token, 'POST', '/search', { Search: 'db-main' });
    expect(found.Credentials.filter((c) => c.Path === 'Root/Secret/')).toEqual([]);
    const secretSearch = await p.ok<SearchResult>(token, 'POST', '/search', { Search: 'Secret' });
    expect(secretSearch.Groups).toEqual([]);
  });
});
