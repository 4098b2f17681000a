import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  OfflineCacheError,
  buildCache,
  expiryOf,
  keyFileXml,
  machineMatches,
  openCache,
  parseKeyFileXml,
  readCacheHeader,
  type OfflineEnv,
} from './index.js';
import { TEST_KDF, bigPackage, machineKey, nodeEnv, richPackage } from './offline.support.js';
import type { OfflinePackage } from '@strongroom/protocol';

const PASSWORD = 'correct horse battery staple 9';

async function expectCode(p: Promise<unknown>, code: string): Promise<OfflineCacheError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OfflineCacheError);
  expect((e as OfflineCacheError).code).toBe(code);
  expect((e as OfflineCacheError).message).not.toContain(PASSWORD);
  return e as OfflineCacheError;
}

describe('build → open round trip', () => {
  for (const webCrypto of [false, true]) {
    it(`gives back the package exactly (${webCrypto ? 'WebCrypto' : 'node:crypto'})`, async () => {
      const env = nodeEnv({ webCrypto });
      const pkg = richPackage();
      const key = machineKey();
      const progress: string[] = [];
      const bytes = await buildCache(env, pkg, {
        serverUrl: 'https://vault.corp.example',
        cachePassword: PASSWORD,
        machineKey: key,
        kdf: TEST_KDF,
        onProgress: (s, d) => progress.push(`${s}:${d}`),
      });
      expect(progress).toEqual(['derive:false', 'derive:true', 'encrypt:false', 'encrypt:true']);
      const opened = await openCache(env, bytes, { cachePassword: PASSWORD, machineKey: key });
      expect(opened.folders).toEqual(pkg.folders);
      expect(opened.entries).toEqual(pkg.entries);
      expect(opened.meta).toEqual({
        format: 1,
        serverUrl: 'https://vault.corp.example',
        serverId: pkg.serverId,
        loginName: 'Alice@Corp.Example',
        userId: pkg.user.id,
        displayName: 'Alice Example',
        cacheId: pkg.cacheId,
        createdAt: pkg.createdAt,
        expiresAt: null,
        maxOfflineUntil: null,
        revision: 'rev-1',
        clientSettings: pkg.clientSettings,
        passwordRequirements: pkg.passwordRequirements,
      });
    });
  }

  it('a cache written with the library defaults opens with the Node host, and back', async () => {
    const web = nodeEnv({ webCrypto: true });
    const node = nodeEnv();
    const pkg = richPackage();
    const key = machineKey();
    const o = { serverUrl: 'https://s', cachePassword: PASSWORD, machineKey: key, kdf: TEST_KDF };
    const a = await buildCache(web, pkg, o);
    expect((await openCache(node, a, o)).entries).toEqual(pkg.entries);
    const b = await buildCache(node, pkg, o);
    expect((await openCache(web, b, o)).entries).toEqual(pkg.entries);
  });

  it('keeps the package order of entries and folders that are not in tree order', async () => {
    const env = nodeEnv();
    const pkg = richPackage();
    const reordered: OfflinePackage = { ...pkg, entries: [...pkg.entries].reverse() };
    const key = machineKey();
    const bytes = await buildCache(env, reordered, {
      serverUrl: 'https://s',
      cachePassword: PASSWORD,
      machineKey: key,
      kdf: TEST_KDF,
    });
    const opened = await openCache(env, bytes, { cachePassword: PASSWORD, machineKey: key });
    expect(opened.entries.map((e) => e.id)).toEqual(reordered.entries.map((e) => e.id));
  });

  it('encrypts everything: no name, password, field or attachment text is in the file', async () => {
    const env = nodeEnv();
    const pkg = richPackage();
    const bytes = await buildCache(env, pkg, {
      serverUrl: 'https://vault.corp.example',
      cachePassword: PASSWORD,
      machineKey: machineKey(),
      kdf: TEST_KDF,
    });
    const text = Buffer.from(bytes).toString('latin1');
    for (const needle of [
      'Router',
      'alice@corp.example',
      'Alice',
      'pg-secret',
      'sk_live',
      'same name',
    ]) {
      expect(text).not.toContain(needle);
    }
    expect(text).toContain(pkg.cacheId); // public header: the cache id only
  });

  it('refuses a package of an unknown format and an inconsistent package', async () => {
    const env = nodeEnv();
    const o = {
      serverUrl: 'https://s',
      cachePassword: PASSWORD,
      machineKey: machineKey(),
      kdf: TEST_KDF,
    };
    await expectCode(buildCache(env, { ...richPackage(), format: 2 }, o), 'cache_unsupported');
    const pkg = richPackage();
    const orphan = { ...pkg, entries: [{ ...pkg.entries[0]!, folderId: randomUUID() }] };
    await expectCode(buildCache(env, orphan, o), 'cache_unsupported');
    expect(env.argon2Calls()).toBe(0);
  });

  it('refuses Argon2 parameters below 64 MiB (and other out-of-range parameters)', async () => {
    const env = nodeEnv();
    const base = { serverUrl: 'https://s', cachePassword: PASSWORD, machineKey: machineKey() };
    for (const kdf of [
      { memoryKiB: 65535, iterations: 3, parallelism: 1 },
      { memoryKiB: 32768, iterations: 10, parallelism: 1 },
      { memoryKiB: 65536, iterations: 0, parallelism: 1 },
      { memoryKiB: 65536, iterations: 2, parallelism: 0 },
      { memoryKiB: 65536.5, iterations: 2, parallelism: 1 },
    ]) {
      await expect(buildCache(env, richPackage(), { ...base, kdf })).rejects.toThrow(RangeError);
    }
    expect(env.argon2Calls()).toBe(0);
  });
});

