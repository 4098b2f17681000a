import {
  chmodSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
  closeSync,
  fsyncSync,
} from 'node:fs';
import {
  SecretSealer,
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

/** The key id of a wrapping key: a short fingerprint, so a wrong key file is named as such. */
export function wrappingKeyId(key: Buffer): string {
  return `wk-${sha256Hex(key).slice(0, 12)}`;
}

function writeKeyFile(path: string, key: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${formatWrappingKey(key)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
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
 * Opens the data keys with the wrapping key, creating the first data key on a new database.
 * Fails with a clear message when the database was sealed with another wrapping key.
 */
export async function loadSealer(store: Store, wrappingKey: Buffer): Promise<SecretSealer> {
  const wkId = wrappingKeyId(wrappingKey);
  return store.exclusive('strongroom.keys', async (trx) => {
    let rows = await trx.selectFrom('data_keys').selectAll().execute();
    if (rows.length === 0) {
      const id = newKeyId('dk-');
      const wrapped = wrapDataKey(wrappingKey, wkId, id, newKeyMaterial());
      await trx
        .insertInto('data_keys')
        .values({ id, wrapped: wrapped.wrapped, created_at: Date.now(), active: 1 })
        .execute();
      rows = await trx.selectFrom('data_keys').selectAll().execute();
    }
    const keys = new Map<string, Buffer>();
    let active: string | undefined;
    for (const row of rows) {
      const dk = { id: row.id, wrapped: Buffer.from(row.wrapped) };
      if (wrappedBy(dk) !== wkId) {
        throw new Error(
          `the database's data keys were wrapped by ${wrappedBy(dk)}, but the wrapping key given is ${wkId}: use the key file or STRONGROOM_WRAPPING_KEY that belongs to this database`,
        );
      }
      keys.set(row.id, unwrapDataKey(wrappingKey, dk));
      if (row.active) active = row.id;
    }
    return new SecretSealer(keys, active ?? rows[0]!.id);
  });
}

/**
 * Rotates the wrapping key: re-wraps every data key with a new wrapping key in one transaction,
 * then replaces the key file (or prints the new key when it comes from the environment).
 * Secrets themselves are not re-encrypted; they stay sealed by the data keys.
 */
export async function rotateWrappingKey(
  store: Store,
  config: ServerConfig,
): Promise<{ newKeyId: string; newKey: Buffer; wroteFile: boolean }> {
  const current = loadWrappingKey(config, false).key;
  const next = newKeyMaterial();
  const nextId = wrappingKeyId(next);
  await store.exclusive('strongroom.keys', async (trx) => {
    const rows = await trx.selectFrom('data_keys').selectAll().execute();
    for (const row of rows) {
      const key = unwrapDataKey(current, { id: row.id, wrapped: Buffer.from(row.wrapped) });
      const rewrapped = wrapDataKey(next, nextId, row.id, key);
      await trx
        .updateTable('data_keys')
        .set({ wrapped: rewrapped.wrapped })
        .where('id', '=', row.id)
        .execute();
    }
  });
  let wroteFile = false;
  if (!config.wrappingKey) {
    writeKeyFile(config.wrappingKeyFile, next);
    wroteFile = true;
  }
  return { newKeyId: nextId, newKey: next, wroteFile };
}
