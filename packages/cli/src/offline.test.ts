import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLI_BIN,
  Machine,
  TestServer,
  oneLineError,
  runAtTerminal,
  secretOf,
} from './test-support/e2e.js';

/**
 * Offline mode end to end (offline-mode §1–§3): a real server process that the tests stop and
 * start again, the real client process, machines as separate STRONGROOM_HOMEs.
 */
describe('strongroom, offline', () => {
  let server: TestServer;
  const alice = { login: 'alice@corp.example', password: secretOf('alice'), id: '' };
  const bob = { login: 'bob', password: secretOf('bob'), id: '' };
  let mail = '';
  const attachment = Buffer.from([0, 1, 2, 250, 251, 252, 13, 10]);
  const machines: Machine[] = [];
  const machine = (m = new Machine()) => (machines.push(m), m);

  beforeAll(async () => {
    server = await TestServer.create();
    alice.id = await server.createUser(alice.login, alice.password);
    bob.id = await server.createUser(bob.login, bob.password);
    const root = await server.rootId();
    const team = await server.folder(root, 'Team');
    const servers = await server.folder(team, 'Servers');
    const other = await server.folder(root, 'Other');
    mail = await server.entry(team, {
      name: 'Mail',
      username: 'postmaster',
      password: 'TESTSECRET-mail-pw',
      url: 'https://mail.example',
      notes: 'offline notes',
      tags: ['mail'],
      customFields: [
        { name: 'pin', value: 'TESTSECRET-pin', protected: true },
        { name: 'region', value: 'eu-west', protected: false },
      ],
      attachments: [{ fileName: 'cert.bin', data: attachment.toString('base64') }],
    });
    await server.entry(servers, { name: 'db-1', username: 'root', password: 'TESTSECRET-db1' });
    await server.entry(other, { name: 'Online only', password: 'TESTSECRET-online-only' });
    await server.grant({ folder: team }, alice.id, 'full-offline');
    await server.grant({ folder: other }, alice.id, 'full');
    await server.grant({ folder: team }, bob.id, 'full-offline');
  });

  afterAll(async () => {
    await server?.destroy();
    for (const m of machines) m.destroy();
  });

  const loginAs = (m: Machine, who: { login: string; password: string }, typed = who.login) =>
    m.run(['login', '--server', server.url, '--user', typed, '--password-stdin'], {
      stdin: `${who.password}\n`,
    });
  /** Disconnect/Cache with the login password as the cache password (the default). */
  const disconnect = (m: Machine, who: { password: string }, extra: string[] = []) =>
    m.run(['disconnect', '--json', ...extra], { env: { STRONGROOM_PASSWORD: who.password } });
  const offlineEnv = (password: string) => ({ STRONGROOM_CACHE_PASSWORD: password });
  const auditOf = async (event: string) =>
    (await server.admin('GET', `/audit/events?event=${encodeURIComponent(event)}&limit=1000`))
      .items as any[];
  const cacheStatus = async (cacheId: string) =>
    (await server.admin('GET', `/offline/caches?userId=${alice.id}&limit=500`)).items.find(
      (c: any) => c.id === cacheId,
    );

  it('caches, reads offline with the server stopped, refuses changes, and uploads the journal on connect', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const d = await disconnect(m, alice);
    expect(d.code, d.stderr).toBe(0);
    expect(d.json).toMatchObject({ mode: 'offline', usedPreviousCache: false });
    expect(d.json.cache.entryCount).toBe(2);
    const cacheId = d.json.cache.cacheId as string;
    const data = join(m.home, 'data');
    expect(statSync(join(data, 'cache.kdbx')).mode & 0o777).toBe(0o600);
    expect(statSync(join(data, 'machine.key')).mode & 0o777).toBe(0o600);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(data, 'cache.kdbx')).includes('TESTSECRET')).toBe(false);

    await server.stop();
    const s = await m.run(['status', '--json']);
    expect(s.json).toMatchObject({ mode: 'offline', loginName: alice.login });
    expect(s.json.cache).toMatchObject({ cacheId, entryCount: 2, file: join(data, 'cache.kdbx') });

    const ls = await m.run(['ls', '-R'], { env: offlineEnv(alice.password) });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toBe(
      'Root/Team/\nRoot/Team/Servers/\nRoot/Team/Mail\nRoot/Team/Servers/db-1\n',
    );
    expect(ls.stderr).toMatch(
      /^strongroom: Working Offline since .* \(read-only; strongroom connect goes back online\)\n$/,
    );

    const hidden = await m.run(['show', 'Root/Team/Mail', '--json'], {
      env: offlineEnv(alice.password),
    });
    expect(hidden.json.source).toBe('cache');
    expect(JSON.stringify(hidden.json)).not.toContain('TESTSECRET');
    expect(hidden.json.entry.attachments).toEqual([
      expect.objectContaining({ fileName: 'cert.bin', size: attachment.length }),
    ]);

    const shown = await m.run(['show', 'Root/Team/Mail', '--reveal', '--json'], {
      env: offlineEnv(alice.password),
    });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json.password).toBe('TESTSECRET-mail-pw');
    expect(shown.json.entry.customFields).toEqual([
      { name: 'pin', value: 'TESTSECRET-pin', protected: true },
      { name: 'region', value: 'eu-west', protected: false },
    ]);
    const saved = join(m.home, 'cert-offline.bin');
    const att = await m.run(['attachment', 'Root/Team/Mail', 'cert.bin', '--out', saved], {
      env: offlineEnv(alice.password),
    });
    expect(att.code, att.stderr).toBe(0);
    expect(readFileSync(saved).equals(attachment)).toBe(true);
    expect(statSync(saved).mode & 0o777).toBe(0o600);
    const found = await m.run(['search', 'postmaster', '--json'], {
      env: offlineEnv(alice.password),
    });
    expect(found.json.entries.map((e: any) => e.path)).toEqual(['Root/Team/Mail']);

    const refused = await m.run(['add', 'Root/Team/New', '--json']);
    expect(refused.code).toBe(5);
    expect(oneLineError(refused)).toMatch(/add is not possible while Working Offline .*read-only/);
    for (const args of [
      ['edit', 'Root/Team/Mail', '--url', 'x'],
      ['mv', 'Root/Team/Mail', 'Root'],
      ['rm', 'Root/Team/Mail'],
    ]) {
      expect((await m.run(args)).code).toBe(5);
    }
    const wrong = await m.run(['ls'], { env: offlineEnv('TESTSECRET-not-it') });
    expect(wrong.code).toBe(8);
    expect(oneLineError(wrong)).toBe('strongroom: the cache password is wrong');

    const s2 = await m.run(['status', '--json']);
    expect(s2.json.cache.journalRecords).toBe(1);

    await server.start();
    const usedAt = Date.now();
    const c = await m.run(['connect', '--password-stdin', '--json'], {
      stdin: `${alice.password}\n`,
    });
    expect(c.code, c.stderr).toBe(0);
    expect(c.json).toMatchObject({
      mode: 'online',
      cache: 'current',
      journal: { cacheId, records: 1, accepted: 1, duplicates: 0 },
    });
    const viewed = (await auditOf('Offline Password Viewed')).filter(
      (r) => r.details?.cacheId === cacheId || r.target === 'Root/Team/Mail',
    );
    expect(viewed).toHaveLength(1);
    expect(viewed[0]).toMatchObject({ offline: true, target: 'Root/Team/Mail', user: alice.login });
    // Both times: when it was used on the client, and when the server recorded it.
    expect(Date.parse(viewed[0].occurredAt)).toBeLessThanOrEqual(Date.parse(viewed[0].time));
    expect(Date.parse(viewed[0].time)).toBeGreaterThanOrEqual(usedAt - 1000);
    const after = await m.run(['status', '--json']);
    expect(after.json.mode).toBe('online');
    expect(after.json.cache.journalRecords).toBe(0);
    const online = await m.run(['show', 'Root/Other/Online only', '--json']);
    expect(online.code, online.stderr).toBe(0);
    const savedOnline = join(m.home, 'cert-online.bin');
    const attOnline = await m.run(['attachment', mail, 'cert.bin', '-o', savedOnline, '--json']);
    expect(attOnline.json).toMatchObject({ source: 'server', size: attachment.length });
    expect(readFileSync(savedOnline).equals(attachment)).toBe(true);
    expect((await m.run(['attachment', mail, 'cert.bin', '-o', savedOnline])).code).toBe(2);
    expect((await m.run(['attachment', mail, 'nope.bin', '-o', join(m.home, 'x')])).code).toBe(4);
  });

  it('falls back to the cache when the server stops answering, and only for a failed connection', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    expect((await disconnect(m, alice)).code).toBe(0);
    const back = await m.run(['connect', '--password-stdin'], { stdin: `${alice.password}\n` });
    expect(back.code, back.stderr).toBe(0);

    // An expired or ended token does not stop offline use.
    const token = JSON.parse(readFileSync(join(m.home, 'config', 'session.json'), 'utf8')).token;
    await server.call(token, 'POST', '/auth/logout');
    const ended = await m.run(['ls']);
    expect(ended.code).toBe(3); // the server answered 401: that is not "offline"

    await server.stop();
    const ls = await m.run(['ls', 'Root/Team'], { env: offlineEnv(alice.password) });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toBe('Servers/\nMail\n');
    expect(ls.stderr).toMatch(
      /^strongroom: the server at http:\/\/127\.0\.0\.1:\d+ does not answer \(connection refused\): Working Offline since .*, from the cache made .*\n$/,
    );
    expect((await m.run(['status', '--json'])).json.mode).toBe('offline');

    // One user offline: nobody else logs in through this client, the owner only as typed then.
    const other = await loginAs(m, bob);
    expect(other.code).toBe(5);
    expect(oneLineError(other)).toMatch(/Working Offline for another user/);
    const typed = await m.run(['login', '--offline', '--user', 'Alice@corp.example'], {
      env: offlineEnv(alice.password),
    });
    expect(typed.code).toBe(5);
    expect(oneLineError(typed)).toMatch(/typed exactly as when the offline cache was made/);
    const owner = await m.run(['login', '--offline', '--user', alice.login, '--json'], {
      env: offlineEnv(alice.password),
    });
    expect(owner.code, owner.stderr).toBe(0);
    expect(owner.json.mode).toBe('offline');
    await server.start();
    // Still Working Offline: even with the server back, bob is refused until alice connects.
    expect((await loginAs(m, bob)).code).toBe(5);
    expect(
      (await m.run(['connect', '--password-stdin'], { stdin: `${alice.password}\n` })).code,
    ).toBe(0);
    expect((await loginAs(m, bob)).code).toBe(0);
  });

  it('logs in offline when the server does not answer, with the login password opening the cache', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    expect((await disconnect(m, alice)).code).toBe(0);
    expect(
      (await m.run(['connect', '--password-stdin'], { stdin: `${alice.password}\n` })).code,
    ).toBe(0);
    expect((await m.run(['logout'])).code).toBe(0);
    await server.stop();
    try {
      const r = await m.run(
        ['login', '--server', server.url, '--user', alice.login, '--password-stdin', '--json'],
        {
          stdin: `${alice.password}\n`,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.json.mode).toBe('offline');
      expect(r.stderr).toMatch(/does not answer \(connection refused\): logging in offline/);
      const nobody = new Machine();
      machines.push(nobody);
      const none = await loginAs(nobody, alice);
      expect(none.code).toBe(6);
      expect(oneLineError(none)).toMatch(
        /does not answer \(connection refused\), and this client holds no offline cache for alice@corp\.example/,
      );
      const noCache = await nobody.run(['disconnect'], {
        env: { STRONGROOM_PASSWORD: alice.password },
      });
      expect(noCache.code).toBe(3); // not logged in
    } finally {
      await server.start();
    }
  });

  it('deletes a cache revoked on the server when it connects', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const d = await disconnect(m, alice);
    const cacheId = d.json.cache.cacheId as string;
    await server.admin('POST', `/offline/caches/${cacheId}/revoke`, { reason: 'laptop lost' });
    const c = await m.run(['connect', '--password-stdin', '--json'], {
      stdin: `${alice.password}\n`,
    });
    expect(c.code, c.stderr).toBe(0);
    expect(c.json).toMatchObject({ cache: 'deleted', cacheDeletedBecause: 'laptop lost' });
    expect(c.stderr).toMatch(/revoked on the server \(laptop lost\) and has been deleted/);
    expect(existsSync(join(m.home, 'data', 'cache.kdbx'))).toBe(false);
    const ls = await m.run(['login', '--offline', '--user', alice.login], {
      env: offlineEnv(alice.password),
    });
    expect(ls.code).toBe(8);
  });

  it('refreshes a stale cache on connect, and makes a new one with disconnect', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const first = await disconnect(m, alice);
    const added = await server.entry((await server.admin('GET', `/entries/${mail}`)).folderId, {
      name: 'Added later',
      password: 'TESTSECRET-later',
    });
    const c = await m.run(['connect', '--password-stdin', '--json'], {
      stdin: `${alice.password}\n`,
    });
    expect(c.code, c.stderr).toBe(0);
    expect(c.json.cache).toBe('refreshed');
    const s = await m.run(['status', '--json']);
    expect(s.json.cache.entryCount).toBe(3);
    expect(s.json.cache.cacheId).not.toBe(first.json.cache.cacheId);
    await server.admin('POST', `/entries/${added}/archive`);
  });

  it('expires: an expired cache does not open and is deleted, checked without the server', async () => {
    const m = machine();
    const rule = await server.admin('POST', '/client-config/rules', {
      name: 'short offline',
      principalType: 'user',
      principalId: bob.id,
      settings: { expireCacheAfterDays: 1, maxOfflineHours: 2 },
    });
    try {
      expect((await loginAs(m, bob)).code).toBe(0);
      const d = await disconnect(m, bob);
      expect(d.code, d.stderr).toBe(0);
      const made = Date.parse(d.json.cache.createdAt);
      expect(Date.parse(d.json.cache.expiresAt)).toBe(made + 86_400_000);
      expect(Date.parse(d.json.cache.maxOfflineUntil)).toBe(made + 2 * 3_600_000);
      const before = await m.run(['ls'], {
        env: {
          ...offlineEnv(bob.password),
          STRONGROOM_TEST_NOW: new Date(made + 3_600_000).toISOString(),
        },
      });
      expect(before.code, before.stderr).toBe(0);
      const late = await m.run(['ls'], {
        env: {
          ...offlineEnv(bob.password),
          STRONGROOM_TEST_NOW: new Date(made + 3 * 3_600_000).toISOString(),
        },
      });
      expect(late.code).toBe(8);
      expect(oneLineError(late)).toMatch(
        /can no longer be used \(the maximum offline time ended on .*\) and has been deleted/,
      );
      expect(existsSync(join(m.home, 'data', 'cache.kdbx'))).toBe(false);
      expect((await m.run(['status', '--json'])).json).toMatchObject({
        mode: 'online',
        cache: null,
      });
    } finally {
      await server.admin('DELETE', `/client-config/rules/${rule.id}`);
    }
  });

  it('binds the cache to the machine: a copied cache or a copied client directory does not open', async () => {
    const a = machine();
    expect((await loginAs(a, alice)).code).toBe(0);
    expect((await disconnect(a, alice)).code).toBe(0);

    // Another data directory on another machine: its own cache replaced by a copy of a's.
    const b = machine();
    expect((await loginAs(b, bob)).code).toBe(0);
    expect((await disconnect(b, bob)).code).toBe(0);
    copyFileSync(join(a.home, 'data', 'cache.kdbx'), join(b.home, 'data', 'cache.kdbx'));
    const moved = await b.run(['ls'], { env: offlineEnv(alice.password) });
    expect(moved.code).toBe(8);
    expect(oneLineError(moved)).toBe(
      'strongroom: this offline cache was made on another machine or in another client directory; it cannot be opened here',
    );
    const imported = await b.run(['import-cache', join(a.home, 'data', 'cache.kdbx')], {
      env: offlineEnv(alice.password),
    });
    expect(imported.code).toBe(8);

    // The whole client directory copied to a machine with another identity.
    const copyHome = mkdtempSync(join(tmpdir(), 'strongroom-cli-copy-'));
    cpSync(a.home, copyHome, { recursive: true });
    const c = machine(new Machine('another-machine-id', copyHome));
    const copied = await c.run(['ls'], { env: offlineEnv(alice.password) });
    expect(copied.code).toBe(8);
    expect(oneLineError(copied)).toMatch(/made on another machine/);
    // The same copy with the original identity opens: the identity is part of the key.
    const same = await c.run(['ls'], {
      env: { ...offlineEnv(alice.password), STRONGROOM_MACHINE_ID: a.machineId },
    });
    expect(same.code, same.stderr).toBe(0);
  });

  it('leaves the old cache openable when the client is killed in the middle of a cache write', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const first = await disconnect(m, alice);
    const oldId = first.json.cache.cacheId as string;
    const oldBytes = readFileSync(join(m.home, 'data', 'cache.kdbx'));

    const child = spawn(process.execPath, [CLI_BIN, 'disconnect'], {
      env: m.env({ STRONGROOM_PASSWORD: alice.password, STRONGROOM_TEST_HOLD_WRITE: 'cache.kdbx' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('holding the write of cache.kdbx')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // The new content was written in full to a temporary file; the cache itself is untouched.
    expect(readdirSync(join(m.home, 'data')).some((n) => n.startsWith('cache.kdbx.tmp-'))).toBe(
      true,
    );
    expect(readFileSync(join(m.home, 'data', 'cache.kdbx')).equals(oldBytes)).toBe(true);
    const ls = await m.run(['status', '--json']);
    expect(ls.json.cache.cacheId).toBe(oldId);
    const read = await m.run(['show', 'Root/Team/Mail', '--reveal', '--json'], {
      env: offlineEnv(alice.password),
    });
    expect(read.code, read.stderr).toBe(0);
    expect(read.json.password).toBe('TESTSECRET-mail-pw');
    // A write after a minute removes the leftover (a younger one may be another process's).
    const minutesAgo = new Date(Date.now() - 120_000);
    for (const n of readdirSync(join(m.home, 'data')).filter((x) => x.includes('.tmp-'))) {
      utimesSync(join(m.home, 'data', n), minutesAgo, minutesAgo);
    }
    expect((await disconnect(m, alice)).code).toBe(0);
    expect(readdirSync(join(m.home, 'data')).some((n) => n.includes('.tmp-'))).toBe(false);
  });

  it('after a password change, import-cache opens the cache with the old password', async () => {
    const m = machine();
    const carol = { login: 'carol', password: secretOf('carol'), id: '' };
    carol.id = await server.createUser(carol.login, carol.password);
    await server.grant({ entry: mail }, carol.id, 'full-offline');
    expect((await loginAs(m, carol)).code).toBe(0);
    expect((await disconnect(m, carol)).code).toBe(0);
    const backup = join(m.home, 'old-cache.kdbx');
    copyFileSync(join(m.home, 'data', 'cache.kdbx'), backup);
    const newPassword = secretOf('carol-new');
    const t = (
      await server.call(null, 'POST', '/auth/login', {
        loginName: carol.login,
        password: carol.password,
      })
    ).body.token;
    expect(
      (
        await server.call(t, 'POST', '/me/password', {
          currentPassword: carol.password,
          newPassword,
        })
      ).status,
    ).toBeLessThan(300);

    // The new login password does not open the cache made with the old one.
    const refused = await m.run(['login', '--offline', '--user', carol.login, '--password-stdin'], {
      stdin: `${newPassword}\n`,
    });
    expect(refused.code).toBe(8);
    expect(oneLineError(refused)).toBe('strongroom: the cache password is wrong');

    const kept = await m.run(['import-cache', backup, '--json'], {
      env: offlineEnv(carol.password),
    });
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.json.reencrypted).toBe(false);
    expect((await m.run(['ls'], { env: offlineEnv(carol.password) })).code).toBe(0);

    const re = await m.run(
      [
        'import-cache',
        backup,
        '--reencrypt',
        '--cache-password-stdin',
        '--new-cache-password-stdin',
        '--json',
      ],
      {
        stdin: `${carol.password}\n${newPassword}\n`,
      },
    );
    expect(re.code, re.stderr).toBe(0);
    expect(re.json.reencrypted).toBe(true);
    const withNew = await m.run(['login', '--offline', '--user', carol.login, '--password-stdin'], {
      stdin: `${newPassword}\n`,
    });
    expect(withNew.code, withNew.stderr).toBe(0);
    const read = await m.run(['show', 'Root/Team/Mail', '--reveal', '--json'], {
      env: offlineEnv(newPassword),
    });
    expect(read.json.password).toBe('TESTSECRET-mail-pw');
    expect((await m.run(['ls'], { env: offlineEnv(carol.password) })).code).toBe(8);
  });

  it('says clearly that a damaged or truncated cache cannot be opened', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    expect((await disconnect(m, alice)).code).toBe(0);
    const file = join(m.home, 'data', 'cache.kdbx');
    const good = readFileSync(file);

    const flipped = Buffer.from(good);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
    writeFileSync(file, flipped);
    const bad = await m.run(['ls'], { env: offlineEnv(alice.password) });
    expect(bad.code).toBe(8);
    expect(oneLineError(bad)).toBe(
      'strongroom: the offline cache file is damaged or incomplete and cannot be opened',
    );

    writeFileSync(file, good);
    truncateSync(file, Math.floor(good.length / 2));
    const cut = await m.run(['ls'], { env: offlineEnv(alice.password) });
    expect(cut.code).toBe(8);
    expect(oneLineError(cut)).toBe(
      'strongroom: the offline cache file is damaged or incomplete and cannot be opened',
    );

    truncateSync(file, 0);
    const empty = await m.run(['ls'], { env: offlineEnv(alice.password) });
    expect(empty.code).toBe(8);
    oneLineError(empty);
  });

  it('exports the key file with which KeePassXC opens the cache (break-glass)', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    expect((await disconnect(m, alice)).code).toBe(0);
    const key = join(m.home, 'break-glass.keyx');
    const e = await m.run(['export-key-file', key, '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toMatch(/<Version>2\.0<\/Version>/);
    expect((await m.run(['export-key-file', key])).code).toBe(2);
    const kp = spawnSync(
      'keepassxc-cli',
      ['ls', '-R', '-f', '-k', key, join(m.home, 'data', 'cache.kdbx')],
      {
        input: `${alice.password}\n`,
        encoding: 'utf8',
      },
    );
    expect(kp.status, kp.stderr).toBe(0);
    expect(kp.stdout).toContain('Team/Mail');
    expect(kp.stdout).toContain('Team/Servers/db-1');
    const pw = spawnSync(
      'keepassxc-cli',
      ['show', '-s', '-a', 'Password', '-k', key, join(m.home, 'data', 'cache.kdbx'), 'Team/Mail'],
      {
        input: `${alice.password}\n`,
        encoding: 'utf8',
      },
    );
    expect(pw.stdout.trim().split('\n').at(-1)).toBe('TESTSECRET-mail-pw');
  });

  it('clears the cache and tells the server, at once or at the next contact', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const d1 = await disconnect(m, alice);
    expect(
      (await m.run(['connect', '--password-stdin'], { stdin: `${alice.password}\n` })).code,
    ).toBe(0);
    const now = await m.run(['clear-cache', '--json']);
    expect(now.json).toMatchObject({
      cleared: true,
      serverTold: true,
      cacheId: d1.json.cache.cacheId,
    });
    expect((await cacheStatus(d1.json.cache.cacheId)).status).toBe('cleared');
    expect(
      readdirSync(join(m.home, 'data')).filter(
        (n) => n.startsWith('cache') || n.startsWith('journal'),
      ),
    ).toEqual([]);

    const d2 = await disconnect(m, alice);
    await server.stop();
    const later = await m.run(['clear-cache', '--json']);
    expect(later.json).toMatchObject({ cleared: true, serverTold: false });
    expect((await m.run(['status', '--json'])).json.mode).toBe('online');
    await server.start();
    expect((await cacheStatus(d2.json.cache.cacheId)).status).toBe('active');
    expect((await loginAs(m, alice)).code).toBe(0);
    expect((await cacheStatus(d2.json.cache.cacheId)).status).toBe('cleared');
  });

  it('disconnect with the server gone uses the previous cache, and fails without one', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const d = await disconnect(m, alice);
    expect(
      (await m.run(['connect', '--password-stdin'], { stdin: `${alice.password}\n` })).code,
    ).toBe(0);
    const fresh = machine();
    expect((await loginAs(fresh, alice)).code).toBe(0);
    await server.stop();
    try {
      const again = await disconnect(m, alice);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json).toMatchObject({ usedPreviousCache: true, mode: 'offline' });
      expect(again.json.cache.cacheId).toBe(d.json.cache.cacheId);
      const none = await disconnect(fresh, alice);
      expect(none.code).toBe(6);
      expect(oneLineError(none)).toMatch(
        /there is no offline cache here, and one can only be made while connected; reconnect/,
      );
    } finally {
      await server.start();
    }
  });

  it('checks the cache password against the password requirements and offers the login password at a terminal', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const weak = await m.run(['disconnect'], { env: { STRONGROOM_CACHE_PASSWORD: 'short' } });
    expect(weak.code).toBe(2);
    expect(oneLineError(weak)).toMatch(
      /does not meet the password requirements: the password must be at least 12 characters long/i,
    );
    expect(existsSync(join(m.home, 'data', 'cache.kdbx'))).toBe(false);

    const tty = await runAtTerminal(
      m,
      ['disconnect'],
      [
        ['Cache password (Enter: the same as your login password): ', 'abc\r'],
        ['Repeat the cache password: ', 'abc\r'],
        ['Cache password (Enter: the same as your login password): ', '\r'],
        ['Login password of alice@corp.example: ', `${alice.password}\r`],
      ],
    );
    expect(tty.code, tty.transcript).toBe(0);
    expect(tty.transcript).toMatch(/at least 12 characters long\. Choose another cache password\./);
    expect(tty.transcript).not.toContain(alice.password);
    expect(tty.transcript).toContain('Offline cache written');
    const read = await m.run(['ls'], { env: offlineEnv(alice.password) });
    expect(read.code, read.stderr).toBe(0);
  });

  it('journals every password shown by client processes running at once, and survives a stale journal lock', async () => {
    const m = machine();
    expect((await loginAs(m, alice)).code).toBe(0);
    const d = await disconnect(m, alice);
    expect(d.code, d.stderr).toBe(0);
    const cacheId = d.json.cache.cacheId as string;
    const show = () =>
      m.run(['show', 'Root/Team/Mail', '--reveal'], { env: offlineEnv(alice.password) });
    const runs = await Promise.all(Array.from({ length: 6 }, show));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect((await m.run(['status', '--json'])).json.cache.journalRecords).toBe(6);

    // While another live process holds the journal's lock, a client waits for it.
    const lock = join(m.home, 'data', `journal-${cacheId}.bin.lock`);
    writeFileSync(lock, `${process.pid}\n`);
    let finishedAt = 0;
    const waiting = show().then((r) => ((finishedAt = Date.now()), r));
    await new Promise((r) => setTimeout(r, 2000));
    const releasedAt = Date.now();
    rmSync(lock);
    const waited = await waiting;
    expect(waited.code, waited.stderr).toBe(0);
    expect(finishedAt).toBeGreaterThanOrEqual(releasedAt);
    expect((await m.run(['status', '--json'])).json.cache.journalRecords).toBe(7);

    // A client killed while holding the lock leaves the file; the next one goes on.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lock, `${gone}\n`);
    const after = await show();
    expect(after.code, after.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);

    const c = await m.run(['connect', '--password-stdin', '--json'], {
      stdin: `${alice.password}\n`,
    });
    expect(c.code, c.stderr).toBe(0);
    expect(c.json.journal).toMatchObject({ cacheId, records: 8, accepted: 8, duplicates: 0 });
    expect((await m.run(['status', '--json'])).json.cache.journalRecords).toBe(0);
  });

  it('journals a copy made offline as copied', async () => {
    const m = machine();
    expect((await loginAs(m, bob)).code).toBe(0);
    const d = await disconnect(m, bob);
    const bin = mkdtempSync(join(m.home, 'fake-xclip-'));
    writeFileSync(
      join(bin, 'xclip'),
      `#!/bin/sh\nfor a in "$@"; do [ "$a" = "-out" ] && exit 0; done\ncat > "${join(bin, 'board')}"\n`,
    );
    chmodSync(join(bin, 'xclip'), 0o755);
    const r = await m.run(['show', 'Root/Team/Servers/db-1', '--copy'], {
      env: { ...offlineEnv(bob.password), DISPLAY: ':99', PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(bin, 'board'), 'utf8')).toBe('TESTSECRET-db1');
    const c = await m.run(['connect', '--password-stdin', '--json'], {
      stdin: `${bob.password}\n`,
    });
    expect(c.json.journal).toMatchObject({ records: 1, accepted: 1 });
    const rec = (await auditOf('Offline Password Viewed')).find((x) => x.user === bob.login);
    expect(rec).toMatchObject({ target: 'Root/Team/Servers/db-1', offline: true });
    expect(JSON.stringify(rec.details)).toContain('copied');
    expect(d.code).toBe(0);
  });

  it('refuses to show a password offline when the journal is damaged, in one line', async () => {
    const m = machine();
    expect((await loginAs(m, bob)).code).toBe(0);
    const d = await disconnect(m, bob);
    expect(d.code, d.stderr).toBe(0);
    const show = () =>
      m.run(['show', 'Root/Team/Mail', '--reveal', '--json'], { env: offlineEnv(bob.password) });
    expect((await show()).code).toBe(0);
    const file = join(m.home, 'data', `journal-${d.json.cache.cacheId}.bin`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(file, bytes);
    const r = await show();
    expect(r.code).toBe(8);
    expect(oneLineError(r)).toMatch(/^strongroom: the offline journal cannot be verified/);
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.json.error.code).toBe('journal_tampered');
    expect(r.stdout).not.toContain('TESTSECRET-mail-pw');
  });
});
