#!/usr/bin/env node
/**
 * npm run bench:server — server throughput and latency on loopback, SQLite then PostgreSQL.
 *
 * Seeds 10,000 entries in 500 folders with 200 grants across 50 users and 10 roles through the
 * real services, starts the built server as its own process, and measures with autocannon in one
 * run: (a) a trivial authenticated endpoint (GET /api/v1/me), (b) the whole visible tree of a
 * user who sees every entry, (c) password fetch (each one writes an audit record). Prints
 * requests/s, p50 and p99 for each, and the ratios against (a) measured in the same run.
 * Then (e)–(g) the Pleasant-compatible API against the native API for the calls path-lookup
 * tools make, in alternating rounds on one server process: a token (password grant vs native
 * login), a search, a password fetch; printed with the ratio Pleasant / native (see
 * `pleasantBench`).
 * Then (d) the offline package of that user, who may take all 10,000 entries offline (1% with
 * a 16 KiB attachment): wall time of the request and peak server memory above idle, on a fresh
 * server process (see `offlineBench`). The parts run in this order; the letters are those of
 * the printed output.
 *
 * Options (environment): BENCH_DIALECTS=sqlite,postgres  BENCH_SECONDS=10  BENCH_CONNECTIONS=10
 * BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test  BENCH_ENTRIES / BENCH_FOLDERS (smaller runs)
 * BENCH_PARTS=http,offline,pleasant (any of them)  BENCH_OFFLINE_RUNS=5  BENCH_SEARCH_CONNECTIONS=2.
 */
import autocannon, { type RequestSpec, type Result } from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import pg from 'pg';
import { formatWrappingKey, newKeyMaterial, newUuid } from '@strongroom/crypto';
import { loadConfig } from '../config/config.js';
import { compose } from '../compose.js';
import type { Dialect } from '../db/migrator.js';
import { seedBenchVault, type BenchVault } from './seed-vault.js';
import { startServerProcess } from '../shared/server-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
/** Connections for searches in the Pleasant part (see `pleasantBench`). */
const SEARCH_CONNECTIONS = Number(process.env.BENCH_SEARCH_CONNECTIONS ?? 2);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SHAPE = {
  entries: Number(process.env.BENCH_ENTRIES ?? 10_000),
  folders: Number(process.env.BENCH_FOLDERS ?? 500),
  users: 50,
  roles: 10,
  grants: 200,
  // 1% of the entries carry a 16 KiB attachment (the offline package carries them all).
  attachmentEvery: 100,
  attachmentBytes: 16 * 1024,
};
const PARTS = new Set((process.env.BENCH_PARTS ?? 'http,offline,pleasant').split(','));
const OFFLINE_RUNS = Number(process.env.BENCH_OFFLINE_RUNS ?? 5);
// Cheap hashes for the 51 seeded users: logins are not what is measured here.
const HASH_ENV = { STRONGROOM_ARGON2_MEMORY_KIB: '1024', STRONGROOM_ARGON2_ITERATIONS: '1' };

interface Row {
  name: string;
  /** Requests per second over all rounds. */
  rps: number;
  /** Median of the rounds' p50, and the worst of their p99 (ms). */
  p50: number;
  p99: number;
  failed: number;
}

const ROUNDS = 3;
/** Tree requests timed right after a change. */
const COLD_SAMPLES = 100;

function combine(rounds: Result[]): Omit<Row, 'name'> {
  const total = rounds.reduce((n, r) => n + r.requests.total, 0);
  const seconds = rounds.reduce((n, r) => n + r.duration, 0);
  const p50s = rounds.map((r) => r.latency.p50).sort((x, y) => x - y);
  return {
    rps: total / seconds,
    p50: p50s[Math.floor(p50s.length / 2)]!,
    p99: Math.max(...rounds.map((r) => r.latency.p99)),
    failed: rounds.reduce((n, r) => n + r.non2xx + r.errors, 0),
  };
}

function print(dialect: string, rows: Row[], seedSeconds: number): void {
  const [a, b, c] = rows as [Row, Row, Row];
  console.log(
    `\n== ${dialect}: ${SHAPE.entries} entries in ${SHAPE.folders} folders, ${SHAPE.grants} grants, ${SHAPE.users} users, ${SHAPE.roles} roles (seeded in ${seedSeconds.toFixed(1)} s)`,
  );
  console.log(
    `   ${CONNECTIONS} connections, ${SECONDS} s per endpoint in ${ROUNDS} alternating rounds\n`,
  );
  console.log(
    'endpoint                               req/s      p50 ms   p99 ms    failed  ratio vs (a)',
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(38)} ${r.rps.toFixed(0).padStart(7)} ${String(r.p50).padStart(9)} ${String(r.p99).padStart(8)} ${String(r.failed).padStart(9)}  ${(r.rps / a.rps).toFixed(2)}`,
    );
  }
  console.log(`\nratio b/a (tree vs trivial, req/s):     ${(b.rps / a.rps).toFixed(3)}`);
  console.log(
    `ratio c/a (password vs trivial, req/s): ${(c.rps / a.rps).toFixed(3)}  target ≥ 0.30 → ${c.rps / a.rps >= 0.3 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `tree under load (${CONNECTIONS} connections; served from the per-caller tree cache while nothing changes): p99 ${b.p99} ms`,
  );
}

