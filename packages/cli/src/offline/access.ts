import { readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveJournalKey, newUuid } from '@strongroom/crypto';
import {
  OfflineCacheError,
  OfflineJournalError,
  buildCache,
  calibrateKdf,
  keyFileXml,
  machineMatches,
  openCache,
  openJournal,
  type BlobStore,
  type CacheMeta,
  type Journal,
  type KdfParams,
  type OfflineEnv,
  type OpenedCache,
  type Progress,
  type ProgressStep,
} from '@strongroom/offline';
import { nodeOfflineEnv } from '@strongroom/offline/node';
import { OFFLINE_PACKAGE_FORMAT } from '@strongroom/protocol/lite';
import type { OfflinePackage } from '@strongroom/protocol';
import type {
  CacheMetaView,
  Ctx,
  JournalAccess,
  OfflineAccess,
  OfflineCacheSource,
} from '../context.js';
import { CliError } from '../errors.js';
import {
  eraseFile,
  exists,
  readIfExists,
  removeFile,
  withFileLock,
  writeFileAtomic,
} from '../fsutil.js';
import { lowerFirst } from '../http.js';
import type { Secrets } from '../secrets.js';
import { formatTime } from '../session.js';
import type { CacheInfo } from '../state.js';
import { searchEntries, type EntryDetail, type SearchHits, type Tree } from '../vault.js';
import { machineKeyOf } from './machine.js';

/** The Node side of the offline cache: files, machine key, KDF calibration, the journal. */

type Base = Omit<Ctx, 'offline'>;

/** The library's Node host (Argon2id, node:crypto, node:zlib) on the client's clock. */
function offlineEnv(ctx: Base): OfflineEnv {
  return nodeOfflineEnv({ now: () => ctx.now() });
}

function metaView(meta: CacheMeta, entryCount: number): CacheMetaView {
  return {
    cacheId: meta.cacheId,
    serverUrl: meta.serverUrl,
    serverId: meta.serverId,
    loginName: meta.loginName,
    userId: meta.userId,
    displayName: meta.displayName,
    createdAt: meta.createdAt,
    expiresAt: meta.expiresAt,
    maxOfflineUntil: meta.maxOfflineUntil,
    revision: meta.revision,
    entryCount,
    passwordRequirements: meta.passwordRequirements,
  };
}

function infoOf(meta: CacheMetaView, at: Date): CacheInfo {
  const { passwordRequirements: _requirements, ...facts } = meta;
  return { ...facts, writtenAt: at.toISOString() };
}

/** The library's errors as the client's (same codes, same sentences). */
function cliErrorOfCache(err: unknown): unknown {
  if (err instanceof OfflineCacheError) {
    return new CliError(err.code, lowerSentence(err.message));
  }
  if (err instanceof OfflineJournalError) {
    return new CliError('journal_tampered', lowerSentence(err.message));
  }
  return err;
}

function lowerSentence(s: string): string {
  return lowerFirst(s.replace(/\.$/, ''));
}

/** `fn`, with the library's errors thrown as the client's. */
function mapped<A extends unknown[], R>(fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  return async (...a) => {
    try {
      return await fn(...a);
    } catch (err) {
      throw cliErrorOfCache(err);
    }
  };
}

const STEP_TEXT: Record<ProgressStep, string> = {
  derive: 'Deriving the cache key',
  encrypt: 'Encrypting the cache',
  decrypt: 'Decrypting the cache',
  parse: 'Reading the cache',
};

function progressOf(ctx: Base): Progress {
  return (step, done) => ctx.io.progress(`${STEP_TEXT[step]}…${done ? ' done' : ''}`, done);
}

/**
 * KDF parameters: calibrated once per machine (about half a second) and remembered in the data
 * directory. Tests may lower the iterations with STRONGROOM_TEST_KDF_ITERATIONS (the memory stays
 * at 64 MiB); nothing else can.
 */
