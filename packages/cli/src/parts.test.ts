import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findClipboard } from './clipboard.js';
import { CliError } from './errors.js';
import { spawnSync } from 'node:child_process';
import { eraseFile, withFileLock, writeFileAtomic } from './fsutil.js';
import type { Io } from './io.js';
import { clientPaths } from './paths.js';
import { Secrets } from './secrets.js';
import { findEntry, findFolder, findNode, normalisePath, type Tree } from './vault.js';

const scratch = mkdtempSync(join(tmpdir(), 'strongroom-cli-parts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('where the client keeps its state', () => {
  it('uses STRONGROOM_HOME, else the XDG directories, else ~/.config and ~/.local/share', () => {
    expect(clientPaths({ STRONGROOM_HOME: '/h', XDG_CONFIG_HOME: '/x' })).toMatchObject({
      configDir: '/h/config',
      dataDir: '/h/data',
      session: '/h/config/session.json',
      cache: '/h/data/cache.kdbx',
      machineSecret: '/h/data/machine.key',
    });
    expect(
      clientPaths({ HOME: '/home/a', XDG_CONFIG_HOME: '/cfg', XDG_DATA_HOME: '/dat' }),
    ).toMatchObject({
      configDir: '/cfg/strongroom',
      dataDir: '/dat/strongroom',
    });
    // A relative XDG value is invalid (XDG base directory spec) and ignored.
    expect(clientPaths({ HOME: '/home/a', XDG_CONFIG_HOME: 'rel' })).toMatchObject({
      configDir: '/home/a/.config/strongroom',
      dataDir: '/home/a/.local/share/strongroom',
    });
  });
});

describe('crash-safe files', () => {
  it('replaces a file whole, mode 0600, in a 0700 directory, leaving no temporary file', async () => {
    const dir = join(mkdtempSync(join(scratch, 'fs-')), 'sub');
    const file = join(dir, 'f.bin');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir)).toEqual(['f.bin']);
  });

  it('removes the leftovers of an interrupted write at the next write, not a write in progress', async () => {
    const dir = mkdtempSync(join(scratch, 'fs-'));
    const old = join(dir, 'f.bin.tmp-abc');
    writeFileSync(old, 'half');
    const minutesAgo = new Date(Date.now() - 120_000);
    utimesSync(old, minutesAgo, minutesAgo);
    // Another client process writing the same file right now.
    writeFileSync(join(dir, 'f.bin.tmp-def'), 'being written');
    await writeFileAtomic(join(dir, 'f.bin'), 'whole');
    expect(readdirSync(dir).sort()).toEqual(['f.bin', 'f.bin.tmp-def']);
  });

  it('a file lock runs its holders one after the other and removes the lock file', async () => {
    const dir = mkdtempSync(join(scratch, 'lock-'));
    const lock = join(dir, 'j.lock');
    const order: string[] = [];
    const hold = (name: string) =>
      withFileLock(lock, async () => {
        order.push(`${name} in`);
        expect(readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
        await new Promise((r) => setTimeout(r, 30));
        order.push(`${name} out`);
      });
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    for (let i = 0; i < order.length; i += 2) {
      expect(order[i]!.split(' ')[0]).toBe(order[i + 1]!.split(' ')[0]);
    }
    expect(existsSync(lock)).toBe(false);
  });

  it('a file lock left by a process that is gone, or too old, is taken over', async () => {
    const dir = mkdtempSync(join(scratch, 'lock-'));
    const lock = join(dir, 'j.lock');
    writeFileSync(lock, `${spawnSync(process.execPath, ['-e', '0']).pid}\n`);
    expect(await withFileLock(lock, async () => 'ran')).toBe('ran');
    writeFileSync(lock, `${process.pid}\n`); // a live process, but an hour old
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, hourAgo, hourAgo);
    expect(await withFileLock(lock, async () => 'ran again')).toBe('ran again');
    expect(existsSync(lock)).toBe(false);
  });

  it('erases by overwriting and unlinking; a missing file is fine', async () => {
    const dir = mkdtempSync(join(scratch, 'fs-'));
    const file = join(dir, 'secret');
    writeFileSync(file, 'TESTSECRET-erase-me');
    chmodSync(file, 0o600);
    expect(await eraseFile(file)).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(await eraseFile(file)).toBe(false);
  });
});

function io(lines: string[], interactive = false, answers: string[] = []): Io {
  return {
    interactive,
    promptHidden: async () => answers.shift() ?? '',
    promptVisible: async () => answers.shift() ?? '',
    stdinLines: async () => lines,
    notice: () => undefined,
    progress: () => undefined,
    out: () => undefined,
    err: () => undefined,
  };
}

