import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newUuid } from '@strongroom/crypto';

/**
 * End-to-end support: a real server process (`packages/server/dist/main.js`, SQLite in a
 * temporary data directory, on a fixed free port so that it can be stopped and started again at
 * the same address) and the real client process (`packages/cli/bin/strongroom.js`), each
 * "machine" being its own STRONGROOM_HOME.
 */

export const SERVER_MAIN = fileURLToPath(new URL('../../../server/dist/main.js', import.meta.url));
export const CLI_BIN = fileURLToPath(new URL('../../bin/strongroom.js', import.meta.url));

/** Every password a test stores carries the suite's marker (the log check looks for it). */
export function secretOf(label: string): string {
  return `TESTSECRET-${label}-${newUuid().slice(0, 8)}-Aa1!`;
}

/**
 * Adds lines to the suite's log collection (see the server's global test setup): at the end the
 * run fails if any holds a test secret or a token. Server output and the client's stderr go there.
 */
function collect(name: string, text: string): void {
  const dir = process.env.STRONGROOM_TEST_LOG_DIR;
  if (dir && text)
    appendFileSync(
      join(dir, `${name}-${process.pid}.log`),
      text.endsWith('\n') ? text : `${text}\n`,
    );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

export class TestServer {
  private child: ChildProcess | null = null;
  output = '';
  adminToken = '';
  readonly url: string;
  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async create(env: Record<string, string> = {}): Promise<TestServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-cli-server-'));
    const s = new TestServer(dataDir, await freePort(), env);
    await s.start();
    await s.bootstrapAdmin();
    return s;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [SERVER_MAIN, '--port', String(this.port)], {
        env: {
          ...process.env,
          STRONGROOM_DATA_DIR: this.dataDir,
          STRONGROOM_LOG_LEVEL: 'info',
          STRONGROOM_ARGON2_MEMORY_KIB: '64',
          STRONGROOM_ARGON2_ITERATIONS: '1',
          STRONGROOM_LOGIN_RATE_ATTEMPTS: '1000',
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      let out = '';
      let started = false;
      // Keep reading for the whole life of the process (a full pipe would stall the server).
      const onData = (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        this.output += text;
        if (started) return;
        out += text;
        if (/listening on https?:\/\//.test(out)) {
          started = true;
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) =>
        reject(new Error(`server exited with ${code}:\n${out}`));
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', onExit);
    });
  }

  stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => {
        // The first-start banner holds the administrator's one-time password (no test marker).
        collect('cli-server', this.output.replace(/password:\s+\S+/, 'password: <one-time>'));
        this.output = '';
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async call<T = any>(
    token: string | null,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }

  /** As the administrator; fails the test on an unexpected status. */
  async admin<T = any>(method: string, path: string, body?: unknown, expect?: number): Promise<T> {
    const r = await this.call<T>(this.adminToken, method, path, body);
    if (
      (expect !== undefined && r.status !== expect) ||
      (expect === undefined && r.status >= 300)
    ) {
      throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
    }
    return r.body;
  }

  private async bootstrapAdmin(): Promise<void> {
    const m = /password:\s+(\S+)/.exec(this.output);
    if (!m) throw new Error(`no one-time password in the server output:\n${this.output}`);
    const first = await this.call(null, 'POST', '/auth/login', {
      loginName: 'admin',
      password: m[1],
    });
    const adminPassword = secretOf('admin');
    const changed = await this.call(first.body.token, 'POST', '/me/password', {
      currentPassword: m[1],
      newPassword: adminPassword,
    });
    if (changed.status >= 300) throw new Error(`password change: ${JSON.stringify(changed.body)}`);
    const again = await this.call(null, 'POST', '/auth/login', {
      loginName: 'admin',
      password: adminPassword,
      client: 'api',
    });
    this.adminToken = again.body.token;
  }

  async createUser(loginName: string, password: string): Promise<string> {
    const u = await this.admin<{ id: string }>('POST', '/users', {
      loginName,
      password,
      mustChangePassword: false,
    });
    return u.id;
  }

  async rootId(): Promise<string> {
    const t = await this.admin<{ rootId: string }>('GET', '/vault/tree');
    return t.rootId;
  }

  async folder(parentId: string, name: string): Promise<string> {
    return (await this.admin<{ id: string }>('POST', '/folders', { parentId, name })).id;
  }

  async entry(folderId: string, body: Record<string, unknown>): Promise<string> {
    return (await this.admin<{ id: string }>('POST', '/entries', { folderId, ...body })).id;
  }

  async levelId(builtinKey: string): Promise<string> {
    const l = await this.admin<{ levels: { id: string; builtinKey: string | null }[] }>(
      'GET',
      '/access-levels',
    );
    return l.levels.find((x) => x.builtinKey === builtinKey)!.id;
  }

  async grant(
    node: { folder?: string; entry?: string },
    userId: string,
    level: string,
    expiresAt: string | null = null,
  ): Promise<void> {
    const path = node.folder ? `/folders/${node.folder}/access` : `/entries/${node.entry}/access`;
    await this.admin('POST', path, {
      principalType: 'user',
      principalId: userId,
      accessLevelId: await this.levelId(level),
      ...(expiresAt ? { expiresAt } : {}),
    });
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

/** One "machine": a client directory and a machine identity. */
export class Machine {
  readonly home: string;
  constructor(
    readonly machineId = newUuid().replace(/-/g, ''),
    home?: string,
  ) {
    this.home = home ?? mkdtempSync(join(tmpdir(), 'strongroom-cli-home-'));
  }

  env(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const base: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      HOME: this.home,
      STRONGROOM_HOME: this.home,
      STRONGROOM_MACHINE_ID: this.machineId,
      STRONGROOM_TEST_KDF_ITERATIONS: '1',
      STRONGROOM_CONNECT_TIMEOUT_SECONDS: '3',
      ...extra,
    };
    return Object.fromEntries(
      Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined),
    );
  }

  /** Runs the client as its own process; `stdin` is what standard input holds. */
  run(
    args: string[],
    o: { env?: Record<string, string | undefined>; stdin?: string } = {},
  ): Promise<CliRun> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI_BIN, ...args], {
        env: this.env(o.env),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      child.on('error', reject);
      child.on('exit', (code) => {
        collect('cli-client', stderr);
        let json: any = undefined;
        try {
          json = JSON.parse(stdout);
        } catch {
          // not JSON
        }
        resolve({ code: code ?? -1, stdout, stderr, json });
      });
      child.stdin.end(o.stdin ?? '');
    });
  }

  destroy(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** Asserts the one-line error convention: exactly one line, `strongroom: …`, no stack trace. */
export function oneLineError(r: CliRun): string {
  const lines = r.stderr.trimEnd().split('\n');
  const last = lines.at(-1) ?? '';
  if (!last.startsWith('strongroom: ') || /\n\s+at /.test(r.stderr)) {
    throw new Error(`not a one-line error:\n${r.stderr}`);
  }
  return last;
}

const PTY_RUN = fileURLToPath(new URL('./pty-run.py', import.meta.url));

/**
 * Runs the client at a (pseudo) terminal, typing `send` after each `expect` appears; returns the
 * exit code and everything the terminal showed (to check that passwords are not echoed).
 */
export function runAtTerminal(
  m: Machine,
  args: string[],
  steps: [expect: string, send: string][],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; transcript: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [PTY_RUN], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out) as { code: number; transcript: string });
      } catch {
        reject(new Error(`pty helper: ${out}`));
      }
    });
    child.stdin.end(
      JSON.stringify({ argv: [process.execPath, CLI_BIN, ...args], env: m.env(env), steps }),
    );
  });
}
