/** Test support: a Node host for the library and offline packages to cache. */
import { randomBytes, randomUUID } from 'node:crypto';
import { argon2idRaw } from '@strongroom/crypto';
import {
  DEFAULT_PASSWORD_REQUIREMENTS,
  type OfflineEntry,
  type OfflineFolder,
  type OfflinePackage,
} from '@strongroom/protocol';
import { packageShell } from './bench/sample-package.js';
import type { KdfParams, OfflineEnv } from './env.js';
import { nodeOfflineEnv } from './node.js';

/** The cheapest parameters the library accepts: tests spend ~0.1 s per derivation. */
export const TEST_KDF: KdfParams = { memoryKiB: 65536, iterations: 1, parallelism: 1 };

export interface CountingEnv extends OfflineEnv {
  argon2Calls: () => number;
}

export function nodeEnv(opts: { now?: Date; webCrypto?: boolean } = {}): CountingEnv {
  let calls = 0;
  const env = nodeOfflineEnv({
    argon2id: (password, salt, p) => {
      calls++;
      return argon2idRaw(password, salt, p);
    },
    now: () => opts.now ?? new Date(),
  });
  if (opts.webCrypto) {
    // The web variant runs the library's defaults: WebCrypto, its own ChaCha20, CompressionStream.
    delete env.crypto;
    delete env.compression;
  }
  return { ...env, argon2Calls: () => calls };
}

export const machineKey = (): Uint8Array => new Uint8Array(randomBytes(32));

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

function entry(
  folder: OfflineFolder,
  name: string,
  over: Partial<OfflineEntry> = {},
): OfflineEntry {
  return {
    id: randomUUID(),
    folderId: folder.id,
    path: `${folder.path}/${name}`,
    name,
    username: '',
    password: '',
    url: '',
    notes: '',
    tags: [],
    customFields: [],
    attachments: [],
    clientMeta: {},
    expiresAt: null,
    createdAt: '2026-01-02T03:04:05.678Z',
    modifiedAt: '2026-02-03T04:05:06.789Z',
    ...over,
  };
}

export function attachment(fileName: string, bytes: Uint8Array) {
  return { id: randomUUID(), fileName, size: bytes.length, dataBase64: b64(bytes) };
}

/** Nested folders, every field, unicode, awkward values, binary attachments. */
export function richPackage(over: Partial<OfflinePackage> = {}): OfflinePackage {
  const folder = (parent: OfflineFolder | null, name: string): OfflineFolder => ({
    id: randomUUID(),
    parentId: parent?.id ?? null,
    name,
    path: parent ? `${parent.path}/${name}` : name,
  });
  const root = folder(null, 'Root');
  const ops = folder(root, 'Operations');
  const db = folder(ops, 'Databases – prod ☃');
  const deep = folder(db, 'Ünïcödé 日本語');
  const nonUtf8 = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0xa0, 0xa1]);
  const entries: OfflineEntry[] = [
    entry(root, 'Top-level mail', {
      username: 'alice@corp.example',
      password: 'Tr0ub4dor&3 <x> "q"',
      url: 'https://mail.corp.example/?a=1&b=2',
      notes: 'Line one\nLine two\r\nWindows line\rOld Mac line\n\tindented & <b>bold</b>',
      tags: ['mail', 'personal'],
    }),
    entry(ops, 'Router', {
      username: 'admin',
      password: 'ünïcødé-pässwörd-🔑',
      url: 'ssh://10.0.0.1',
      tags: ['net;work', 'a,b', ' spaced '],
      customFields: [
        { name: 'PIN', value: '1234', protected: true },
        { name: 'Serial', value: 'SN-42', protected: false },
        { name: 'Password', value: 'a custom field named like a standard one', protected: false },
        { name: 'Serial', value: 'second field with the same name', protected: true },
        { name: 'Control', value: 'bell\u0007 and nul\u0000 here', protected: false },
        { name: 'Empty', value: '', protected: false },
        { name: '', value: 'nameless', protected: false },
      ],
      clientMeta: { icon: 'router', order: 3, nested: { a: [1, 2] } },
      expiresAt: '2027-06-30T12:00:00.000Z',
    }),
    entry(db, 'Postgres primary', {
      username: 'postgres',
      password: 'pg-secret',
      customFields: [{ name: 'API key', value: 'sk_live_abcdef', protected: true }],
      attachments: [
        attachment('dump.bin', new Uint8Array(randomBytes(3000))),
        attachment('empty.txt', new Uint8Array(0)),
        attachment('latin1.bin', nonUtf8),
        attachment('dump.bin', new TextEncoder().encode('same name, other file')),
      ],
    }),
    entry(deep, 'Ключ 🗝', { username: 'юзер', password: 'пароль', notes: '' }),
    entry(deep, 'Empty entry'),
  ];
  return {
    ...packageShell({
      revision: 'rev-1',
      createdAt: '2026-03-01T10:00:00.000Z',
      loginName: 'Alice@Corp.Example',
      displayName: 'Alice Example',
      passwordRequirements: { ...DEFAULT_PASSWORD_REQUIREMENTS, minDigits: 1 },
      folders: [root, ops, db, deep],
      entries,
    }),
    ...over,
  };
}

export { samplePackage as bigPackage } from './bench/sample-package.js';
