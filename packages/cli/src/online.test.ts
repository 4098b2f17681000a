import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totp } from '@strongroom/crypto';
import { Machine, TestServer, oneLineError, runAtTerminal, secretOf } from './test-support/e2e.js';

/**
 * The client online, end to end: a real server process, the real client process, each test
 * machine its own STRONGROOM_HOME. Seeding goes through the API as the administrator.
 */
describe('strongroom, online', () => {
  let server: TestServer;
  const alice = { login: 'alice@corp.example', password: secretOf('alice'), id: '' };
  const bob = { login: 'bob', password: secretOf('bob'), id: '' };
  let team = '';
  let servers = '';
  let mail = '';
  let machine: Machine;
  const others: Machine[] = [];
  const another = (): Machine => {
    const m = new Machine();
    others.push(m);
    return m;
  };

  beforeAll(async () => {
    server = await TestServer.create();
    alice.id = await server.createUser(alice.login, alice.password);
    bob.id = await server.createUser(bob.login, bob.password);
    const root = await server.rootId();
    team = await server.folder(root, 'Team');
    servers = await server.folder(team, 'Servers');
    mail = await server.entry(team, {
      name: 'Mail',
      username: 'postmaster',
      password: 'TESTSECRET-mail-pw',
      url: 'https://mail.example',
      notes: 'line one\nline two',
      tags: ['mail', 'prod'],
      customFields: [
        { name: 'pin', value: 'TESTSECRET-pin', protected: true },
        { name: 'region', value: 'eu-west', protected: false },
      ],
    });
    await server.entry(servers, { name: 'db-1', username: 'root', password: 'TESTSECRET-db1' });
    await server.grant({ folder: team }, alice.id, 'full');
    await server.grant({ folder: team }, bob.id, 'read-only');
    machine = new Machine();
  });

  afterAll(async () => {
    await server?.destroy();
    machine?.destroy();
    for (const m of others) m.destroy();
  });

  const login = (m: Machine, user: string, password: string, extra: string[] = []) =>
    m.run(['login', '--server', server.url, '--user', user, '--password-stdin', ...extra], {
      stdin: `${password}\n`,
    });

  it('logs in with the login name exactly as typed, session file 0600 in a 0700 directory', async () => {
    const r = await login(machine, 'Alice@Corp.Example', alice.password, ['--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      mode: 'online',
      loginName: 'Alice@Corp.Example',
      serverUrl: server.url,
    });
    const session = JSON.parse(readFileSync(join(machine.home, 'config', 'session.json'), 'utf8'));
    expect(session.loginName).toBe('Alice@Corp.Example');
    expect(session.userId).toBe(alice.id);
    expect(statSync(join(machine.home, 'config', 'session.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(machine.home, 'config')).mode & 0o777).toBe(0o700);
    const s = await machine.run(['status', '--json']);
    expect(s.json).toMatchObject({
      mode: 'online',
      loginName: 'Alice@Corp.Example',
      serverReachable: true,
    });
    expect(s.json.session.valid).toBe(true);
    expect(s.json.cacheFile).toBe(join(machine.home, 'data', 'cache.kdbx'));
    expect(s.json.machineKeyFile).toBe(join(machine.home, 'data', 'machine.key'));
  });

  it('refuses a wrong password with one line and exit 3, and a password on the command line with exit 2', async () => {
    const m = another();
    const r = await login(m, alice.login, 'TESTSECRET-wrong-password');
    expect(r.code).toBe(3);
    expect(oneLineError(r)).toMatch(/login name or password is wrong/i);
    const arg = await m.run([
      'login',
      '--server',
      server.url,
      '--user',
      alice.login,
      '--password',
      'x',
    ]);
    expect(arg.code).toBe(2);
    expect(oneLineError(arg)).toMatch(/never taken from the command line/);
    expect(existsSync(join(m.home, 'config', 'session.json'))).toBe(false);
  });

  it('lists folders and entries, by path and by id, recursively, as text and JSON', async () => {
    const root = await machine.run(['ls']);
    expect(root.code, root.stderr).toBe(0);
    expect(root.stdout).toBe('Team/\n');
    const t = await machine.run(['ls', 'Root/Team']);
    expect(t.stdout).toBe('Servers/\nMail\n');
    const same = await machine.run(['ls', 'Team/']);
    expect(same.stdout).toBe(t.stdout);
    const byId = await machine.run(['ls', servers]);
    expect(byId.stdout).toBe('db-1\n');
    const rec = await machine.run(['ls', '-R', '--json']);
    expect(rec.json.source).toBe('server');
    expect(rec.json.folders.map((f: any) => f.path)).toEqual(['Root/Team', 'Root/Team/Servers']);
    expect(rec.json.entries.map((e: any) => e.path).sort()).toEqual([
      'Root/Team/Mail',
      'Root/Team/Servers/db-1',
    ]);
    const missing = await machine.run(['ls', 'Root/Nope']);
    expect(missing.code).toBe(4);
    expect(oneLineError(missing)).toBe('strongroom: no folder at Root/Nope');
  });

  it('shows an entry with the password and protected fields hidden unless --reveal', async () => {
    const hidden = await machine.run(['show', 'Root/Team/Mail']);
    expect(hidden.code, hidden.stderr).toBe(0);
    expect(hidden.stdout).toContain('username:  postmaster');
    expect(hidden.stdout).toContain('password:  ********');
    expect(hidden.stdout).toContain('pin: ********');
    expect(hidden.stdout).toContain('region: eu-west');
    expect(hidden.stdout).not.toContain('TESTSECRET');
    const hiddenJson = await machine.run(['show', mail, '--json']);
    expect(hiddenJson.json.password).toBeUndefined();
    expect(hiddenJson.json.entry.customFields.find((f: any) => f.name === 'pin').value).toBeNull();
    expect(JSON.stringify(hiddenJson.json)).not.toContain('TESTSECRET');

    const shown = await machine.run(['show', 'Team/Mail', '--reveal', '--json']);
    expect(shown.json.password).toBe('TESTSECRET-mail-pw');
    expect(shown.json.entry.customFields.find((f: any) => f.name === 'pin').value).toBe(
      'TESTSECRET-pin',
    );
    expect(shown.json.entry.notes).toBe('line one\nline two');
    // The fetch is audited on the server.
    const audit = await server.admin(
      'GET',
      `/audit/events?event=${encodeURIComponent('Password Fetched')}&user=${encodeURIComponent(alice.login)}`,
    );
    expect(audit.items.some((i: any) => i.target === 'Root/Team/Mail')).toBe(true);
  });

  it('searches', async () => {
    const r = await machine.run(['search', 'POSTMASTER', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.entries.map((e: any) => [e.path, e.matched])).toEqual([
      ['Root/Team/Mail', ['username']],
    ]);
    const text = await machine.run(['search', 'db-']);
    expect(text.stdout).toBe('Root/Team/Servers/db-1\troot\n');
  });

  it('adds, edits, moves and archives, each checked on the server', async () => {
    const add = await machine.run(
      [
        'add',
        'Root/Team/Wiki',
        '--username',
        'wiki',
        '--url',
        'https://wiki',
        '--tag',
        'docs',
        '--field',
        'team=ops',
        '--password-stdin',
        '--json',
      ],
      { stdin: 'TESTSECRET-wiki\n' },
    );
    expect(add.code, add.stderr).toBe(0);
    expect(add.json).toMatchObject({ action: 'added', type: 'entry', path: 'Root/Team/Wiki' });
    const id = add.json.id as string;
    expect((await server.admin('GET', `/entries/${id}/password`)).password).toBe('TESTSECRET-wiki');
    expect(await server.admin('GET', `/entries/${id}`)).toMatchObject({
      username: 'wiki',
      url: 'https://wiki',
      tags: ['docs'],
      customFields: [{ name: 'team', value: 'ops', protected: false }],
    });

    const edit = await machine.run([
      'edit',
      'Root/Team/Wiki',
      '--username',
      'wiki-admin',
      '--field',
      'team=dev',
      '--generate',
      '--json',
    ]);
    expect(edit.code, edit.stderr).toBe(0);
    expect(edit.json.fields.sort()).toEqual(['customFields', 'password', 'username']);
    expect(edit.json.generatedPassword).toBe(true);
    expect(JSON.stringify(edit.json)).not.toMatch(/"password":/);
    const after = await server.admin('GET', `/entries/${id}`);
    expect(after.username).toBe('wiki-admin');
    expect(after.customFields).toEqual([{ name: 'team', value: 'dev', protected: false }]);
    const generated = (await server.admin('GET', `/entries/${id}/password`)).password as string;
    expect(generated).not.toBe('TESTSECRET-wiki');
    expect(generated.length).toBe(20);

    // Editing a field next to a protected one keeps the protected value.
    const keep = await machine.run(['edit', mail, '--field', 'region=us-east']);
    expect(keep.code, keep.stderr).toBe(0);
    const mailNow = await server.admin('GET', `/entries/${mail}`);
    expect(mailNow.customFields).toEqual([
      { name: 'pin', value: 'TESTSECRET-pin', protected: true },
      { name: 'region', value: 'us-east', protected: false },
    ]);

    const folder = await machine.run(['add', '--folder', 'Root/Team/Docs', '--json']);
    expect(folder.code, folder.stderr).toBe(0);
    const mv = await machine.run(['mv', 'Root/Team/Wiki', 'Root/Team/Docs', '--json']);
    expect(mv.code, mv.stderr).toBe(0);
    expect(mv.json.path).toBe('Root/Team/Docs/Wiki');
    expect((await server.admin('GET', `/entries/${id}`)).path).toBe('Root/Team/Docs/Wiki');

    const rm = await machine.run(['rm', 'Root/Team/Docs/Wiki']);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toBe('Entry moved to the Archive: Root/Team/Docs/Wiki\n');
    expect((await server.admin('GET', `/entries/${id}`)).archivedAt).not.toBeNull();
    const gone = await machine.run(['show', 'Root/Team/Docs/Wiki']);
    expect(gone.code).toBe(4);
  });

  it('gives one line and the documented exit code for each kind of failure', async () => {
    const m = another();
    const notLoggedIn = await m.run(['ls']);
    expect(notLoggedIn.code).toBe(3);
    expect(oneLineError(notLoggedIn)).toMatch(/not logged in/);

    expect((await login(m, bob.login, bob.password)).code).toBe(0);
    const denied = await m.run(['add', 'Root/Team/Nope', '--json']);
    expect(denied.code).toBe(7);
    oneLineError(denied);
    expect(denied.json.error.code).toBe('not_allowed');

    const invalid = await machine.run(['add', 'Root/Team/ bad name']);
    expect(invalid.code).toBe(9);
    expect(oneLineError(invalid)).toMatch(/\(\/name\)$/);

    await server.entry(team, { name: 'Twin' });
    await server.entry(team, { name: 'Twin' });
    const twin = await machine.run(['show', 'Root/Team/Twin']);
    expect(twin.code).toBe(2);
    expect(oneLineError(twin)).toMatch(/2 items are at Root\/Team\/Twin; give one of their ids/);

    const usage = await m.run(['mv', 'only-one']);
    expect(usage.code).toBe(2);
    const unknown = await m.run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(oneLineError(unknown)).toBe(
      'strongroom: no command frobnicate; strongroom help lists them',
    );

    const noClipboard = await machine.run(['show', 'Root/Team/Mail', '--copy'], {
      env: { DISPLAY: undefined, WAYLAND_DISPLAY: undefined },
    });
    expect(noClipboard.code).toBe(10);
    expect(oneLineError(noClipboard)).toMatch(/no clipboard here/);

    // An ended session: exit 3 with a hint to log in again.
    const session = JSON.parse(readFileSync(join(m.home, 'config', 'session.json'), 'utf8'));
    await server.call(session.token, 'POST', '/auth/logout');
    const ended = await m.run(['ls']);
    expect(ended.code).toBe(3);
    expect(oneLineError(ended)).toBe(
      'strongroom: your session has ended: log in again (strongroom login)',
    );
  });

  it('copies to the clipboard and clears it afterwards only if it still holds the password', async () => {
    // A stand-in for xclip that keeps the clipboard in a file.
    const bin = mkdtempSync(join(machine.home, 'fake-xclip-'));
    const board = join(bin, 'clipboard');
    writeFileSync(
      join(bin, 'xclip'),
      `#!/bin/sh\nfor a in "$@"; do [ "$a" = "-out" ] && { echo "$PPID" >> "${board}.reads"; cat "${board}" 2>/dev/null; exit 0; }; done\ncat > "${board}"\n`,
    );
    chmodSync(join(bin, 'xclip'), 0o755);
    const rule = await server.admin('POST', '/client-config/rules', {
      name: 'fast clipboard',
      principalType: 'user',
      principalId: alice.id,
      settings: { clipboardClearSeconds: 1 },
    });
    const env = { DISPLAY: ':99', PATH: `${bin}:${process.env.PATH}` };
    const r = await machine.run(['show', 'Root/Team/Mail', '--copy', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ copied: true, clipboardClearSeconds: 1, revealed: false });
    expect(r.json.password).toBeUndefined();
    expect(readFileSync(board, 'utf8')).toBe('TESTSECRET-mail-pw');
    await waitFor(() => readFileSync(board, 'utf8') === '');

    // Something else copied in the meantime is left alone.
    const reads = () =>
      existsSync(`${board}.reads`) ? readFileSync(`${board}.reads`, 'utf8').trim().split('\n') : [];
    const before = reads().length;
    const again = await machine.run(['show', 'Root/Team/Mail', '--copy'], { env });
    expect(again.code).toBe(0);
    writeFileSync(board, 'something the user copied');
    // Wait until the clearing helper has looked at the clipboard and exited.
    await waitFor(() => reads().length > before);
    const helper = Number(reads().at(-1));
    await waitFor(() => !alive(helper));
    expect(readFileSync(board, 'utf8')).toBe('something the user copied');
    await server.admin('DELETE', `/client-config/rules/${rule.id}`);
  });

  it('logs out: the token no longer works and is forgotten', async () => {
    const m = another();
    expect((await login(m, bob.login, bob.password)).code).toBe(0);
    const token = JSON.parse(readFileSync(join(m.home, 'config', 'session.json'), 'utf8')).token;
    const out = await m.run(['logout', '--json']);
    expect(out.json).toEqual({ loggedOut: true, serverSessionEnded: true, mode: 'online' });
    expect((await server.call(token, 'GET', '/me')).status).toBe(401);
    expect(existsSync(join(m.home, 'config', 'session.json'))).toBe(false);
  });

  it('asks for the two-factor code when the account has two-factor', async () => {
    const carol = { login: 'carol', password: secretOf('carol') };
    await server.createUser(carol.login, carol.password);
    const t = (
      await server.call(null, 'POST', '/auth/login', {
        loginName: carol.login,
        password: carol.password,
      })
    ).body.token;
    const enrol = await server.call(t, 'POST', '/me/two-factor/enrolment');
    const secret = base32Decode(enrol.body.secret)!;
    // Confirm with the previous step's code (accepted within the window) so the current one is unused.
    const confirm = await server.call(t, 'POST', '/me/two-factor/enrolment/confirm', {
      code: totp(secret, Date.now() - 30_000),
    });
    expect(confirm.status).toBe(200);

    const m = another();
    const noCode = await login(m, carol.login, carol.password);
    expect(noCode.code).toBe(3);
    expect(oneLineError(noCode)).toMatch(
      /two-factor code is needed: give it with --totp-stdin or in STRONGROOM_TOTP/,
    );
    const withCode = await m.run(
      ['login', '--server', server.url, '--user', carol.login, '--password-stdin', '--totp-stdin'],
      {
        stdin: `${carol.password}\n${totp(secret, Date.now())}\n`,
      },
    );
    expect(withCode.code, withCode.stderr).toBe(0);
    // At a terminal: the password is asked without echo, then the code (echoed).
    const code = totp(secret, Date.now() + 30_000);
    const tty = await runAtTerminal(
      m,
      ['login', '--server', server.url, '--user', carol.login],
      [
        ['Password for carol: ', `${carol.password}\r`],
        ['Two-factor code (or a recovery code): ', `${code}\r`],
      ],
    );
    expect(tty.code, tty.transcript).toBe(0);
    expect(tty.transcript).not.toContain(carol.password);
    expect(tty.transcript).toContain(code);
    expect(tty.transcript).toContain('Logged in to');
    const recovery = confirm.body.recoveryCodes[0] as string;
    const viaRecovery = await m.run(['login', '--password-stdin', '--totp-stdin'], {
      stdin: `${carol.password}\n${recovery}\n`,
    });
    expect(viaRecovery.code, viaRecovery.stderr).toBe(0);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
