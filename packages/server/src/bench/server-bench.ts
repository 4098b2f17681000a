#!/usr/bin/env node
/**
 * npm run bench:server — server throughput and latency on loopback, SQLite then PostgreSQL.
 *
 * Seeds 10,000 entries in 500 folders with 200 grants across 50 users and 10 roles through the
 * real services, starts the built server as its own process, and measures with autocannon in one
 * run: (a) a trivial authenticated endpoint (GET /api/v1/me), (b) the whole visible tree of a
 * user who sees every entry, (c) password fetch (each one writes an audit record). Prints
 * requests/s, p50 and p99 for each, and the ratios against (a) measured in the same run.
 *
 * Options (environment): BENCH_DIALECTS=sqlite,postgres  BENCH_SECONDS=10  BENCH_CONNECTIONS=10
 * BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test  BENCH_ENTRIES / BENCH_FOLDERS (smaller runs).
 */
import autocannon, { type Result } from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpGet } from 'node:http';
import pg from 'pg';
import { formatWrappingKey, newKeyMaterial, newUuid } from '@strongroom/crypto';
import { loadConfig } from '../config/config.js';
import { compose } from '../compose.js';
import type { Dialect } from '../db/migrator.js';
import { seedBenchVault } from './seed-vault.js';
import { startServerProcess, type ServerProcess } from '../shared/server-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SHAPE = {
  entries: Number(process.env.BENCH_ENTRIES ?? 10_000),
  folders: Number(process.env.BENCH_FOLDERS ?? 500),
  users: 50,
  roles: 10,
  grants: 200,
};
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

async function benchDialect(dialect: Dialect): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-bench-'));
  const wrappingKey = formatWrappingKey(newKeyMaterial());
  const schema = `bench_${newUuid().replace(/-/g, '').slice(0, 12)}`;
  let server: ServerProcess | undefined;
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

    server = await startServerProcess(env);
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
    print(dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL', rows, seeded.seconds);
    console.log(
      `tree after a change (cache miss, one request at a time, ${cold.length} requests): p50 ${pct(cold, 50).toFixed(1)} ms, p99 ${pct(cold, 99).toFixed(1)} ms  target < 100 ms → ${pct(cold, 99) < 100 ? 'met' : 'NOT met'}`,
    );
  } finally {
    await server?.stop();
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
