import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { Kysely } from 'kysely';
import {
  SecretSealer,
  constantTimeEqual,
  formatWrappingKey,
  newKeyId,
  newKeyMaterial,
  parseWrappingKey,
  sha256Hex,
  unwrapDataKey,
  wrapDataKey,
  wrappedBy,
} from '@strongroom/crypto';
import type { ServerConfig } from '../config/config.js';
import type { Store } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import type { AuditActor, AuditRecorder } from '../audit/recorder.js';

/** The key id of a wrapping key: a short fingerprint, so a wrong key file is named as such. */
export function wrappingKeyId(key: Buffer): string {
  return `wk-${sha256Hex(key).slice(0, 12)}`;
}

const KEYS_LOCK = 'strongroom.keys';

/** Makes a rename or a new file durable: fsync of the directory that holds it (best effort). */
function syncDir(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(path), 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems can't fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes a key file atomically: a temporary file (0600, fsync), renamed over `path`. */
function writeKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${formatWrappingKey(key)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  syncDir(path);
}

function readKeyFile(path: string): Buffer | null {
  if (!existsSync(path)) return null;
  try {
    return parseWrappingKey(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** Where a rotation keeps the new wrapping key until the database has been re-wrapped with it. */
export function pendingKeyFilePath(config: ServerConfig): string {
  return `${config.wrappingKeyFile}.pending`;
}

export interface WrappingKeySource {
  key: Buffer;
  /** Where it came from, for messages (never the key itself). */
  origin: 'environment' | 'file' | 'new-file';
}

/** Loads the wrapping key from the environment or the key file, creating the file if absent. */
export function loadWrappingKey(config: ServerConfig, allowCreate: boolean): WrappingKeySource {
  if (config.wrappingKey)
    return { key: parseWrappingKey(config.wrappingKey), origin: 'environment' };
  if (existsSync(config.wrappingKeyFile)) {
    return { key: parseWrappingKey(readFileSync(config.wrappingKeyFile, 'utf8')), origin: 'file' };
  }
  if (!allowCreate) {
    throw new Error(`the wrapping key file ${config.wrappingKeyFile} does not exist`);
  }
  const key = newKeyMaterial();
  writeKeyFile(config.wrappingKeyFile, key);
  return { key, origin: 'new-file' };
}

/**
 * The last step of a rotation: the pending key file replaces the key file. Only renames a
 * pending file that holds `key` (another rotation may have started since). Returns false when
 * there was nothing to rename because the key file already holds `key`.
 */
export function finishRotation(config: ServerConfig, key: Buffer): boolean {
  const pendingPath = pendingKeyFilePath(config);
  const pending = readKeyFile(pendingPath);
  if (pending && constantTimeEqual(pending, key)) {
    renameSync(pendingPath, config.wrappingKeyFile);
    syncDir(config.wrappingKeyFile);
    return true;
  }
  const current = readKeyFile(config.wrappingKeyFile);
  if (current && constantTimeEqual(current, key)) return false;
  throw new Error(
    `the new wrapping key could not be moved from ${pendingPath} to ${config.wrappingKeyFile}`,
  );
}

/**
 * Finds the wrapping key that opens the database when the configured one does not: a rotation
 * that committed but was interrupted before its key file was renamed left the new key in
 * `<keyfile>.pending`. With a key file, the rename is finished here; with the key in the
 * environment the administrator must install the new key, and the error says where it is.
 */
function recoverInterruptedRotation(config: ServerConfig, databaseKeyId: string): Buffer | null {
  const pendingPath = pendingKeyFilePath(config);
  const pending = readKeyFile(pendingPath);
  if (!pending || wrappingKeyId(pending) !== databaseKeyId) return null;
  if (config.wrappingKey) {
    throw new Error(
      `the wrapping key was rotated: set STRONGROOM_WRAPPING_KEY to the new key saved in ${pendingPath} (key id ${databaseKeyId}), then delete that file`,
    );
  }
  finishRotation(config, pending);
  return pending;
}

function mismatch(databaseKeyId: string, givenKeyId: string): Error {
  return new Error(
    `the database's data keys were wrapped by ${databaseKeyId}, but the wrapping key given is ${givenKeyId}: use the key file or STRONGROOM_WRAPPING_KEY that belongs to this database`,
  );
}

interface DataKeyRow {
  id: string;
  wrapped: Buffer;
  active: number;
}

/**
 * The wrapping key that opens these rows: the given one, or the new key of an interrupted
 * rotation (which is then finished). Runs under the keys lock.
 */
function resolveWrappingKey(
  rows: DataKeyRow[],
  given: Buffer,
  config: ServerConfig | undefined,
): Buffer {
  const givenId = wrappingKeyId(given);
  const first = rows[0];
  if (!first) return given;
  const databaseKeyId = wrappedBy({ id: first.id, wrapped: first.wrapped });
  if (databaseKeyId === givenId) {
    // An environment-held key that matches a leftover pending file: the rotation is complete.
    if (config?.wrappingKey) {
      const pending = readKeyFile(pendingKeyFilePath(config));
      if (pending && constantTimeEqual(pending, given)) {
        rmSync(pendingKeyFilePath(config), { force: true });
      }
    }
    return given;
  }
  const recovered = config ? recoverInterruptedRotation(config, databaseKeyId) : null;
  if (recovered) return recovered;
  throw mismatch(databaseKeyId, givenId);
}

async function readDataKeys(trx: Kysely<Database>): Promise<DataKeyRow[]> {
  const rows = await trx.selectFrom('data_keys').selectAll().orderBy('created_at').execute();
  return rows.map((r) => ({ id: r.id, wrapped: Buffer.from(r.wrapped), active: r.active }));
}

/**
 * Opens the data keys with the wrapping key, creating the first data key on a new database.
 * Given the configuration, it also finishes a wrapping-key rotation that was interrupted after
 * its commit (see `rotateWrappingKey`). Fails with a clear message when the database was sealed
 * with another wrapping key.
 */
export async function loadSealer(
  store: Store,
  wrappingKey: Buffer,
  config?: ServerConfig,
): Promise<SecretSealer> {
  return store.exclusive(KEYS_LOCK, async (trx) => {
    let rows = await readDataKeys(trx);
    const key = resolveWrappingKey(rows, wrappingKey, config);
    const wkId = wrappingKeyId(key);
    if (rows.length === 0) {
      const id = newKeyId('dk-');
      const wrapped = wrapDataKey(key, wkId, id, newKeyMaterial());
      await trx
        .insertInto('data_keys')
        .values({ id, wrapped: wrapped.wrapped, created_at: Date.now(), active: 1 })
        .execute();
      rows = await readDataKeys(trx);
    }
    const keys = new Map<string, Buffer>();
    let active: string | undefined;
    for (const row of rows) {
      if (wrappedBy(row) !== wkId) throw mismatch(wrappedBy(row), wkId);
      keys.set(row.id, unwrapDataKey(key, row));
      if (row.active) active = row.id;
    }
    // SQLite runs in this thread: bulk decryption (exports) moves to a worker thread so the two
    // overlap. PostgreSQL works in its own process already.
    return new SecretSealer(keys, active ?? rows[0]!.id, {
      bulkOpenOffThread: store.dialect === 'sqlite',
    });
  });
}

export interface RotationResult {
  oldKeyId: string;
  newKeyId: string;
  newKey: Buffer;
  /** Data keys re-wrapped. */
  dataKeys: number;
  /** True when the key file now holds the new key; false when the key is in the environment. */
  wroteFile: boolean;
  /** Where the new key is saved until the administrator has installed it (environment only). */
  pendingFile: string | null;
}

export interface RotationOptions {
  audit?: AuditRecorder;
  actor?: AuditActor;
}

/**
 * Steps 1 and 2 of a rotation, in one transaction under the keys lock: the new key is written
 * to `<keyfile>.pending` (0600, fsync) BEFORE the data keys are re-wrapped with it, so a crash
 * at any point leaves a database that one of the two files opens. Exposed for crash tests.
 */
export async function commitRotation(
  store: Store,
  config: ServerConfig,
  next: Buffer,
  opts: RotationOptions = {},
): Promise<{ oldKeyId: string; dataKeys: number }> {
  const given = loadWrappingKey(config, false).key;
  const nextId = wrappingKeyId(next);
  return store.exclusive(KEYS_LOCK, async (trx) => {
    const rows = await readDataKeys(trx);
    if (rows.length === 0)
      throw new Error('the database has no data keys yet: start the server once');
    const current = resolveWrappingKey(rows, given, config);
    const oldKeyId = wrappingKeyId(current);
    // A pending file left by a rotation that never committed is replaced (we hold the lock, so
    // no other rotation is between its pending write and its commit).
    writeKeyFile(pendingKeyFilePath(config), next);
    for (const row of rows) {
      const key = unwrapDataKey(current, row);
      const rewrapped = wrapDataKey(next, nextId, row.id, key);
      await trx
        .updateTable('data_keys')
        .set({ wrapped: rewrapped.wrapped })
        .where('id', '=', row.id)
        .execute();
    }
    if (opts.audit) {
      await opts.audit.record(
        {
          event: 'Wrapping Key Rotated',
          status: 'success',
          actor: opts.actor ?? { userId: null, loginName: '', ip: '' },
          details: {
            oldKeyId,
            newKeyId: nextId,
            dataKeys: rows.length,
            keyStorage: config.wrappingKey ? 'environment' : 'file',
          },
        },
        trx,
      );
    }
    return { oldKeyId, dataKeys: rows.length };
  });
}

/**
 * Rotates the wrapping key: re-wraps every data key with a new wrapping key in one transaction,
 * then replaces the key file. Secrets themselves are not re-encrypted; they stay sealed by the
 * data keys. With the key in the environment no key file is replaced: the new key stays in
 * `<keyfile>.pending` (0600) so that a crash can't lose it, and the caller shows it to the
 * administrator, who sets STRONGROOM_WRAPPING_KEY; the next start with the new key deletes the
 * pending file.
 */
export async function rotateWrappingKey(
  store: Store,
  config: ServerConfig,
  opts: RotationOptions = {},
): Promise<RotationResult> {
  const next = newKeyMaterial();
  const { oldKeyId, dataKeys } = await commitRotation(store, config, next, opts);
  let wroteFile = false;
  if (!config.wrappingKey) {
    finishRotation(config, next);
    wroteFile = true;
  }
  return {
    oldKeyId,
    newKeyId: wrappingKeyId(next),
    newKey: next,
    dataKeys,
    wroteFile,
    pendingFile: wroteFile ? null : pendingKeyFilePath(config),
  };
}
