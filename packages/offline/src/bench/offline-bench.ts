/**
 * `npm run bench:offline`: the offline cache at 1,000 and 10,000 entries in 500 folders (1% with
 * a 16 KiB attachment). For each size, in one run: Argon2id alone with this machine's tuned
 * parameters, the cache build (package received → file on disk), opening and listing the cache
 * in a fresh Node process (what a user waits for), `keepassxc-cli ls -R` on the same file, and
 * the peak resident size of each process. Targets (issue 5): open ≤ KeePassXC, build ≤ Argon2id
 * + 1 s, peak memory < 200 MB at 10,000 entries.
 *
 * Runs alternate between our client and KeePassXC so that both see the same machine load; each
 * figure is the median of `BENCH_RUNS` (default 5) runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argon2idRaw, deriveMachineKey, offlineRandomBytes } from '@strongroom/crypto/offline';
import { calibrateKdf, keyFileXml, type KdfParams } from '../index.js';
import { nodeOfflineEnv } from '../node.js';
import { samplePackage } from './sample-package.js';

const here = dirname(fileURLToPath(import.meta.url));
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const SIZES = (process.env['BENCH_SIZES'] ?? '1000,10000').split(',').map(Number);
const FOLDERS = 500;
const PASSWORD = 'bench cache password 1';
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

const env = nodeOfflineEnv();

interface Run {
  ms: number;
  maxRssMB: number | null;
  stderr: string;
}

/** The command-line client (run as a program: this package does not depend on it). */
const CLIENT = join(here, '..', '..', '..', 'cli', 'bin', 'strongroom.js');
const SERVER_URL = 'https://vault.corp.example';
const LOGIN = 'bench@corp.example';

