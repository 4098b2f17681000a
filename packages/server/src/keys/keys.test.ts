import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  EnvelopeError,
  formatWrappingKey,
  newKeyMaterial,
  parseWrappingKey,
  unwrapDataKey,
} from '@strongroom/crypto';
import { compose, type Services } from '../compose.js';
import type { ServerConfig } from '../config/config.js';
import {
  DIALECTS,
  createTestDatabase,
  testConfig,
  testSecret,
  type TestDatabase,
} from '../test-support/harness.js';
import { verifyAuditChain } from '../audit/verify.js';
import {
  commitRotation,
  loadWrappingKey,
  pendingKeyFilePath,
  rotateWrappingKey,
  wrappingKeyId,
} from './keys.js';

const CONTEXT = 'entries:00000000-0000-4000-8000-00000000000a:password';

describe.each(DIALECTS)('wrapping key rotation (%s)', (dialect) => {
  let db: TestDatabase;
  let config: ServerConfig;
  let services: Services | undefined;

  const open = async (c: ServerConfig = config) => {
    await services?.close();
    services = undefined;
    services = await compose(c, { createKeyFile: false, backgroundJobs: false });
    return services;
  };
  const keyFileKey = () => parseWrappingKey(readFileSync(config.wrappingKeyFile, 'utf8'));
  const dataKeyRows = async (s: Services) =>
    (await s.store.db.selectFrom('data_keys').selectAll().execute()).map((r) => ({
      id: r.id,
      wrapped: Buffer.from(r.wrapped),
    }));

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    config = testConfig(db);
    services = await compose(config, { createKeyFile: true, backgroundJobs: false });
  });
  afterEach(async () => {
    await services?.close();
    services = undefined;
    await db.drop();
  });

  it('creates the key file 0600 at first start and refuses another key', async () => {
    expect(statSync(config.wrappingKeyFile).mode & 0o777).toBe(0o600);
    await services!.close();
    services = undefined;
    await expect(
      compose(
        { ...config, wrappingKey: formatWrappingKey(newKeyMaterial()) },
        { createKeyFile: false },
      ),
    ).rejects.toThrow(/data keys were wrapped by wk-[0-9a-f]{12}, but the wrapping key given is/);
  });

  it('re-wraps the data keys: secrets still open, the old key opens nothing', async () => {
    const value = testSecret('rotate');
    const sealed = services!.sealer.sealSecret(value, CONTEXT);
    const oldKey = keyFileKey();
    const result = await rotateWrappingKey(services!.store, config, { audit: services!.audit });
    expect(result).toMatchObject({
      oldKeyId: wrappingKeyId(oldKey),
      newKeyId: wrappingKeyId(result.newKey),
      dataKeys: 1,
      wroteFile: true,
      pendingFile: null,
    });
    expect(keyFileKey().equals(result.newKey)).toBe(true);
    expect(statSync(config.wrappingKeyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(pendingKeyFilePath(config))).toBe(false);

    const fresh = await open();
    expect(fresh.sealer.openSecretText(sealed, CONTEXT)).toBe(value);
    for (const row of await dataKeyRows(fresh)) {
      expect(() => unwrapDataKey(oldKey, row)).toThrow(EnvelopeError);
      expect(unwrapDataKey(result.newKey, row)).toHaveLength(32);
    }
    const records = await fresh.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('event', '=', 'Wrapping Key Rotated')
      .execute();
    expect(records).toHaveLength(1);
    expect(JSON.parse(records[0]!.details)).toEqual({
      oldKeyId: result.oldKeyId,
      newKeyId: result.newKeyId,
      dataKeys: 1,
      keyStorage: 'file',
    });
    expect(records[0]!.details).not.toContain(formatWrappingKey(result.newKey));
    expect((await verifyAuditChain(fresh.store)).ok).toBe(true);
  });

  it('finishes a rotation that crashed after its commit, at the next start', async () => {
    const value = testSecret('crash-after');
    const sealed = services!.sealer.sealSecret(value, CONTEXT);
    const oldKey = keyFileKey();
    const next = newKeyMaterial();
    // Steps 1-2 (pending file, re-wrap, commit) without step 3 (rename): the process "died".
    await commitRotation(services!.store, config, next);
    expect(statSync(pendingKeyFilePath(config)).mode & 0o777).toBe(0o600);
    expect(keyFileKey().equals(oldKey)).toBe(true);

    const fresh = await open();
    expect(fresh.sealer.openSecretText(sealed, CONTEXT)).toBe(value);
    expect(keyFileKey().equals(next)).toBe(true);
    expect(existsSync(pendingKeyFilePath(config))).toBe(false);
    expect(statSync(config.wrappingKeyFile).mode & 0o777).toBe(0o600);
  });

  it('a rotation run after such a crash finishes it first, then rotates again', async () => {
    const sealed = services!.sealer.sealSecret('v', CONTEXT);
    const first = newKeyMaterial();
    await commitRotation(services!.store, config, first);
    // The running server still has its keys in memory and goes on working.
    expect(services!.sealer.openSecretText(sealed, CONTEXT)).toBe('v');
    const second = await rotateWrappingKey(services!.store, config);
    expect(second.oldKeyId).toBe(wrappingKeyId(first));
    expect(keyFileKey().equals(second.newKey)).toBe(true);
    expect((await open()).sealer.openSecretText(sealed, CONTEXT)).toBe('v');
  });

  it('ignores the pending file of a rotation that crashed before its commit', async () => {
    const sealed = services!.sealer.sealSecret('v', CONTEXT);
    const oldKey = keyFileKey();
    const stale = newKeyMaterial();
    writeFileSync(pendingKeyFilePath(config), `${formatWrappingKey(stale)}\n`, { mode: 0o600 });
    const fresh = await open();
    expect(fresh.sealer.openSecretText(sealed, CONTEXT)).toBe('v');
    expect(keyFileKey().equals(oldKey)).toBe(true);
    // The next rotation replaces it.
    const r = await rotateWrappingKey(fresh.store, config);
    expect(keyFileKey().equals(r.newKey)).toBe(true);
    expect(existsSync(pendingKeyFilePath(config))).toBe(false);
    expect((await open()).sealer.openSecretText(sealed, CONTEXT)).toBe('v');
  });

  it('a failed re-wrap leaves the database and the key file as they were', async () => {
    const oldKey = keyFileKey();
    const before = await dataKeyRows(services!);
    // A wrong key in the key file: the transaction fails before anything is re-wrapped.
    writeFileSync(config.wrappingKeyFile, `${formatWrappingKey(newKeyMaterial())}\n`);
    await expect(rotateWrappingKey(services!.store, config)).rejects.toThrow(/wrapped by/);
    writeFileSync(config.wrappingKeyFile, `${formatWrappingKey(oldKey)}\n`);
    expect(await dataKeyRows(services!)).toEqual(before);
    expect(loadWrappingKey(config, false).key.equals(oldKey)).toBe(true);
  });

  it('with the key in the environment: keeps the new key pending until a start uses it', async () => {
    const envKey = newKeyMaterial();
    await services!.close();
    services = undefined;
    await db.drop();
    db = await createTestDatabase(dialect);
    config = testConfig(db, { wrappingKey: formatWrappingKey(envKey) });
    const first = await open();
    const value = testSecret('env');
    const sealed = first.sealer.sealSecret(value, CONTEXT);
    expect(existsSync(config.wrappingKeyFile)).toBe(false);

    const r = await rotateWrappingKey(first.store, config, { audit: first.audit });
    expect(r.wroteFile).toBe(false);
    expect(r.pendingFile).toBe(pendingKeyFilePath(config));
    expect(existsSync(config.wrappingKeyFile)).toBe(false);
    expect(statSync(r.pendingFile!).mode & 0o777).toBe(0o600);

    // A start with the old key refuses, and says where the new key is.
    await first.close();
    services = undefined;
    await expect(open()).rejects.toThrow(
      new RegExp(`set STRONGROOM_WRAPPING_KEY to the new key saved in ${r.pendingFile}`),
    );
    // A start with the new key works and removes the pending copy.
    config = { ...config, wrappingKey: formatWrappingKey(r.newKey) };
    const after = await open();
    expect(after.sealer.openSecretText(sealed, CONTEXT)).toBe(value);
    expect(existsSync(r.pendingFile!)).toBe(false);
  });
});