describe('refusals when opening', () => {
  let env: ReturnType<typeof nodeEnv>;
  let key: Uint8Array;
  let bytes: Uint8Array;
  beforeAll(async () => {
    env = nodeEnv();
    key = machineKey();
    bytes = await buildCache(env, richPackage(), {
      serverUrl: 'https://s',
      cachePassword: PASSWORD,
      machineKey: key,
      kdf: TEST_KDF,
    });
  });
  const open = (b: Uint8Array, o: { password?: string; key?: Uint8Array; env?: OfflineEnv } = {}) =>
    openCache(o.env ?? env, b, { cachePassword: o.password ?? PASSWORD, machineKey: o.key ?? key });

  it('wrong password: cache_wrong_password', async () => {
    await expectCode(open(bytes, { password: PASSWORD + 'x' }), 'cache_wrong_password');
  });

  it('another machine key: cache_wrong_machine, before any Argon2 work', async () => {
    const counting = nodeEnv();
    const e = await expectCode(
      open(bytes, { key: machineKey(), env: counting }),
      'cache_wrong_machine',
    );
    expect(e.message).toBe(
      'This offline cache was made on another machine or in another client directory; it cannot be opened here.',
    );
    expect(counting.argon2Calls()).toBe(0);
    expect(machineMatches(bytes, machineKey())).toBe(false);
    expect(machineMatches(bytes, key)).toBe(true);
  });

  it('truncated anywhere, empty, or garbage: cache_corrupt', async () => {
    await expectCode(open(new Uint8Array(0)), 'cache_corrupt');
    await expectCode(open(new TextEncoder().encode('hello, this is not a cache')), 'cache_corrupt');
    for (const len of [10, 100, 300, Math.floor(bytes.length / 2), bytes.length - 1]) {
      await expectCode(open(bytes.subarray(0, len)), 'cache_corrupt');
    }
  });

  it('a flipped byte in the header or in the middle of the payload: cache_corrupt', async () => {
    for (const at of [20, 150, Math.floor(bytes.length / 2), bytes.length - 40]) {
      const b = bytes.slice();
      b[at]! ^= 0x01;
      await expectCode(open(b), 'cache_corrupt');
    }
  });

  it('a flipped byte in the machine check or the cache id: cache_corrupt, not another machine', async () => {
    const h = readCacheHeader(bytes);
    const find = (text: string) => {
      const needle = new TextEncoder().encode(text);
      for (let i = 0; i + needle.length <= bytes.length; i++) {
        if (needle.every((x, j) => bytes[i + j] === x)) return i;
      }
      throw new Error(`${text} not in the header`);
    };
    for (const at of [find(h.machineCheck) + 10, find(h.cacheId) + 3]) {
      const b = bytes.slice();
      b[at]! ^= 0x01;
      let thrown: unknown = null;
      try {
        machineMatches(b, key);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(OfflineCacheError);
      expect((thrown as OfflineCacheError).code).toBe('cache_corrupt');
      await expectCode(open(b), 'cache_corrupt');
    }
  });

  it('bytes appended after the file: cache_corrupt', async () => {
    const b = new Uint8Array(bytes.length + 3);
    b.set(bytes);
    await expectCode(open(b), 'cache_corrupt');
  });

  it('readCacheHeader: the cache id and machine check without a password', () => {
    const h = readCacheHeader(bytes);
    expect(h.cacheId).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.machineCheck).toMatch(/^[0-9a-f]{64}$/);
    expect(() => readCacheHeader(new Uint8Array(5))).toThrow(OfflineCacheError);
  });
});