async function kdfParams(ctx: Base): Promise<KdfParams> {
  const testIterations = Number(ctx.env.STRONGROOM_TEST_KDF_ITERATIONS);
  if (Number.isInteger(testIterations) && testIterations > 0) {
    return { memoryKiB: 65536, iterations: testIterations, parallelism: 1 };
  }
  const client = (await ctx.state.client()) ?? { installId: newUuid() };
  if (client.kdf && client.kdf.memoryKiB >= 65536 && client.kdf.iterations >= 1) {
    const { memoryKiB, iterations, parallelism } = client.kdf;
    return { memoryKiB, iterations, parallelism };
  }
  ctx.io.progress('Measuring this machine for the key derivation (once)…');
  const p = await calibrateKdf(offlineEnv(ctx), 500);
  ctx.io.progress('Measuring this machine for the key derivation (once)… done', true);
  await ctx.state.saveClient({ ...client, kdf: { ...p, calibratedAt: ctx.now().toISOString() } });
  return p;
}

function journalFile(ctx: Base, cacheId: string): string {
  return join(ctx.paths.dataDir, `journal-${cacheId}.bin`);
}

function blobStore(file: string): BlobStore {
  return {
    read: async () => {
      const b = await readIfExists(file);
      return b ? new Uint8Array(b) : null;
    },
    write: (bytes) => writeFileAtomic(file, bytes),
    erase: async () => {
      await eraseFile(file);
    },
    // Two client processes at once (two terminals, a script in parallel) must both keep their
    // record: every change of the journal holds its lock file.
    exclusive: (fn) => withFileLock(`${file}.lock`, fn),
  };
}

class CacheSource implements OfflineCacheSource {
  readonly kind = 'cache' as const;
  readonly meta: CacheMetaView;
  readonly clipboardClearSeconds: number;
  private readonly treeView: Tree;
  constructor(
    private readonly opened: OpenedCache,
    private readonly journal: () => Promise<Pick<Journal, 'append'>>,
    private readonly now: () => Date,
  ) {
    this.meta = metaView(opened.meta, opened.entries.length);
    this.clipboardClearSeconds = opened.meta.clientSettings.settings.clipboardClearSeconds;
    this.treeView = {
      folders: opened.folders.map((f) => ({
        id: f.id,
        parentId: f.parentId,
        name: f.name,
        path: f.path,
      })),
      entries: opened.entries.map((e) => ({
        id: e.id,
        folderId: e.folderId,
        name: e.name,
        path: e.path,
        username: e.username,
        url: e.url,
        tags: e.tags,
      })),
    };
  }
  async tree(): Promise<Tree> {
    return this.treeView;
  }
  private find(id: string) {
    const e = this.opened.entries.find((x) => x.id === id);
    if (!e) throw new CliError('not_found', `no entry ${id} in the offline cache`);
    return e;
  }
  async entry(id: string): Promise<EntryDetail> {
    const e = this.find(id);
    return {
      id: e.id,
      folderId: e.folderId,
      name: e.name,
      path: e.path,
      username: e.username,
      url: e.url,
      notes: e.notes,
      tags: e.tags,
      customFields: e.customFields.map((f) => ({
        name: f.name,
        value: f.value,
        protected: f.protected,
      })),
      attachments: e.attachments.map((a) => ({ id: a.id, fileName: a.fileName, size: a.size })),
      hasPassword: e.password !== '',
      expiresAt: e.expiresAt,
      createdAt: e.createdAt,
      modifiedAt: e.modifiedAt,
    };
  }
  /** Journalled before it is handed out: no record, no password. */
  async password(id: string, action: 'viewed' | 'copied'): Promise<string> {
    const e = this.find(id);
    const j = await this.journal();
    await j.append({ entryId: e.id, action, occurredAt: this.now().toISOString() });
    return e.password;
  }
  async search(text: string): Promise<SearchHits> {
    // treeView.entries is built from opened.entries, index for index.
    const entries = this.opened.entries.map((e, i) => ({
      ...this.treeView.entries[i]!,
      notes: e.notes,
    }));
    return searchEntries(entries, this.treeView.folders, text);
  }
  async clipboardSeconds(): Promise<number> {
    return this.clipboardClearSeconds;
  }
  async attachment(entryId: string, attachmentId: string): Promise<Uint8Array> {
    const a = this.find(entryId).attachments.find((x) => x.id === attachmentId);
    if (!a) throw new CliError('not_found', `no attachment ${attachmentId} in the offline cache`);
    return new Uint8Array(Buffer.from(a.dataBase64, 'base64'));
  }
}