async function run(
  url: string,
  token: string,
  path: string | (() => string),
  seconds: number,
): Promise<Result> {
  const headers = { authorization: `Bearer ${token}` };
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers,
    requests: [
      typeof path === 'string'
        ? { method: 'GET', path }
        : { method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) {
    console.warn(
      `  warning: ${result.non2xx} non-2xx and ${result.errors} errors on ${typeof path === 'string' ? path : 'password fetch'}`,
    );
  }
  return result;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * The tree right after something visible changed, so the server builds it afresh: an entry is
 * edited (not timed), then the tree is fetched and read in full (timed).
 */
async function coldTree(url: string, token: string, ids: string[]): Promise<number[]> {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const times: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    const edit = await fetch(`${url}/api/v1/entries/${ids[i]}`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ url: `https://changed-${i}.bench.example` }),
    });
    if (!edit.ok) throw new Error(`bench edit failed: ${edit.status}`);
    times.push(await timedGet(`${url}/api/v1/vault/tree`, token));
  }
  return times.sort((a, b) => a - b);
}

/** Milliseconds until the whole body has arrived (a plain HTTP client: no parsing). */
function timedGet(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = httpGet(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`tree answered ${res.statusCode}`));
      res.on('data', () => undefined);
      res.on('end', () => resolve(performance.now() - t));
    });
    req.on('error', reject);
  });
}