/** Runs a command with the password on stdin; wall time from spawn to exit, peak RSS. */
function run(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const full = TIME ? [TIME, '-f', 'maxrss=%M', cmd, ...args] : [cmd, ...args];
    const t0 = performance.now();
    const child = spawn(full[0]!, full.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...extraEnv },
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(PASSWORD + '\n');
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${cmd} exited with ${code}: ${stderr.trim()}`));
      const m = /maxrss=(\d+)/.exec(stderr);
      resolve({ ms, maxRssMB: m ? Number(m[1]) / 1024 : null, stderr });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f0 = (n: number) => n.toFixed(0);
const mb = (n: number | null) => (n === null ? 'n/a' : `${n.toFixed(0)} MB`);

async function argon2Alone(kdf: KdfParams): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await argon2idRaw(offlineRandomBytes(32), offlineRandomBytes(32), { ...kdf, length: 32 });
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-offline-bench-'));
  try {
    const t0 = performance.now();
    const kdf = await calibrateKdf(env);
    console.log(
      `Argon2id tuned to ~500 ms here: ${kdf.memoryKiB / 1024} MiB, ${kdf.iterations} passes, ` +
        `${kdf.parallelism} lane (calibration took ${f0(performance.now() - t0)} ms)`,
    );
    console.log(
      `Node ${process.version}; ${RUNS} runs per figure, medians; KeePassXC: keepassxc-cli`,
    );
    // What starting each program costs before it does anything (a fixed part of every open).
    const nodeStart: number[] = [];
    const kpxStart: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      nodeStart.push((await run(process.execPath, ['-e', '0'])).ms);
      kpxStart.push((await run('keepassxc-cli', ['--version'])).ms);
    }
    console.log(
      `Process start alone: node -e 0 ${f0(median(nodeStart))} ms, ` +
        `keepassxc-cli --version ${f0(median(kpxStart))} ms`,
    );
    const machineKey = offlineRandomBytes(32);
    const keyFile = join(dir, 'machine.keyx');
    writeFileSync(keyFile, keyFileXml(machineKey));

    for (const n of SIZES) {
      const pkgFile = join(dir, `package-${n}.json`);
      writeFileSync(pkgFile, JSON.stringify(samplePackage(n, FOLDERS)));
      const cache = join(dir, `cache-${n}.kdbx`);
      const a2 = await argon2Alone(kdf);

      const builds: { ms: number; rss: number; bytes: number }[] = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await run(process.execPath, [
          join(here, 'build-child.js'),
          pkgFile,
          keyFile,
          cache,
          JSON.stringify(kdf),
        ]);
        const j = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{'))!) as {
          buildMs: number;
          bytes: number;
          maxRssMB: number;
        };
        builds.push({ ms: j.buildMs, rss: j.maxRssMB, bytes: j.bytes });
      }

      // The real client: a client directory whose machine key made this cache, Working Offline.
      const client = await offlineClient(dir, n, pkgFile, kdf);

      const ours: Run[] = [];
      const theirs: Run[] = [];
      const cli: Run[] = [];
      for (let i = 0; i < RUNS; i++) {
        ours.push(await run(process.execPath, [join(here, 'open-child.js'), cache, keyFile]));
        theirs.push(await run('keepassxc-cli', ['ls', '-R', '-q', '-k', keyFile, cache]));
        cli.push(
          await run(process.execPath, [CLIENT, 'ls', '-R', '--cache-password-stdin'], client.env),
        );
        const kpxOwn = await run('keepassxc-cli', [
          'ls',
          '-R',
          '-q',
          '-k',
          client.keyFile,
          client.cache,
        ]);
        theirs.push(kpxOwn);
      }
      const build = median(builds.map((b) => b.ms));
      const open = median(ours.map((r) => r.ms));
      const kpx = median(theirs.map((r) => r.ms));
      const cliOpen = median(cli.map((r) => r.ms));
      const openRss = Math.max(
        ...ours.map((r) => r.maxRssMB ?? 0),
        ...cli.map((r) => r.maxRssMB ?? 0),
      );
      const buildRss = Math.max(...builds.map((b) => b.rss));
      const kpxRss = Math.max(...theirs.map((r) => r.maxRssMB ?? 0));
      console.log(
        `\n${n} entries in ${FOLDERS} folders (file ${(builds[0]!.bytes / 1e6).toFixed(1)} MB)\n` +
          `  Argon2id alone            ${f0(a2)} ms\n` +
          `  build (package → file)    ${f0(build)} ms   = Argon2id + ${f0(build - a2)} ms   ` +
          `[target ≤ Argon2id + 1000 ms: ${build <= a2 + 1000 ? 'met' : 'MISSED'}]\n` +
          `  open + list, fresh node   ${f0(open)} ms\n` +
          `  strongroom ls -R offline  ${f0(cliOpen)} ms   (the client as users run it)\n` +
          `  keepassxc-cli ls -R       ${f0(kpx)} ms   ratio open/KeePassXC ${(open / kpx).toFixed(2)}, ` +
          `client/KeePassXC ${(cliOpen / kpx).toFixed(2)}   ` +
          `[target ≤ 1.00: ${cliOpen <= kpx ? 'met' : 'MISSED'}]\n` +
          `  peak RSS: build ${mb(buildRss)}, open ${mb(TIME ? openRss : null)}, ` +
          `KeePassXC ${mb(TIME ? kpxRss : null)}` +
          (n >= 10000
            ? `   [target < 200 MB: ${Math.max(buildRss, openRss) < 200 ? 'met' : 'MISSED'}]`
            : ''),
      );
      console.log(
        `  runs (ms): build ${builds.map((b) => f0(b.ms)).join(' ')}; open ${ours
          .map((r) => f0(r.ms))
          .join(' ')}; client ${cli.map((r) => f0(r.ms)).join(' ')}; KeePassXC ${theirs
          .map((r) => f0(r.ms))
          .join(' ')}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A client directory (its own STRONGROOM_HOME and machine id) holding a cache of `n` entries made
 * with its machine key, imported with `import-cache` and switched to Working Offline with
 * `login --offline`, as a user would have it after `disconnect`.
 */
async function offlineClient(
  dir: string,
  n: number,
  pkgFile: string,
  kdf: KdfParams,
): Promise<{ env: NodeJS.ProcessEnv; cache: string; keyFile: string }> {
  const home = join(dir, `client-${n}`);
  const env = { STRONGROOM_HOME: home, STRONGROOM_MACHINE_ID: `bench-machine-${n}` };
  mkdirSync(join(home, 'data'), { recursive: true, mode: 0o700 });
  const secret = offlineRandomBytes(32);
  writeFileSync(join(home, 'data', 'machine.key'), secret, { mode: 0o600 });
  const keyFile = join(dir, `client-${n}.keyx`);
  writeFileSync(keyFile, keyFileXml(deriveMachineKey(secret, env.STRONGROOM_MACHINE_ID)));
  const made = join(dir, `client-${n}-made.kdbx`);
  await run(process.execPath, [
    join(here, 'build-child.js'),
    pkgFile,
    keyFile,
    made,
    JSON.stringify(kdf),
  ]);
  await run(process.execPath, [CLIENT, 'import-cache', made, '--cache-password-stdin'], env);
  await run(
    process.execPath,
    [
      CLIENT,
      'login',
      '--offline',
      '--server',
      SERVER_URL,
      '--user',
      LOGIN,
      '--cache-password-stdin',
    ],
    env,
  );
  return { env, cache: join(home, 'data', 'cache.kdbx'), keyFile };
}

await main();