describe('expiry', () => {
  const meta = {
    expiresAt: '2026-05-01T00:00:00.000Z',
    maxOfflineUntil: '2026-04-01T00:00:00.000Z',
  };
  it('before, at and after each limit; the earlier limit is named first', () => {
    expect(expiryOf({ expiresAt: null, maxOfflineUntil: null }, new Date('2999-01-01'))).toBeNull();
    expect(expiryOf(meta, new Date('2026-03-31T23:59:59.999Z'))).toBeNull();
    expect(expiryOf(meta, new Date('2026-04-01T00:00:00.000Z'))).toEqual({
      reason: 'max_offline',
      at: meta.maxOfflineUntil,
    });
    expect(expiryOf(meta, new Date('2026-06-01T00:00:00.000Z'))).toEqual({
      reason: 'max_offline',
      at: meta.maxOfflineUntil,
    });
    const onlyExpiry = { expiresAt: meta.expiresAt, maxOfflineUntil: null };
    expect(expiryOf(onlyExpiry, new Date('2026-04-30T23:59:59.999Z'))).toBeNull();
    expect(expiryOf(onlyExpiry, new Date('2026-05-01T00:00:00.000Z'))).toEqual({
      reason: 'expired',
      at: meta.expiresAt,
    });
    expect(expiryOf(onlyExpiry, new Date('2026-05-02T00:00:00.000Z'))?.reason).toBe('expired');
  });

  it('openCache refuses an expired cache with cache_expired, using the clock it is given', async () => {
    const pkg = richPackage({ expiresAt: '2026-05-01T00:00:00.000Z' });
    const key = machineKey();
    const bytes = await buildCache(nodeEnv(), pkg, {
      serverUrl: 'https://s',
      cachePassword: PASSWORD,
      machineKey: key,
      kdf: TEST_KDF,
    });
    const o = { cachePassword: PASSWORD, machineKey: key };
    const before = nodeEnv({ now: new Date('2026-04-30T23:59:59.000Z') });
    expect((await openCache(before, bytes, o)).meta.expiresAt).toBe('2026-05-01T00:00:00.000Z');
    const after = nodeEnv({ now: new Date('2026-05-01T00:00:00.000Z') });
    const e = await expectCode(openCache(after, bytes, o), 'cache_expired');
    expect(e.expiry).toEqual({ reason: 'expired', at: '2026-05-01T00:00:00.000Z' });
    expect(readCacheHeader(bytes).expiresAt).toBe('2026-05-01T00:00:00.000Z');
  });
});

describe('key file', () => {
  it('keyFileXml writes a version 2.0 key file whose hash checks', () => {
    const key = new Uint8Array(32).map((_, i) => i);
    const xml = keyFileXml(key);
    expect(xml).toContain('<Version>2.0</Version>');
    // SHA-256(00..1f) = 630dcd29…: the hash attribute is its first four bytes.
    // python3 -c "import hashlib;print(hashlib.sha256(bytes(range(32))).hexdigest()[:8])"
    expect(xml).toContain('<Data Hash="630DCD29">');
    expect(xml).toContain('00010203 04050607 08090A0B 0C0D0E0F');
    expect(parseKeyFileXml(xml)).toEqual(key);
    expect(parseKeyFileXml(xml.replace('630DCD29', '630DCD28'))).toBeNull();
  });
});

// ---------------------------------------------------------------- KeePassXC

function kpx(args: string[], password: string): { out: string; err: string; status: number } {
  const r = spawnSync('keepassxc-cli', args, { input: password + '\n', encoding: 'utf8' });
  return { out: r.stdout, err: r.stderr, status: r.status ?? -1 };
}