/** A field of /proc/<pid>/status in KiB (VmRSS: resident now; VmHWM: peak since reset). */
function procKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** CPU time the process has used so far (user + system), in milliseconds. */
function cpuMs(pid: number): number {
  // Fields after the command name (which is in parentheses): utime and stime are the 12th and
  // 13th, in clock ticks (100 per second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resets the process's peak resident size (VmHWM) to its current size (Linux ≥ 4.0). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** KiB as decimal megabytes (the target is written in MB). */
const mb = (kib: number): string => ((kib * 1024) / 1e6).toFixed(0);

/**
 * (d) The offline package of a user who may take every entry offline, on a fresh server process
 * (so its memory is that of this work alone): after login and one trivial request, the idle
 * resident size is read; then the package is requested OFFLINE_RUNS + 1 times, one at a time
 * (the first with cold caches), each timed from sending the request to the last byte of the
 * body, and the server's peak resident size during it (VmHWM, reset before each request) is
 * compared with idle. Every request registers a cache and writes 10,000 audit records. The
 * memory target is judged on the first package (idle → peak); the peaks of the packages after it
 * are printed too, and include what V8 has not yet collected of the earlier ones.
 */
async function offlineBench(
  env: Record<string, string>,
  seer: { loginName: string; password: string },
): Promise<void> {
  // The Pleasant part, when it ran just before, left its token logins in the database's
  // rate-limit window (counted across processes): this login is not what is measured.
  const server = await startServerProcess({ ...env, STRONGROOM_LOGIN_RATE_ATTEMPTS: '0' });
  try {
    const pid = server.child.pid!;
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...seer, client: 'api' }),
    });
    if (!login.ok) throw new Error(`bench login failed: ${login.status}`);
    const { token } = (await login.json()) as { token: string };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await (await fetch(`${server.url}/api/v1/me`, { headers })).arrayBuffer();
    await new Promise((r) => setTimeout(r, 500));
    const idle = procKiB(pid, 'VmRSS');
    const runs: Array<{ ms: number; peak: number; before: number; bytes: number; cpu: number }> =
      [];
    for (let i = 0; i <= OFFLINE_RUNS; i++) {
      resetPeak(pid);
      const before = procKiB(pid, 'VmRSS');
      const cpu = cpuMs(pid);
      const t = performance.now();
      const res = await fetch(`${server.url}/api/v1/offline/package`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ clientLabel: 'bench' }),
      });
      const body = Buffer.from(await res.arrayBuffer());
      const ms = performance.now() - t;
      const peak = procKiB(pid, 'VmHWM');
      const used = cpuMs(pid) - cpu;
      if (!res.ok) throw new Error(`offline package answered ${res.status}: ${body.toString()}`);
      if (i === 0) {
        const pkg = JSON.parse(body.toString('utf8')) as {
          entries: Array<{ attachments: unknown[] }>;
        };
        const withFiles = pkg.entries.filter((e) => e.attachments.length > 0).length;
        if (pkg.entries.length !== SHAPE.entries) {
          throw new Error(`the package holds ${pkg.entries.length} entries, not ${SHAPE.entries}`);
        }
        console.log(
          `\n(d) POST /api/v1/offline/package: ${pkg.entries.length} entries, ${withFiles} with a ${SHAPE.attachmentBytes / 1024} KiB attachment, body ${(body.length / 1048576).toFixed(1)} MB`,
        );
      }
      runs.push({ ms, peak, before, bytes: body.length, cpu: used });
    }
    const [cold, ...warm] = runs;
    const times = warm.map((r) => r.ms).sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const fromIdle = cold!.peak - idle;
    const worstPeak = Math.max(...runs.map((r) => r.peak)) - idle;
    const cpus = warm.map((r) => r.cpu).sort((a, b) => a - b);
    const rises = runs.map((r) => r.peak - r.before).sort((a, b) => a - b);
    console.log(
      `    first request (cold caches): ${cold!.ms.toFixed(0)} ms; then median of ${warm.length}: ${median.toFixed(0)} ms (${times[0]!.toFixed(0)}–${times[times.length - 1]!.toFixed(0)})  target < 1000 ms → ${median < 1000 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `    server CPU time per request (user + system, median of ${cpus.length}): ${cpus[Math.floor(cpus.length / 2)]} ms`,
    );
    console.log(
      `    server resident memory: idle ${mb(idle)} MB; peak above idle for one package (the first, from idle): ${mb(fromIdle)} MB  target < 200 MB → ${fromIdle * 1024 < 200e6 ? 'met' : 'NOT met'}`,
    );
    // Successive packages: the V8 heap keeps earlier packages' garbage until it collects, so
    // these peaks include memory the process would give back under pressure (not a leak).
    console.log(
      `    ${runs.length} packages in a row, peak above idle: ${runs.map((r) => mb(r.peak - idle)).join(', ')} MB (worst ${mb(worstPeak)} MB, earlier packages' uncollected garbage included); each request's own rise above the size before it: median ${mb(rises[Math.floor(rises.length / 2)]!)} MB, worst ${mb(rises[rises.length - 1]!)} MB`,
    );
  } finally {
    await server.stop();
  }
}

/** One autocannon run of a request (with its own headers and body) for `seconds`. */
async function runSpec(
  url: string,
  spec: RequestSpec,
  seconds: number,
  label: string,
  connections = CONNECTIONS,
): Promise<Result> {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [spec],
  });
  if (result.non2xx > 0 || result.errors > 0) {
    console.warn(`  warning: ${result.non2xx} non-2xx and ${result.errors} errors on ${label}`);
  }
  return result;
}

/**
 * (e)–(g): what a path-lookup tool does through the Pleasant-compatible API — get a token,
 * search for a name, fetch the password — against the same calls through the native API, on
 * one server process, in alternating rounds (so a disturbance of the machine weighs on both
 * alike). Tokens: every request is a real login (Argon2 with the bench's cheap parameters,
 * a session row, a Login audit record); the login rate limit is lifted for this part only.
 * Searches look for `server-<n>` (1 to 11 hits among 10,000 entries; the notes of every entry
 * are decrypted); password fetches write a Password Fetched record each.
 */
async function pleasantBench(
  env: Record<string, string>,
  seeded: BenchVault,
  label: string,
): Promise<void> {
  const server = await startServerProcess({ ...env, STRONGROOM_LOGIN_RATE_ATTEMPTS: '1000000000' });
  try {
    const { loginName, password } = seeded.seer;
    const nativeLogin = JSON.stringify({ loginName, password, client: 'api' });
    const form = new URLSearchParams({
      grant_type: 'password',
      username: loginName,
      password,
    }).toString();
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: nativeLogin,
    });
    if (!login.ok) throw new Error(`bench login failed: ${login.status}`);
    const nativeToken = ((await login.json()) as { token: string }).token;
    const tokenRes = await fetch(`${server.url}/OAuth2/Token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    if (!tokenRes.ok) throw new Error(`bench token failed: ${tokenRes.status}`);
    const pleasantToken = ((await tokenRes.json()) as { access_token: string }).access_token;

    // The same answers both ways before anything is timed.
    const ids = seeded.entryIds;
    const check = await fetch(`${server.url}/api/v5/rest/search`, {
      method: 'POST',
      headers: { authorization: pleasantToken, 'content-type': 'application/json' },
      body: JSON.stringify({ Search: 'server-123' }),
    });
    const found = (await check.json()) as {
      Credentials: Array<{ Id: string; Name: string; Path: string }>;
    };
    const hit = found.Credentials.find((c) => c.Name === 'server-123');
    const expected = ids.filter((_, i) => `server-${i}`.includes('server-123')).length;
    if (
      !hit ||
      found.Credentials.length !== expected ||
      hit.Id !== ids[123] ||
      !hit.Path.endsWith('/')
    ) {
      throw new Error(
        `Pleasant search answered ${check.status} with ${found.Credentials.length} hits`,
      );
    }
    const pw = await fetch(`${server.url}/api/v5/rest/entries/${ids[123]}/password`, {
      headers: { authorization: pleasantToken },
    });
    if ((await pw.json()) !== 'Bench-secret-123-xyz') throw new Error('Pleasant password mismatch');

    let s = 0;
    let f = 0;
    const term = () => `server-${(s++ * 7919) % ids.length}`;
    const entry = () => ids[(f++ * 104729) % ids.length]!;
    const native = { authorization: `Bearer ${nativeToken}` };
    const bare = { authorization: pleasantToken };
    const pairs: Array<[string, RequestSpec, string, RequestSpec]> = [
      [
        '(e) POST /api/v1/auth/login',
        {
          method: 'POST',
          path: '/api/v1/auth/login',
          headers: { 'content-type': 'application/json' },
          body: nativeLogin,
        },
        "(e') POST /OAuth2/Token",
        {
          method: 'POST',
          path: '/OAuth2/Token',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        },
      ],
      [
        '(f) GET /api/v1/vault/search?q=',
        {
          method: 'GET',
          headers: native,
          setupRequest: (req) => ({ ...req, path: `/api/v1/vault/search?q=${term()}` }),
        },
        "(f') POST /api/v5/rest/search",
        {
          method: 'POST',
          path: '/api/v5/rest/search',
          headers: { ...bare, 'content-type': 'application/json' },
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ Search: term() }) }),
        },
      ],
      [
        '(g) GET /api/v1/entries/:id/password',
        {
          method: 'GET',
          headers: native,
          setupRequest: (req) => ({ ...req, path: `/api/v1/entries/${entry()}/password` }),
        },
        "(g') GET /api/v5/rest/entries/:id/password",
        {
          method: 'GET',
          headers: bare,
          setupRequest: (req) => ({ ...req, path: `/api/v5/rest/entries/${entry()}/password` }),
        },
      ],
    ];
    const targets = pairs.flatMap(([a, sa, b, sb]) => [
      [a, sa],
      [b, sb],
    ]) as Array<[string, RequestSpec]>;
    // A search takes a good part of a second of CPU (every note is decrypted): with 10
    // connections each would wait seconds and a round would hold a dozen completions, too few
    // to compare. Searches run on SEARCH_CONNECTIONS, in rounds ROUNDS times as long.
    const isSearch = (name: string) => name.includes('search');
    const connectionsOf = (name: string) => (isSearch(name) ? SEARCH_CONNECTIONS : CONNECTIONS);
    const secondsOf = (name: string) => (isSearch(name) ? SECONDS : SECONDS / ROUNDS);
    for (const [name, spec] of targets) {
      await runSpec(server.url, spec, 2, name, connectionsOf(name));
    }
    const results: Result[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, [name, spec]] of targets.entries()) {
        results[k]!.push(
          await runSpec(server.url, spec, secondsOf(name), name, connectionsOf(name)),
        );
      }
    }
    const rows: Row[] = targets.map(([name], k) => ({ name, ...combine(results[k]!) }));
    console.log(
      `\n== ${label}: Pleasant-compatible API vs native API in ${ROUNDS} alternating rounds: token and password ${CONNECTIONS} connections, ${SECONDS} s per call; search ${SEARCH_CONNECTIONS} connections, ${SECONDS * ROUNDS} s per call\n`,
    );
    console.log('call                                        req/s      p50 ms   p99 ms    failed');
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(42)} ${r.rps.toFixed(0).padStart(7)} ${String(r.p50).padStart(9)} ${String(r.p99).padStart(8)} ${String(r.failed).padStart(9)}`,
      );
    }
    console.log('');
    for (let i = 0; i < rows.length; i += 2) {
      const ratio = rows[i + 1]!.rps / rows[i]!.rps;
      console.log(
        `ratio ${rows[i + 1]!.name.slice(0, 4)} / ${rows[i]!.name.slice(0, 3)} (req/s): ${ratio.toFixed(3)}  target ≥ 0.80 → ${ratio >= 0.8 ? 'met' : 'NOT met'}`,
      );
    }
  } finally {
    await server.stop();
  }
}

/** (a)–(c) and the tree after a change, on a server process of their own. */
async function httpBench(
  env: Record<string, string>,
  seeded: BenchVault,
  label: string,
): Promise<void> {
  const server = await startServerProcess(env);
  try {
    const login = await fetch(`${server.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...seeded.seer, client: 'api' }),
    });
    if (!login.ok) throw new Error(`bench login failed: ${login.status} ${await login.text()}`);
    const { token } = (await login.json()) as { token: string };

    const tree = await fetch(`${server.url}/api/v1/vault/tree`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const treeBody = (await tree.json()) as { entries: unknown[] };
    if (treeBody.entries.length !== SHAPE.entries) {
      throw new Error(
        `the tree shows ${treeBody.entries.length} entries, expected ${SHAPE.entries}`,
      );
    }

    let i = 0;
    const ids = seeded.entryIds;
    const password = () => `/api/v1/entries/${ids[i++ % ids.length]}/password`;
    // The three are measured in alternating rounds, so a passing disturbance of the machine
    // weighs on all of them alike and the ratios stay meaningful.
    const targets: Array<[string, string | (() => string)]> = [
      ['(a) GET /api/v1/me', '/api/v1/me'],
      ['(b) GET /api/v1/vault/tree (10k)', '/api/v1/vault/tree'],
      ['(c) GET /api/v1/entries/:id/password', password],
    ];
    // Warm-up (not measured): lets the JIT and the caches settle as on a server that has run.
    for (const [, path] of targets) await run(server.url, token, path, 2);
    const results: Result[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, [, path]] of targets.entries()) {
        results[k]!.push(await run(server.url, token, path, SECONDS / ROUNDS));
      }
    }
    const rows: Row[] = targets.map(([name], k) => ({ name, ...combine(results[k]!) }));
    const cold = await coldTree(server.url, token, ids);
    print(label, rows, seeded.seconds);
    console.log(
      `tree after a change (cache miss, one request at a time, ${cold.length} requests): p50 ${pct(cold, 50).toFixed(1)} ms, p99 ${pct(cold, 99).toFixed(1)} ms  target < 100 ms → ${pct(cold, 99) < 100 ? 'met' : 'NOT met'}`,
    );
  } finally {
    await server.stop();
  }
}

