import { constants } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytesOf } from '@strongroom/crypto';
import { CliError } from './errors.js';

/**
 * File handling for the client's state: directories 0700, files 0600, crash-safe replacement
 * (temporary file in the same directory, write, fsync, rename, fsync the directory) and erasure
 * (overwrite with random bytes, fsync, unlink).
 */

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and does not touch an existing directory.
  const s = await stat(dir);
  if ((s.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Some file systems do not allow fsync on a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}

const TMP_MARK = '.tmp-';

/**
 * Replaces `file` with `data` so that a crash at any point leaves either the old file or the new
 * one, never a mix. Leftover temporary files of an interrupted write (older than a minute) are
 * removed first.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(file);
  await ensureDir(dir);
  await removeLeftovers(file);
  const tmp = join(
    dir,
    `${basename(file)}${TMP_MARK}${Buffer.from(randomBytesOf(6)).toString('hex')}`,
  );
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await holdForTest(basename(file));
  await rename(tmp, file);
  await fsyncDir(dir);
}

async function removeLeftovers(file: string): Promise<void> {
  const dir = dirname(file);
  const prefix = `${basename(file)}${TMP_MARK}`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    // Another client process may be writing this very file now: only a temporary file left for
    // a minute is an interrupted write.
    const at = await stat(join(dir, name)).then(
      (s) => s.mtimeMs,
      () => null,
    );
    if (at !== null && Date.now() - at > LEFTOVER_AGE_MS) await eraseFile(join(dir, name));
  }
}

const LEFTOVER_AGE_MS = 60_000;

/**
 * Test-only: with STRONGROOM_TEST_HOLD_WRITE naming a file (`cache.kdbx`), the client stops
 * after the new content is written and flushed but before the rename, says so on stderr and waits
 * to be killed. This lets a test kill the client in the middle of a cache write without timing.
 */
async function holdForTest(name: string): Promise<void> {
  if (process.env.STRONGROOM_TEST_HOLD_WRITE !== name) return;
  process.stderr.write(`strongroom-test: holding the write of ${name}\n`);
  await new Promise<never>(() => setInterval(() => undefined, 60_000));
}

/** Overwrites a file with random bytes, flushes, unlinks. Missing files are fine. */
export async function eraseFile(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const chunk = 1 << 20;
    for (let at = 0; at < size; at += chunk) {
      const n = Math.min(chunk, size - at);
      await handle.write(randomBytesOf(n), 0, n, at);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await unlink(file);
  await fsyncDir(dirname(file));
  return true;
}

export async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Reads a JSON state file; a missing or unreadable one is `null` (the caller starts afresh). */
export async function readJson<T>(file: string): Promise<T | null> {
  const raw = await readIfExists(file);
  if (raw === null) return null;
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch {
    return null;
  }
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export async function removeFile(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** How long a journal change waits for another client process, and when a lock is abandoned. */
const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 30_000;

/**
 * Runs `fn` holding `lockFile`, created exclusively (O_EXCL) with this process's id in it, so
 * that client processes running at once change a file one after the other. A lock whose process
 * is gone (or that is older than half a minute: the changes it guards take milliseconds) is
 * removed; after ten seconds of waiting for a live one the command fails with `journal_busy`.
 */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  await ensureDir(dirname(lockFile));
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lockFile, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await lockIsStale(lockFile)) {
      await removeFile(lockFile);
      continue;
    }
    if (Date.now() - started > LOCK_WAIT_MS) {
      throw new CliError(
        'journal_busy',
        `another strongroom process holds ${lockFile}; try again (or remove the file if no strongroom process is running)`,
      );
    }
    await sleep(Math.min(5 + attempt * 5, 50));
  }
  try {
    return await fn();
  } finally {
    await removeFile(lockFile);
  }
}

async function lockIsStale(lockFile: string): Promise<boolean> {
  let pid: number;
  let age: number;
  try {
    const [text, s] = await Promise.all([readFile(lockFile, 'utf8'), stat(lockFile)]);
    pid = Number(text.trim());
    age = Date.now() - s.mtimeMs;
  } catch {
    return false; // gone meanwhile, or being written: try again
  }
  if (age > LOCK_STALE_MS) return true;
  if (!Number.isInteger(pid) || pid <= 0) return age > 1_000; // a lock still being written
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