describe('KeePassXC opens the cache with the password and the key file', () => {
  let dir: string;
  let pkg: OfflinePackage;
  let db: string;
  let keyFile: string;
  let key: Uint8Array;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strongroom-kpx-'));
    pkg = richPackage();
    key = machineKey();
    const bytes = await buildCache(nodeEnv(), pkg, {
      serverUrl: 'https://vault.corp.example',
      cachePassword: PASSWORD,
      machineKey: key,
      kdf: TEST_KDF,
    });
    db = join(dir, 'cache.kdbx');
    keyFile = join(dir, 'machine.keyx');
    writeFileSync(db, bytes);
    writeFileSync(keyFile, keyFileXml(key));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists every folder and entry at its path', () => {
    const r = kpx(['ls', '-R', '-f', '-q', '-k', keyFile, db], PASSWORD);
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const lines = r.out.split('\n').filter((l) => l !== '');
    for (const f of pkg.folders.slice(1))
      expect(lines).toContain(f.path.slice('Root/'.length) + '/');
    for (const e of pkg.entries) expect(lines).toContain(e.path.slice('Root/'.length));
  });

  it('shows usernames, passwords, URLs and custom fields (protected ones too)', () => {
    for (const e of pkg.entries) {
      const path = e.path.slice('Root/'.length);
      const r = kpx(
        [
          'show',
          '-q',
          '-s',
          '-k',
          keyFile,
          '-a',
          'UserName',
          '-a',
          'Password',
          '-a',
          'URL',
          db,
          path,
        ],
        PASSWORD,
      );
      expect(r.status).toBe(0);
      expect(r.out).toBe(`${e.username}\n${e.password}\n${e.url}\n`);
    }
    const router = pkg.entries[1]!;
    const path = router.path.slice('Root/'.length);
    const r = kpx(
      ['show', '-q', '-s', '-k', keyFile, '-a', 'PIN', '-a', 'Serial', db, path],
      PASSWORD,
    );
    expect(r.out).toBe('1234\nSN-42\n');
    const multi = kpx(
      ['show', '-q', '-s', '-k', keyFile, '-a', 'Notes', db, 'Top-level mail'],
      PASSWORD,
    );
    expect(multi.out).toBe(pkg.entries[0]!.notes + '\n');
  });

  it('exports attachments byte for byte, the empty and non-UTF-8 ones included', () => {
    const e = pkg.entries[2]!;
    const path = e.path.slice('Root/'.length);
    for (const [name, a] of [
      ['dump.bin', e.attachments[0]!],
      ['empty.txt', e.attachments[1]!],
      ['latin1.bin', e.attachments[2]!],
    ] as const) {
      const out = join(dir, `export-${name}`);
      const r = kpx(['attachment-export', '-q', '-k', keyFile, db, path, name, out], PASSWORD);
      expect(r.status).toBe(0);
      expect(readFileSync(out).toString('base64')).toBe(a.dataBase64);
    }
  });

  it('does not open without the key file or with the wrong password', () => {
    expect(kpx(['ls', '-q', db], PASSWORD).status).not.toBe(0);
    expect(kpx(['ls', '-q', '-k', keyFile, db], PASSWORD + 'x').status).not.toBe(0);
  });

  it('a cache saved again by KeePassXC (a group added) still opens, with the same content', async () => {
    // KeePassXC sorts fields, attachments and tags, drops control characters and writes line
    // ends as they are (XML then reads CR LF as LF) when it saves: the order comes back from our
    // own data; the characters are KeePassXC's to keep.
    const clean = richPackage();
    for (const e of clean.entries) {
      e.customFields = e.customFields.filter((f) => f.name !== 'Control');
      e.notes = e.notes.replace(/\r\n?/g, '\n');
    }
    const copy = join(dir, 'resaved.kdbx');
    const bytes = await buildCache(nodeEnv(), clean, {
      serverUrl: 'https://s',
      cachePassword: PASSWORD,
      machineKey: key,
      kdf: TEST_KDF,
    });
    writeFileSync(copy, bytes);
    const r = kpx(['mkdir', '-q', '-k', keyFile, copy, 'Added in KeePassXC'], PASSWORD);
    expect(r.status).toBe(0);
    const resaved = new Uint8Array(readFileSync(copy));
    expect(Buffer.from(resaved).equals(Buffer.from(bytes))).toBe(false);
    const opened = await openCache(nodeEnv(), resaved, {
      cachePassword: PASSWORD,
      machineKey: key,
    });
    expect(opened.folders).toEqual(clean.folders);
    expect(opened.entries).toEqual(clean.entries);
    expect(opened.meta.cacheId).toBe(clean.cacheId);
  });

  it('a database made by KeePassXC itself is refused as cache_unsupported', async () => {
    const other = join(dir, 'other.kdbx');
    execFileSync('keepassxc-cli', ['db-create', '-q', '-p', other], {
      input: `${PASSWORD}\n${PASSWORD}\n`,
    });
    const bytes = new Uint8Array(readFileSync(other));
    const env = nodeEnv();
    await expectCode(
      openCache(env, bytes, { cachePassword: PASSWORD, machineKey: machineKey() }),
      'cache_unsupported',
    );
    expect(env.argon2Calls()).toBe(0);
    expect(() => readCacheHeader(bytes)).toThrow(OfflineCacheError);
  });
});

describe('size', () => {
  it('round-trips 2,000 entries in 200 folders', async () => {
    const env = nodeEnv();
    const pkg = bigPackage(2000, 200);
    const key = machineKey();
    const bytes = await buildCache(env, pkg, {
      serverUrl: 'https://s',
      cachePassword: PASSWORD,
      machineKey: key,
      kdf: TEST_KDF,
    });
    const opened = await openCache(env, bytes, { cachePassword: PASSWORD, machineKey: key });
    expect(opened.folders).toEqual(pkg.folders);
    expect(opened.entries).toEqual(pkg.entries);
  });
});