async function benchDialect(dialect: Dialect): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-bench-'));
  const wrappingKey = formatWrappingKey(newKeyMaterial());
  const schema = `bench_${newUuid().replace(/-/g, '').slice(0, 12)}`;
  const env: Record<string, string> = {
    ...HASH_ENV,
    STRONGROOM_DATA_DIR: dataDir,
    STRONGROOM_WRAPPING_KEY: wrappingKey,
    STRONGROOM_LOG_LEVEL: 'warn',
    STRONGROOM_LOGIN_RATE_ATTEMPTS: '1000',
  };
  if (dialect === 'postgres') {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`create schema ${schema}`);
    await c.end();
    env.STRONGROOM_DATABASE_URL = PG_URL;
    env.STRONGROOM_PG_SCHEMA = schema;
  }
  try {
    const services = await compose(loadConfig(env), { backgroundJobs: false });
    const seeded = await seedBenchVault(services, SHAPE);
    await services.close();

    const label = dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL';
    if (PARTS.has('http')) await httpBench(env, seeded, label);
    else
      console.log(
        `\n== ${label}: ${SHAPE.entries} entries (seeded in ${seeded.seconds.toFixed(1)} s)`,
      );
    if (PARTS.has('pleasant')) await pleasantBench(env, seeded, label);
    if (PARTS.has('offline')) {
      await offlineBench(env, seeded.seer);
      // Every package wrote one Offline Sync record per entry: count them in the database.
      const check = await compose(loadConfig(env), { backgroundJobs: false });
      const n = await check.store.db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('event', '=', 'Offline Sync')
        .executeTakeFirstOrThrow();
      await check.close();
      console.log(
        `    Offline Sync audit records written: ${Number(n.n)} (${OFFLINE_RUNS + 1} packages × ${SHAPE.entries})`,
      );
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    if (dialect === 'postgres') {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    }
  }
}

async function main(): Promise<void> {
  const dialects = (process.env.BENCH_DIALECTS ?? 'sqlite,postgres').split(',') as Dialect[];
  for (const d of dialects) await benchDialect(d);
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
