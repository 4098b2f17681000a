import { readFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { deriveMachineKey, randomBytesOf } from '@strongroom/crypto';
import { CliError } from '../errors.js';
import { ensureDir } from '../fsutil.js';

/**
 * The machine binding. The machine key is derived from a random 32-byte secret kept in the data
 * directory (mode 0600, never sent anywhere) and the operating system's machine identity, so a
 * cache copied elsewhere, or the whole client directory copied to another machine, does not
 * open. STRONGROOM_MACHINE_ID overrides the identity (tests use it to play another machine).
 */

const SECRET_BYTES = 32;

function machineId(env: NodeJS.ProcessEnv): string {
  const override = env.STRONGROOM_MACHINE_ID;
  if (override) return override;
  for (const file of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (id) return id;
    } catch {
      // next
    }
  }
  if (process.platform === 'darwin') {
    try {
      const { execFileSync } = process.getBuiltinModule('node:child_process');
      const out = execFileSync('ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice'], {
        encoding: 'utf8',
      });
      const m = /"IOPlatformUUID" = "([^"]+)"/.exec(out);
      if (m) return m[1]!;
    } catch {
      // fall through
    }
  }
  throw new CliError(
    'machine_id_unavailable',
    "this machine's identity cannot be read (/etc/machine-id): the offline cache needs it; set STRONGROOM_MACHINE_ID to a stable value unique to this machine",
  );
}

/** The stored secret; created on first use when `create` (never replaced once it exists). */
async function machineSecret(file: string, create: boolean): Promise<Uint8Array | null> {
  try {
    const b = await readFile(file);
    if (b.length !== SECRET_BYTES) {
      throw new CliError(
        'cache_corrupt',
        `the machine key file ${file} is damaged (not ${SECRET_BYTES} bytes)`,
      );
    }
    return new Uint8Array(b);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!create) return null;
  await ensureDir(dirname(file));
  const secret = randomBytesOf(SECRET_BYTES);
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (err) {
    // Another client process made it first: use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return machineSecret(file, false);
    throw err;
  }
  try {
    await handle.writeFile(secret);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return new Uint8Array(secret);
}

/** The machine key; the secret is made on first use. */
export async function machineKeyOf(env: NodeJS.ProcessEnv, file: string): Promise<Uint8Array> {
  const secret = await machineSecret(file, true);
  if (!secret) throw new Error(`${file} could not be made`);
  return deriveMachineKey(secret, machineId(env));
}