export function createOfflineAccess(ctx: Base): OfflineAccess {
  const env = offlineEnv(ctx);
  // Read (or made) once per command: the machine.key file and the machine identity.
  let machineKeyRead: Promise<Uint8Array> | null = null;
  const machineKey = (): Promise<Uint8Array> =>
    (machineKeyRead ??= machineKeyOf(ctx.env, ctx.paths.machineSecret));
  const journalKey = async () => deriveJournalKey(await machineKey());

  /** A cache's journal; every method throws the library's errors as the client's. */
  const openJournalOf = mapped(async (cacheId: string): Promise<Journal> => {
    const j = await openJournal(
      env,
      blobStore(journalFile(ctx, cacheId)),
      await journalKey(),
      cacheId,
    );
    return {
      append: mapped((r) => j.append(r)),
      records: mapped(() => j.records()),
      remove: mapped((ids) => j.remove(ids)),
      clear: mapped(() => j.clear()),
    };
  });

  const access: OfflineAccess = {
    async info() {
      const info = await ctx.state.cacheInfo();
      if (!info) return null;
      if (!(await exists(ctx.paths.cache))) return null;
      return info;
    },

    async open(secrets: Secrets, o) {
      const bytes = await readIfExists(ctx.paths.cache);
      if (!bytes) {
        throw new CliError(
          'no_cache',
          'this client holds no offline cache: connect and run strongroom disconnect to make one',
        );
      }
      const key = await machineKey();
      // A cache copied from another machine is refused before its password is asked.
      try {
        if (!machineMatches(bytes, key)) throw new OfflineCacheError('cache_wrong_machine');
      } catch (err) {
        throw cliErrorOfCache(err);
      }
      const given = await secrets.given('cachePassword');
      const password =
        given ??
        o.fallbackPassword ??
        (await secrets.get(
          'cachePassword',
          'Password of the offline cache: ',
          'the offline cache password',
        ));
      let opened: OpenedCache;
      try {
        opened = await openCache(env, bytes, {
          cachePassword: password,
          machineKey: key,
          onProgress: progressOf(ctx),
        });
      } catch (err) {
        if (err instanceof OfflineCacheError && err.code === 'cache_expired') {
          throw await expire(err.expiry ?? null);
        }
        throw cliErrorOfCache(err);
      }
      if (opened.meta.loginName !== o.loginName) {
        throw new CliError(
          'offline_other_user',
          'the offline cache on this client was made by another user, or with the login name typed differently',
        );
      }
      const current = await ctx.state.cacheInfo();
      if (!current || current.cacheId !== opened.meta.cacheId) {
        // The public facts are out of step with the cache (a crash between the two writes): the
        // encrypted copy is authoritative.
        await ctx.state.saveCacheInfo(
          infoOf(metaView(opened.meta, opened.entries.length), ctx.now()),
        );
      }
      let journal: Journal | null = null;
      return new CacheSource(
        opened,
        async () => (journal ??= await openJournalOf(opened.meta.cacheId)),
        ctx.now,
      );

      async function expire(
        e: { reason: 'expired' | 'max_offline'; at: string } | null,
      ): Promise<CliError> {
        const info = await ctx.state.cacheInfo();
        await access.erase();
        if (info) await ctx.state.addPending(info, ctx.now());
        const mode = await ctx.state.mode();
        if (mode.mode === 'offline') await ctx.state.saveMode({ mode: 'online' });
        const why =
          e?.reason === 'max_offline'
            ? `the maximum offline time ended on ${formatTime(e.at)}`
            : e
              ? `it expired on ${formatTime(e.at)}`
              : 'it expired';
        return new CliError(
          'cache_expired',
          `the offline cache can no longer be used (${why}) and has been deleted`,
        );
      }
    },

    async write(pkg: OfflinePackage, o) {
      if (pkg.format !== OFFLINE_PACKAGE_FORMAT) {
        throw new CliError(
          'cache_unsupported',
          `the server sent an offline package of format ${pkg.format}, which this client does not know; update the client`,
        );
      }
      const key = await machineKey();
      const kdf = await kdfParams(ctx);
      // The login name as typed (offline login needs that exact form), not as the server stores it.
      const bytes = await buildCache(
        env,
        { ...pkg, loginName: o.loginName },
        {
          serverUrl: o.serverUrl,
          cachePassword: o.cachePassword,
          machineKey: key,
          kdf,
          onProgress: progressOf(ctx),
        },
      ).catch((err: unknown) => {
        throw cliErrorOfCache(err);
      });
      const view: CacheMetaView = {
        cacheId: pkg.cacheId,
        serverUrl: o.serverUrl,
        serverId: pkg.serverId,
        loginName: o.loginName,
        userId: pkg.user.id,
        displayName: pkg.user.displayName,
        createdAt: pkg.createdAt,
        expiresAt: pkg.expiresAt,
        maxOfflineUntil: pkg.maxOfflineUntil,
        revision: pkg.revision,
        entryCount: pkg.entries.length,
        passwordRequirements: pkg.passwordRequirements,
      };
      return access.install(bytes, view);
    },

    async install(bytes, meta) {
      const previous = await ctx.state.cacheInfo();
      ctx.io.progress('Writing the cache…');
      await writeFileAtomic(ctx.paths.cache, bytes);
      const info = infoOf(meta, ctx.now());
      await ctx.state.saveCacheInfo(info);
      ctx.io.progress('Writing the cache… done', true);
      if (previous && previous.cacheId !== info.cacheId) {
        // The replaced cache's journal was uploaded before (or is kept for the next contact).
        const j = await openJournalOf(previous.cacheId).catch(() => null);
        const left = j ? await j.records().catch(() => [1]) : [];
        if (left.length === 0) await eraseFile(journalFile(ctx, previous.cacheId));
      }
      return info;
    },

    async erase() {
      const info = await ctx.state.cacheInfo();
      const erased = await eraseFile(ctx.paths.cache);
      await removeFile(ctx.paths.cacheInfo);
      return erased || info ? info : null;
    },

    async journal(cacheId): Promise<JournalAccess> {
      const file = journalFile(ctx, cacheId);
      if (!(await exists(file))) {
        return {
          records: async () => [],
          remove: async () => 0,
          clear: async () => undefined,
          setAside: async () => file,
        };
      }
      return {
        records: async () => (await openJournalOf(cacheId)).records(),
        remove: async (ids) => (await openJournalOf(cacheId)).remove(ids),
        clear: async () => {
          await eraseFile(file);
        },
        setAside: async () => {
          const kept = `${file}.unverified-${ctx.now().toISOString().replace(/[:.]/g, '-')}`;
          await rename(file, kept);
          return kept;
        },
      };
    },

    async journalCacheIds() {
      const names = await readdir(ctx.paths.dataDir).catch(() => [] as string[]);
      return names.flatMap((n) => {
        const m = /^journal-([0-9a-f-]{36})\.bin$/.exec(n);
        return m ? [m[1]!] : [];
      });
    },

    machineKey,

    async openFile(file, password) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file));
      } catch (err) {
        throw new CliError(
          'not_found',
          `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      const key = await machineKey();
      let opened: OpenedCache;
      try {
        // openCache checks the machine before the password, and the expiry with the client's clock.
        opened = await openCache(env, bytes, {
          cachePassword: password,
          machineKey: key,
          onProgress: progressOf(ctx),
        });
      } catch (err) {
        if (err instanceof OfflineCacheError && err.code === 'cache_expired') {
          throw new CliError('cache_expired', 'this offline cache has expired; it is not imported');
        }
        throw cliErrorOfCache(err);
      }
      const meta = metaView(opened.meta, opened.entries.length);
      return {
        bytes,
        meta,
        rebuild: async (newPassword: string) => {
          const m = opened.meta;
          const pkg: OfflinePackage = {
            format: OFFLINE_PACKAGE_FORMAT,
            cacheId: m.cacheId,
            serverId: m.serverId,
            revision: m.revision,
            createdAt: m.createdAt,
            expiresAt: m.expiresAt,
            maxOfflineUntil: m.maxOfflineUntil,
            loginName: m.loginName,
            user: { id: m.userId, displayName: m.displayName },
            clientSettings: m.clientSettings,
            passwordRequirements: m.passwordRequirements,
            folders: opened.folders,
            entries: opened.entries,
          };
          return buildCache(env, pkg, {
            serverUrl: m.serverUrl,
            cachePassword: newPassword,
            machineKey: key,
            kdf: await kdfParams(ctx),
            onProgress: progressOf(ctx),
          }).catch((err: unknown) => {
            throw cliErrorOfCache(err);
          });
        },
      };
    },

    async keyFileXml() {
      return keyFileXml(await machineKey());
    },
  };
  return access;
}
