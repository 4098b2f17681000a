import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import {
  EnvelopeError,
  formatWrappingKey,
  newKeyMaterial,
  parseWrappingKey,
  unwrapDataKey,
  verifyPassword,
} from '@strongroom/crypto';
import { compose, type Services } from '../compose.js';
import type { ServerConfig } from '../config/config.js';
import {
  DIALECTS,
  TEST_HASH,
  createTestDatabase,
  testConfig,
  testSecret,
  type TestDatabase,
} from '../test-support/harness.js';
import { pendingKeyFilePath } from '../keys/keys.js';

const CLI = fileURLToPath(new URL('../../dist/admin/cli.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built command line as `npm run admin` does. */
function cli(args: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function envOf(db: TestDatabase, config: ServerConfig): Record<string, string> {
  return {
    STRONGROOM_DATA_DIR: db.dataDir,
    STRONGROOM_ARGON2_MEMORY_KIB: String(TEST_HASH.memoryCost),
    STRONGROOM_ARGON2_ITERATIONS: String(TEST_HASH.timeCost),
    STRONGROOM_ARGON2_PARALLELISM: String(TEST_HASH.parallelism),
    STRONGROOM_LOG_LEVEL: 'warn',
    ...(config.wrappingKey
      ? { STRONGROOM_WRAPPING_KEY: config.wrappingKey }
      : { STRONGROOM_WRAPPING_KEY_FILE: config.wrappingKeyFile }),
    ...(db.databaseUrl ? { STRONGROOM_DATABASE_URL: db.databaseUrl } : {}),
    ...(db.pgSchema ? { STRONGROOM_PG_SCHEMA: db.pgSchema } : {}),
  };
}

/** An error is one line on stderr, with no stack trace. */
function expectOneLineError(r: Run, code: number, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const CONTEXT = 'entries:00000000-0000-4000-8000-00000000000b:password';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first');
});

describe('admin command line without a database', () => {
  it('prints help, and refuses unknown commands, options and passwords in argv', async () => {
    const help = await cli(['help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/verify-audit[\s\S]*rotate-key[\s\S]*create-user/);
    expect((await cli([], {})).stdout).toBe(help.stdout);
    expect((await cli(['--help'], {})).stdout).toBe(help.stdout);
    const json = await cli(['help', '--json'], {});
    expect(JSON.parse(json.stdout)).toEqual({ command: 'help', usage: expect.any(String) });

    expectOneLineError(await cli(['frobnicate'], {}), 2, /unknown command "frobnicate"/);
    expectOneLineError(await cli(['verify-audit', '--verbose'], {}), 2, /--verbose/);
    expectOneLineError(await cli(['verify-audit', 'extra'], {}), 2, /unexpected argument "extra"/);
    expectOneLineError(
      await cli(['create-user', '--login', 'x', '--password', 'hunter2'], {}),
      2,
      /never taken from the command line/,
    );
    expectOneLineError(await cli(['create-user'], {}), 2, /needs --login/);
    const jsonError = await cli(['frobnicate', '--json'], {});
    expect(jsonError.code).toBe(2);
    expect(JSON.parse(jsonError.stderr)).toEqual({
      error: { code: 'usage', message: 'unknown command "frobnicate"' },
    });
  });

  it('refuses to work on a directory that holds no database', async () => {
    const db = await createTestDatabase('sqlite');
    try {
      const r = await cli(['verify-audit'], { STRONGROOM_DATA_DIR: db.dataDir });
      expectOneLineError(r, 1, /there is no database in/);
      expect(existsSync(`${db.dataDir}/strongroom.db`)).toBe(false);
    } finally {
      await db.drop();
    }
  });
});

describe.each(DIALECTS)('admin command line (%s)', (dialect) => {
  let db: TestDatabase;
  let config: ServerConfig;
  let services: Services;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase(dialect);
    config = testConfig(db);
    services = await compose(config, { createKeyFile: true, backgroundJobs: false });
    env = envOf(db, config);
    for (let i = 0; i < 5; i++) {
      await services.audit.record({
        event: 'Login',
        status: 'success',
        actor: { userId: null, loginName: `user${i}`, ip: '127.0.0.1' },
      });
    }
  });
  afterAll(async () => {
    await services.close();
    await db.drop();
  });

  it('create-user reads the password from stdin and makes the user change it', async () => {
    const password = testSecret('cli-create');
    const r = await cli(
      ['create-user', '--login', 'carol@corp.example', '--admin'],
      env,
      `${password}\n`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Created the user carol@corp\.example \([0-9a-f-]{36}\) as an administrator\./,
    );
    expect(r.stdout).not.toContain(password);
    const row = await services.store.db
      .selectFrom('users')
      .selectAll()
      .where('login_key', '=', 'carol@corp.example')
      .executeTakeFirstOrThrow();
    expect(row.must_change_password).toBe(1);
    expect((await verifyPassword(row.password_hash, password, TEST_HASH)).ok).toBe(true);
    // The trailing newline of the piped line is not part of the password.
    expect((await verifyPassword(row.password_hash, `${password}\n`, TEST_HASH)).ok).toBe(false);

    const again = await cli(
      ['create-user', '--login', 'Carol@corp.example', '--json'],
      env,
      'x'.repeat(20),
    );
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr).error.code).toBe('conflict');
    expectOneLineError(
      await cli(['create-user', '--login', 'dave'], env, ''),
      2,
      /no password given/,
    );
  });

  it('reset-password takes STRONGROOM_NEW_PASSWORD, and names an unknown user', async () => {
    const password = testSecret('cli-reset');
    const r = await cli(['reset-password', '--login', 'CAROL@corp.example', '--json'], {
      ...env,
      STRONGROOM_NEW_PASSWORD: password,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      command: 'reset-password',
      user: { loginName: 'carol@corp.example', administrator: true, mustChangePassword: true },
    });
    const row = await services.store.db
      .selectFrom('users')
      .select('password_hash')
      .where('login_key', '=', 'carol@corp.example')
      .executeTakeFirstOrThrow();
    expect((await verifyPassword(row.password_hash, password, TEST_HASH)).ok).toBe(true);
    expectOneLineError(
      await cli(['reset-password', '--login', 'nobody'], {
        ...env,
        STRONGROOM_NEW_PASSWORD: password,
      }),
      1,
      /nobody does not exist/,
    );
    expectOneLineError(await cli(['reset-password', '--login', 'x', '--admin'], env), 2, /--admin/);
  });

  it('verify-audit exits 0 on an intact log and 1 with the first bad record', async () => {
    const ok = await cli(['verify-audit'], env);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^The audit log is intact: \d+ records checked\./);
    const okJson = JSON.parse((await cli(['verify-audit', '--json'], env)).stdout);
    expect(okJson).toMatchObject({ command: 'verify-audit', ok: true });

    const rows = await services.store.db
      .selectFrom('audit_log')
      .select('seq')
      .orderBy('seq')
      .execute();
    const victim = Number(rows[2]!.seq);
    await sql`update audit_log set login_name = 'nobody' where seq = ${victim}`.execute(
      services.store.db,
    );
    const bad = await cli(['verify-audit'], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`^The audit log is BROKEN at record #${victim}: `));
    const badJson = await cli(['verify-audit', '--json'], env);
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, firstBadSeq: victim });
    await sql`update audit_log set login_name = 'user2' where seq = ${victim}`.execute(
      services.store.db,
    );
    expect((await cli(['verify-audit'], env)).code).toBe(0);
  });

  it('rotate-key replaces the key file; every secret still opens, the old key opens nothing', async () => {
    const value = testSecret('cli-rotate');
    const sealed = services.sealer.sealSecret(value, CONTEXT);
    const oldKey = parseWrappingKey(readFileSync(config.wrappingKeyFile, 'utf8'));
    const r = await cli(['rotate-key'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^The wrapping key was rotated: wk-[0-9a-f]{12} -> wk-[0-9a-f]{12} \(1 data key re-wrapped\)/,
    );
    expect(r.stdout).toContain(`The key file ${config.wrappingKeyFile} now holds the new key`);
    const newKey = parseWrappingKey(readFileSync(config.wrappingKeyFile, 'utf8'));
    expect(newKey.equals(oldKey)).toBe(false);
    expect(r.stdout).not.toContain(formatWrappingKey(newKey));
    expect(statSync(config.wrappingKeyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(pendingKeyFilePath(config))).toBe(false);

    const fresh = await compose(config, { createKeyFile: false, backgroundJobs: false });
    try {
      expect(fresh.sealer.openSecretText(sealed, CONTEXT)).toBe(value);
      const rows = await fresh.store.db.selectFrom('data_keys').selectAll().execute();
      for (const row of rows) {
        const dk = { id: row.id, wrapped: Buffer.from(row.wrapped) };
        expect(() => unwrapDataKey(oldKey, dk)).toThrow(EnvelopeError);
      }
      const rotated = await fresh.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('event', '=', 'Wrapping Key Rotated')
        .execute();
      expect(rotated).toHaveLength(1);
      expect(rotated[0]!.login_name).toBe('strongroom-admin');
    } finally {
      await fresh.close();
    }
    expect((await cli(['verify-audit'], env)).code).toBe(0);
  });
});