describe('secrets', () => {
  it('hands out stdin lines in the documented order, whatever order they are asked in', async () => {
    const s = new Secrets(
      io(['pw', '123456', 'cache']),
      {},
      new Set(['cachePassword', 'password', 'totp'] as const),
    );
    expect(await s.get('cachePassword', '', 'x')).toBe('cache');
    expect(await s.get('totp', '', 'x')).toBe('123456');
    expect(await s.get('password', '', 'x')).toBe('pw');
  });

  it('takes the option, then the environment, then the prompt; else says how to give it', async () => {
    const env = { STRONGROOM_PASSWORD: 'from-env' };
    expect(
      await new Secrets(io(['from-stdin']), env, new Set(['password'] as const)).get(
        'password',
        '',
        'x',
      ),
    ).toBe('from-stdin');
    expect(await new Secrets(io([]), env, new Set()).get('password', '', 'x')).toBe('from-env');
    expect(await new Secrets(io([], true, ['typed']), {}, new Set()).get('password', '', 'x')).toBe(
      'typed',
    );
    const err = await new Secrets(io([]), {}, new Set())
      .get('cachePassword', '', 'the cache password')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toBe(
      'the cache password is needed: give it with --cache-password-stdin or in STRONGROOM_CACHE_PASSWORD, or run the command at a terminal',
    );
  });

  it('says what was left empty at the prompt and how else to give it', async () => {
    const err = await new Secrets(io([], true, ['']), {}, new Set())
      .get('cachePassword', '', 'the offline cache password')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('input_needed');
    expect((err as CliError).message).toBe(
      'nothing was typed for the offline cache password: run the command again and type it, or give it with --cache-password-stdin or in STRONGROOM_CACHE_PASSWORD',
    );
  });
});

describe('paths in the vault', () => {
  const tree: Tree = {
    folders: [
      { id: '00000000-0000-4000-8000-000000000001', parentId: null, name: 'Root', path: 'Root' },
      {
        id: '00000000-0000-4000-8000-000000000002',
        parentId: '00000000-0000-4000-8000-000000000001',
        name: 'A',
        path: 'Root/A',
      },
    ],
    entries: [
      {
        id: '00000000-0000-4000-8000-00000000000a',
        folderId: '00000000-0000-4000-8000-000000000002',
        name: 'E',
        path: 'Root/A/E',
      },
      {
        id: '00000000-0000-4000-8000-00000000000b',
        folderId: '00000000-0000-4000-8000-000000000002',
        name: 'Twin',
        path: 'Root/A/Twin',
      },
      {
        id: '00000000-0000-4000-8000-00000000000c',
        folderId: '00000000-0000-4000-8000-000000000002',
        name: 'Twin',
        path: 'Root/A/Twin',
      },
    ],
  };

  it('takes paths with or without Root/ and trailing slashes, and ids', () => {
    expect(normalisePath('A/E')).toBe('Root/A/E');
    expect(normalisePath('/Root/A/')).toBe('Root/A');
    expect(normalisePath('')).toBe('Root');
    expect(findEntry(tree, 'A/E').id).toBe('00000000-0000-4000-8000-00000000000a');
    expect(findEntry(tree, '00000000-0000-4000-8000-00000000000A').path).toBe('Root/A/E');
    expect(findFolder(tree, 'Root').id).toBe('00000000-0000-4000-8000-000000000001');
    expect(findNode(tree, 'Root/A').type).toBe('folder');
  });

  it('refuses an ambiguous path, listing the ids, and a missing one as not found', () => {
    expect(() => findEntry(tree, 'Root/A/Twin')).toThrow(
      /2 items are at Root\/A\/Twin; give one of their ids: .*0b, .*0c/,
    );
    const missing = (() => {
      try {
        findEntry(tree, 'Root/A/Nope');
      } catch (e) {
        return e as CliError;
      }
    })();
    expect(missing?.exitCode).toBe(4);
  });
});

describe('clipboard tools', () => {
  it('finds one only with a display session and the tool on the PATH', () => {
    const bin = mkdtempSync(join(scratch, 'bin-'));
    for (const t of ['xsel', 'wl-copy', 'wl-paste']) {
      writeFileSync(join(bin, t), '#!/bin/sh\n');
      chmodSync(join(bin, t), 0o755);
    }
    expect(findClipboard({ PATH: bin }, 'linux')).toBeNull();
    expect(findClipboard({ PATH: bin, DISPLAY: ':0' }, 'linux')?.name).toBe('xsel');
    expect(
      findClipboard({ PATH: bin, WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' }, 'linux')?.name,
    ).toBe('wl-copy');
    expect(findClipboard({ PATH: '/nonexistent', DISPLAY: ':0' }, 'linux')).toBeNull();
  });
});