describe.each(DIALECTS)('admin rotate-key with the key in the environment (%s)', (dialect) => {
  it('prints the new key once, and the server opens every secret with it', async () => {
    const db = await createTestDatabase(dialect);
    try {
      const config = testConfig(db, { wrappingKey: formatWrappingKey(newKeyMaterial()) });
      const value = testSecret('cli-env');
      const first = await compose(config, { createKeyFile: false, backgroundJobs: false });
      const sealed = first.sealer.sealSecret(value, CONTEXT);
      await first.close();

      const r = await cli(['rotate-key'], envOf(db, config));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const shown = /\n {2}([A-Za-z0-9+/=]{44})\n/.exec(r.stdout);
      expect(shown).not.toBeNull();
      expect(r.stdout).toContain('Set STRONGROOM_WRAPPING_KEY to it on every server');
      expect(existsSync(config.wrappingKeyFile)).toBe(false);

      await expect(compose(config, { createKeyFile: false })).rejects.toThrow(
        /set STRONGROOM_WRAPPING_KEY to the new key/,
      );
      const after = await compose(
        { ...config, wrappingKey: shown![1]! },
        { createKeyFile: false, backgroundJobs: false },
      );
      try {
        expect(after.sealer.openSecretText(sealed, CONTEXT)).toBe(value);
        expect(existsSync(pendingKeyFilePath(config))).toBe(false);
      } finally {
        await after.close();
      }
    } finally {
      await db.drop();
    }
  });
});
