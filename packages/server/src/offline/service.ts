import { newUuid } from '@strongroom/crypto';
import {
  OFFLINE_LIMITS,
  OFFLINE_PACKAGE_FORMAT,
  type OfflineCache,
  type OfflineCacheList,
  type OfflineCacheStatusView,
  type OfflineEntry,
  type OfflineFolder,
  type OfflineJournalRecord,
  type OfflineJournalResult,
  type OfflinePackage,
  type OfflinePackageRequest,
  type PasswordRequirements,
} from '@strongroom/protocol';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import type { AuditInput, AuditRecorder } from '../audit/recorder.js';
import type { GrantShape } from '../access/engine.js';
import { loadPrincipalGrants, type Principal } from '../access/load.js';
import { auditActor, type Actor } from '../http/auth.js';
import type { ExportedEntry, VaultService } from '../vault/service.js';
import type { ClientConfigService } from '../clientconfig/service.js';
import { AppError, conflict, invalid, notFound } from '../shared/errors.js';
import { currentRevision } from '../shared/revision-cache.js';
import { allRoleEdges } from '../users/repository.js';
import { roleClosure } from '../users/role-graph.js';
import { SYSTEM_ACTOR } from '../users/context.js';
import {
  OFFLINE_REQUIRED,
  VaultStateCache,
  callerDigest,
  eligibleEntries,
  hasEligibleEntry,
  nextGrantExpiry,
  type VaultState,
} from './eligibility.js';
import { Coalescer } from './after-commit.js';
import * as repo from './repository.js';
import type { CacheRow } from './repository.js';
import { REVOKE_REASONS, revokeCaches } from './revoke.js';

export interface OfflineServiceDeps {
  /** The plain store (not the one whose commits run the re-check hook). */
  store: Store;
  clock: Clock;
  audit: AuditRecorder;
  serverId: string;
  vault: Pick<VaultService, 'exportEntries'>;
  clientConfig: Pick<ClientConfigService, 'effectiveFor'>;
  /** The user's policy password requirements (for the cache password). */
  passwordRequirements: (
    userId: string,
    roleIds: readonly string[],
  ) => Promise<PasswordRequirements>;
  /** Failures of the background re-check (never a request's error). */
  onError?: (err: unknown) => void;
}

/** Status changes of caches are serialised across processes under this lock. */
const CACHE_LOCK = 'offline.caches';
/** Journal uploads are serialised so a journal sent twice at once is recorded once. */
const JOURNAL_LOCK = 'offline.journal';
/** Entries exported, decrypted and serialised at a time while making a package. */
const PACKAGE_CHUNK = 500;
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Control characters other than tab, line feed and carriage return. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;

const iso = (t: number): string => new Date(t).toISOString();
const isoOrNull = (t: number | null): string | null => (t === null ? null : iso(t));

function noOfflineEntries(): AppError {
  return new AppError('offline_not_allowed', 'You have no entries you may take offline.');
}

function principalKey(p: Principal): string {
  return `${p.isAdministrator ? 'a' : 'u'}:${p.userId}:${[...p.roleIds].sort().join(',')}`;
}

function cacheView(row: CacheRow): OfflineCache {
  return {
    id: row.id,
    userId: row.user_id,
    loginName: row.login_name,
    clientLabel: row.client_label,
    comment: row.comment,
    createdAt: iso(row.created_at),
    expiresAt: isoOrNull(row.expires_at),
    maxOfflineUntil: isoOrNull(row.max_offline_until),
    entryCount: row.entry_count,
    revision: row.revision,
    status: row.status as OfflineCache['status'],
    statusChangedAt: isoOrNull(row.status_changed_at),
    statusReason: row.status_reason,
    statusBy: row.status_by,
  };
}

/** Per-caller revisions, kept while the `vault` counter stays and no time-limited grant ends. */
class RevisionMemo {
  private readonly items = new Map<
    string,
    { vault: number; validUntil: number; revision: string }
  >();

  constructor(private readonly max: number) {}

  get(key: string, vault: number, now: number): string | undefined {
    const item = this.items.get(key);
    if (!item) return undefined;
    if (item.vault !== vault || now >= item.validUntil) {
      this.items.delete(key);
      return undefined;
    }
    return item.revision;
  }

  set(key: string, item: { vault: number; validUntil: number; revision: string }): void {
    this.items.delete(key);
    this.items.set(key, item);
    if (this.items.size > this.max) {
      const oldest = this.items.keys().next().value;
      if (oldest !== undefined) this.items.delete(oldest);
    }
  }
}

/**
 * The server side of offline mode (offline-mode §4): the offline package, the caller's
 * revision, the cache inventory (list, revoke, status, clear), the journal upload, and the
 * revocation of caches whose owner was disabled or lost offline access.
 */
export class OfflineService {
  private readonly state = new VaultStateCache();
  private readonly revisions = new RevisionMemo(10_000);
  private readonly recheckRuns: Coalescer;
  /** The access counters at the last complete re-check in this process. */
  private checkedAt: string | undefined;

  constructor(private readonly deps: OfflineServiceDeps) {
    this.recheckRuns = new Coalescer(async () => {
      try {
        await this.recheckIfChanged();
      } catch (err) {
        (deps.onError ?? ((e) => console.error('offline cache re-check failed', e)))(err);
      }
    });
  }

  private get db() {
    return this.deps.store.db;
  }

  // ================================================================ revision

  /**
   * The caller's revision (see `callerDigest`): a counter read and a lookup while nothing in the
   * vault changed; after a change, a digest over what the caller sees (no decryption).
   */
  async revision(principal: Principal): Promise<string> {
    const db = this.db;
    const now = this.deps.clock.now();
    const vault = await currentRevision(db, 'vault');
    const key = principalKey(principal);
    const hit = this.revisions.get(key, vault, now);
    if (hit !== undefined) return hit;
    const [state, grants] = await Promise.all([this.state.load(db), this.grantsOf(principal)]);
    const revision = callerDigest(state, principal, grants, now);
    this.revisions.set(key, {
      vault,
      validUntil: nextGrantExpiry(grants, now) ?? Number.POSITIVE_INFINITY,
      revision,
    });
    return revision;
  }

  // ================================================================ package

  /**
   * The offline package (`OfflinePackage` serialised as UTF-8 JSON): every entry the caller may
   * take offline, in full, with the folders on their paths, the caller's client settings and
   * password requirements, a new cache id and the caller's revision. Registers the cache and
   * writes one `Offline Sync` record per entry in one transaction, before anything is handed
   * out. A previous active cache of the same user with the same client label is superseded (it
   * becomes `cleared`).
   *
   * Entries are exported and serialised a chunk at a time, so the decrypted entries of only one
   * or two chunks are alive at once and the response is the concatenation of small JSON pieces
   * (10,000 entries: one body of a few megabytes, no object graph of the whole package).
   */
  async makePackage(
    actor: Actor,
    input: OfflinePackageRequest,
  ): Promise<{ cacheId: string; body: Buffer }> {
    const clientLabel = checkLabel(input.clientLabel);
    const comment = checkComment(input.comment);
    const db = this.db;
    const user = (await repo.usersByIds(db, [actor.userId])).get(actor.userId);
    if (!user || user.enabled !== 1) {
      throw new AppError('account_disabled', 'The account is disabled.');
    }
    const [config, passwordRequirements] = await Promise.all([
      this.deps.clientConfig.effectiveFor(actor),
      this.deps.passwordRequirements(actor.userId, actor.roleIds),
    ]);
    if (config.settings.offlineCommentRequired && comment === null) {
      throw invalid('/comment', 'Say why you take entries offline: a comment is required.');
    }
    // Read before the data: a change made meanwhile shows as a newer revision later.
    const countersBefore = await repo.accessCounters(db);
    const revision = await this.revision(actor);
    const now = this.deps.clock.now();
    let [state, grants] = await Promise.all([this.state.load(db), this.grantsOf(actor)]);
    const index = state.folders.index;
    const eligible = eligibleEntries(state, grants, now)
      .map((e) => ({ id: e.id, path: index.entryPath(e.folder_id, e.name) }))
      .sort((a, b) => compare(a.path, b.path) || compare(a.id, b.id));
    if (eligible.length === 0) throw noOfflineEntries();

    // The vault decrypts; it checks the same permissions again against its own view (which
    // counts time-limited grants too, so it can only narrow what eligibility allowed).
    const dialect = this.deps.store.dialect;
    // Two chunks in flight: one decrypts on the sealer's worker thread while the other is read
    // and serialised here.
    const exporting = this.exportInChunks(
      actor,
      eligible.map((e) => e.id),
      2,
    );
    exporting.catch(() => undefined); // awaited below; not "unhandled" meanwhile

    const settings = config.settings;
    const expiresAt =
      settings.expireCacheAfterDays === null ? null : now + settings.expireCacheAfterDays * DAY_MS;
    const maxOfflineUntil =
      settings.maxOfflineHours === null ? null : now + settings.maxOfflineHours * HOUR_MS;
    const cacheId = newUuid();
    const by = auditActor(actor, actor.ip);
    const extra: Record<string, unknown> = {
      ...(clientLabel !== null ? { clientLabel } : {}),
      ...(comment !== null ? { comment } : {}),
    };
    const row = (entryCount: number): CacheRow => ({
      id: cacheId,
      user_id: actor.userId,
      login_name: user.login_name,
      client_label: clientLabel,
      comment,
      created_at: now,
      expires_at: expiresAt,
      max_offline_until: maxOfflineUntil,
      entry_count: entryCount,
      revision,
      status: 'active',
      status_changed_at: null,
      status_reason: null,
      status_by: null,
    });
    /** Registers the cache with these entries and audits each (in the caller's transaction). */
    const register = async (trx: Kysely<Database>, ids: readonly string[], paths: string[]) => {
      if (clientLabel !== null) {
        const previous = await repo.activeCachesLabelled(trx, actor.userId, clientLabel);
        await repo.setStatus(
          trx,
          previous.map((c) => c.id),
          { status: 'cleared', at: now, reason: `superseded by ${cacheId}`, by: user.login_name },
        );
      }
      await repo.insertCache(trx, row(ids.length));
      await repo.insertCacheEntries(trx, dialect, cacheId, ids);
      await this.deps.audit.recordMany(
        ids.map(
          (entryId, i): AuditInput => ({
            event: 'Offline Sync',
            status: 'success',
            actor: by,
            target: paths[i]!,
            details: { cacheId, entryId, ...extra },
          }),
        ),
        trx,
      );
    };

    let pieces: PackagePiece[];
    if (dialect === 'postgres') {
      // The database registers and audits the eligible entries while this process decrypts
      // them; the transaction commits only if the vault exported exactly those entries. (The
      // audit chain's lock is held until then: about as long as the audit insert takes anyway.)
      const wanted = eligible.map((e) => e.id);
      try {
        pieces = await this.deps.store.exclusive(CACHE_LOCK, async (trx) => {
          await register(
            trx,
            wanted,
            eligible.map((e) => e.path),
          );
          const exported = await exporting;
          const got = exported.flatMap((p) => p.ids);
          if (got.length !== wanted.length || got.some((id, i) => id !== wanted[i])) {
            throw new ExportNarrowed(exported);
          }
          return exported;
        });
      } catch (err) {
        if (!(err instanceof ExportNarrowed)) throw err;
        // Access shrank meanwhile: register exactly what was exported (nothing if nothing).
        pieces = err.pieces;
        const ids = pieces.flatMap((p) => p.ids);
        if (ids.length === 0) throw noOfflineEntries();
        await this.deps.store.exclusive(CACHE_LOCK, (trx) =>
          register(
            trx,
            ids,
            pieces.flatMap((p) => p.paths),
          ),
        );
      }
    } else {
      // SQLite runs one statement at a time in this process: export, then register.
      pieces = await exporting;
      const ids = pieces.flatMap((p) => p.ids);
      if (ids.length === 0) throw noOfflineEntries();
      await this.deps.store.exclusive(CACHE_LOCK, (trx) =>
        register(
          trx,
          ids,
          pieces.flatMap((p) => p.paths),
        ),
      );
    }
    const entryFolders = new Set(pieces.flatMap((p) => p.folders));
    if ([...entryFolders].some((id) => !state.folders.has(id))) {
      // A folder was created meanwhile (and an entry moved into it): name it from fresh state.
      [state, grants] = await Promise.all([this.state.load(db), this.grantsOf(actor)]);
    }
    // Access changed while the package was made: the re-check that change ran may have missed
    // this cache, so run one now.
    if ((await repo.accessCounters(db)) !== countersBefore) await this.recheck();

    const folderIndex = state.folders.index;
    const folderIds = new Set<string>();
    for (const id of entryFolders) {
      for (const f of folderIndex.chain(id)) {
        if (folderIds.has(f.id)) break;
        folderIds.add(f.id);
      }
    }
    const folders: OfflineFolder[] = [...folderIds]
      .map((id) => ({
        id,
        parentId: folderIndex.get(id)!.parentId,
        name: folderIndex.get(id)!.name,
        path: folderIndex.path(id),
      }))
      .sort((a, b) => compare(a.path, b.path) || compare(a.id, b.id));
    const head: Omit<OfflinePackage, 'entries'> = {
      format: OFFLINE_PACKAGE_FORMAT,
      cacheId,
      serverId: this.deps.serverId,
      revision,
      createdAt: iso(now),
      expiresAt: isoOrNull(expiresAt),
      maxOfflineUntil: isoOrNull(maxOfflineUntil),
      loginName: user.login_name,
      user: { id: user.id, displayName: user.display_name },
      clientSettings: config,
      passwordRequirements,
      folders,
    };
    const json = JSON.stringify(head);
    const parts: Buffer[] = [Buffer.from(`${json.slice(0, -1)},"entries":[`, 'utf8')];
    for (const p of pieces) {
      if (p.ids.length === 0) continue;
      if (parts.length > 1) parts.push(COMMA);
      parts.push(p.json);
    }
    parts.push(CLOSE);
    return { cacheId, body: Buffer.concat(parts) };
  }

  /**
   * Exports entries a chunk at a time and serialises each chunk at once, so the decrypted
   * entries of only `workers` chunks are alive together. With two workers one chunk's queries
   * overlap the other's decryption (on the sealer's worker thread).
   */
  private async exportInChunks(
    actor: Actor,
    ids: readonly string[],
    workers: number,
  ): Promise<PackagePiece[]> {
    const chunks: string[][] = [];
    for (let i = 0; i < ids.length; i += PACKAGE_CHUNK) {
      chunks.push(ids.slice(i, i + PACKAGE_CHUNK));
    }
    const pieces: PackagePiece[] = new Array(chunks.length);
    let next = 0;
    const worker = async () => {
      for (let k = next++; k < chunks.length; k = next++) {
        const chunk = chunks[k]!;
        const exported = await this.deps.vault.exportEntries(actor, chunk, OFFLINE_REQUIRED);
        // In the order asked for (the vault returns them in whatever order the database does).
        const at = new Map(chunk.map((id, i) => [id, i]));
        exported.sort((a, b) => at.get(a.id)! - at.get(b.id)!);
        pieces[k] = {
          json: Buffer.from(exported.map((e) => JSON.stringify(offlineEntry(e))).join(','), 'utf8'),
          ids: exported.map((e) => e.id),
          paths: exported.map((e) => e.path),
          folders: exported.map((e) => e.folderId),
        };
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return pieces;
  }

  // ================================================================ inventory

  async list(opts: {
    userId?: string | undefined;
    status?: string | undefined;
    limit: number;
    offset: number;
  }): Promise<OfflineCacheList> {
    const { rows, total } = await repo.listCaches(this.db, opts);
    return { items: rows.map(cacheView), total, limit: opts.limit, offset: opts.offset };
  }

  /** Revokes a cache (administrators). Revoking a revoked cache changes nothing. */
  async revoke(actor: Actor, id: string, reason?: string): Promise<OfflineCache> {
    const why = reason?.trim() || 'revoked by an administrator';
    if (CONTROL.test(why))
      throw invalid('/reason', 'The reason must not contain control characters.');
    return this.deps.store.exclusive(CACHE_LOCK, async (trx) => {
      const cache = await repo.findCache(trx, id);
      if (!cache) throw notFound('The offline cache');
      if (cache.status === 'cleared') {
        throw conflict('The cache was already cleared by its client; there is nothing to revoke.');
      }
      if (cache.status === 'revoked') return cacheView(cache);
      const [revoked] = await revokeCaches(
        trx,
        this.deps,
        [cache],
        why,
        auditActor(actor, actor.ip),
      );
      return cacheView(revoked!);
    });
  }

  /**
   * Whether the caller's cache may still be used (owner only; others get 404). An active cache
   * is re-checked here, so a missed re-check can't keep it alive: if the owner may no longer take
   * any entry offline, it is revoked now.
   */
  async status(actor: Actor, id: string): Promise<OfflineCacheStatusView> {
    let cache = await this.ownCache(actor, id);
    if (cache.status === 'active') {
      const [state, grants] = await Promise.all([this.state.load(this.db), this.grantsOf(actor)]);
      if (!hasEligibleEntry(state, grants, this.deps.clock.now())) {
        cache = await this.deps.store.exclusive(CACHE_LOCK, async (trx) => {
          const now = await repo.findCache(trx, id);
          if (!now) throw notFound('The offline cache');
          const [revoked] = await revokeCaches(
            trx,
            this.deps,
            [now],
            REVOKE_REASONS.accessRemoved,
            SYSTEM_ACTOR,
          );
          return revoked ?? now;
        });
      }
    }
    const revision = await this.revision(actor);
    const now = this.deps.clock.now();
    return {
      cacheId: cache.id,
      status: cache.status as OfflineCacheStatusView['status'],
      revoked: cache.status === 'revoked',
      reason: cache.status_reason,
      statusChangedAt: isoOrNull(cache.status_changed_at),
      expiresAt: isoOrNull(cache.expires_at),
      maxOfflineUntil: isoOrNull(cache.max_offline_until),
      expired: cache.expires_at !== null && cache.expires_at <= now,
      revision,
      stale: revision !== cache.revision,
    };
  }

  /** The client deleted its cache (owner only): an active cache becomes `cleared`. */
  async clear(actor: Actor, id: string): Promise<void> {
    await this.ownCache(actor, id);
    await this.deps.store.exclusive(CACHE_LOCK, async (trx) => {
      const cache = await repo.findCache(trx, id);
      if (!cache || cache.status !== 'active') return;
      await repo.setStatus(trx, [id], {
        status: 'cleared',
        at: this.deps.clock.now(),
        reason: 'cleared by the client',
        by: actor.loginName,
      });
      await this.deps.audit.record(
        {
          event: 'Offline Cache Cleared',
          status: 'success',
          actor: auditActor(actor, actor.ip),
          target: cache.login_name,
          details: { cacheId: id, clientLabel: cache.client_label },
        },
        trx,
      );
    });
  }

  // ================================================================ journal

  /**
   * Records what was revealed or copied offline (owner only; also for revoked or cleared
   * caches): one `Offline Password Viewed` record per new journal record, flagged offline, with
   * the time of use and the time recorded. Every record is checked first (its entry was in the
   * cache; its time is neither in the future nor before the cache was made, give or take the
   * tolerated skew); one bad record refuses the whole upload. A record sent again is counted as
   * a duplicate and recorded once.
   */
  async uploadJournal(
    actor: Actor,
    id: string,
    records: readonly OfflineJournalRecord[],
  ): Promise<OfflineJournalResult> {
    const cache = await this.ownCache(actor, id);
    const now = this.deps.clock.now();
    const skew = OFFLINE_LIMITS.journalSkewMs;
    const times = records.map((r, i) => {
      const t = Date.parse(r.occurredAt);
      const field = `/records/${i}/occurredAt`;
      if (!Number.isFinite(t)) throw invalid(field, 'Not a valid time.');
      if (t > now + skew) throw invalid(field, 'This time is in the future.');
      if (t < cache.created_at - skew) {
        throw invalid(field, 'This time is before the offline cache was made.');
      }
      return t;
    });
    const inCache = await repo.entriesInCache(this.db, id, [
      ...new Set(records.map((r) => r.entryId)),
    ]);
    const missing = records.findIndex((r) => !inCache.has(r.entryId));
    if (missing >= 0) {
      throw invalid(`/records/${missing}/entryId`, 'This entry was not in the offline cache.');
    }
    const state = await this.state.load(this.db);
    const byId = new Map(state.entries.map((e) => [e.id, e]));
    const by = auditActor(actor, actor.ip);
    return this.deps.store.exclusive(JOURNAL_LOCK, async (trx) => {
      const recorded = await repo.recordedJournalIds(
        trx,
        id,
        records.map((r) => r.id),
      );
      const recordedAt = this.deps.clock.now();
      const fresh: Array<{ record: OfflineJournalRecord; at: number }> = [];
      records.forEach((record, i) => {
        if (recorded.has(record.id)) return;
        recorded.add(record.id);
        fresh.push({ record, at: times[i]! });
      });
      await repo.insertJournal(
        trx,
        fresh.map(({ record, at }) => ({
          cache_id: id,
          record_id: record.id,
          entry_id: record.entryId,
          action: record.action,
          occurred_at: at,
          recorded_at: recordedAt,
        })),
      );
      await this.deps.audit.recordMany(
        fresh.map(({ record, at }): AuditInput => {
          const e = byId.get(record.entryId);
          return {
            event: 'Offline Password Viewed',
            status: 'success',
            actor: by,
            target: e ? state.folders.index.entryPath(e.folder_id, e.name) : record.entryId,
            details: {
              offline: true,
              occurredAt: iso(at),
              action: record.action,
              cacheId: id,
              entryId: record.entryId,
              recordId: record.id,
            },
            offline: true,
            occurredAt: at,
          };
        }),
        trx,
      );
      return { accepted: fresh.length, duplicates: records.length - fresh.length };
    });
  }

  // ================================================================ revocation

  /**
   * Re-checks every active cache: caches of users who were deleted, are disabled, or may no
   * longer take any entry offline are revoked (audited, by the server). Returns how many.
   */
  async recheck(): Promise<number> {
    const db = this.db;
    const caches = await repo.activeCaches(db);
    if (caches.length === 0) return 0;
    const owners = [...new Set(caches.map((c) => c.user_id))];
    const now = this.deps.clock.now();
    const [users, direct, edges, state, grants] = await Promise.all([
      repo.usersByIds(db, owners),
      repo.directRolesOf(db, owners),
      allRoleEdges(db),
      this.state.load(db),
      repo.permanentGrants(db),
    ]);
    const byPrincipal = new Map<string, GrantShape[]>();
    for (const g of grants) {
      const key = `${g.principal_type}:${g.principal_id}`;
      const shape: GrantShape = {
        nodeType: g.node_type === 'entry' ? 'entry' : 'folder',
        nodeId: g.node_id,
        accessLevelId: g.access_level_id,
        expiresAt: null,
      };
      const list = byPrincipal.get(key);
      if (list) list.push(shape);
      else byPrincipal.set(key, [shape]);
    }
    const reasons = new Map<string, string>();
    for (const userId of owners) {
      const user = users.get(userId);
      if (!user) reasons.set(userId, REVOKE_REASONS.deleted);
      else if (user.enabled !== 1) reasons.set(userId, REVOKE_REASONS.disabled);
      else if (
        !this.stillEligible(state, userId, direct.get(userId) ?? [], edges, byPrincipal, now)
      ) {
        reasons.set(userId, REVOKE_REASONS.accessRemoved);
      }
    }
    if (reasons.size === 0) return 0;
    const doomed = caches.filter((c) => reasons.has(c.user_id));
    return this.deps.store.exclusive(CACHE_LOCK, async (trx) => {
      // Only caches that were active when checked and still are: one made meanwhile stays.
      const current = await repo.cachesByIds(
        trx,
        doomed.map((c) => c.id),
      );
      let revoked = 0;
      for (const [userId, reason] of reasons) {
        const mine = current.filter((c) => c.user_id === userId);
        revoked += (await revokeCaches(trx, this.deps, mine, reason, SYSTEM_ACTOR)).length;
      }
      return revoked;
    });
  }

  /**
   * Re-checks when something that can take offline access away (grants, access levels, folders,
   * memberships, roles, users) changed since the last re-check of this process: one counter
   * read otherwise.
   */
  async recheckIfChanged(): Promise<void> {
    const counters = await repo.accessCounters(this.db);
    if (counters === this.checkedAt) return;
    await this.recheck();
    this.checkedAt = counters;
  }

  /**
   * The hook run after every committed write transaction (see `withAfterCommit`): settles once
   * a re-check that started after the call is done; never rejects.
   */
  afterCommit(): Promise<void> {
    return this.recheckRuns.run();
  }

  /** Re-checks periodically too, for changes made by other processes. */
  startRecheck(intervalMs: number): NodeJS.Timeout {
    const timer = setInterval(() => void this.recheckRuns.run(), intervalMs);
    timer.unref();
    return timer;
  }

  // ================================================================ internals

  private stillEligible(
    state: VaultState,
    userId: string,
    directRoles: readonly string[],
    edges: Parameters<typeof roleClosure>[1],
    byPrincipal: ReadonlyMap<string, GrantShape[]>,
    now: number,
  ): boolean {
    const roleIds = roleClosure(directRoles, edges);
    const grants = [
      ...(byPrincipal.get(`user:${userId}`) ?? []),
      ...roleIds.flatMap((r) => byPrincipal.get(`role:${r}`) ?? []),
    ];
    return hasEligibleEntry(state, grants, now);
  }

  private grantsOf(principal: Principal): Promise<GrantShape[]> {
    // Administrators too: their implicit rights do not count for offline (decision 28).
    return loadPrincipalGrants(this.db, principal);
  }

  /** The caller's own cache, or 404 (someone else's cache looks like no cache at all). */
  private async ownCache(actor: Actor, id: string): Promise<CacheRow> {
    const cache = await repo.findCache(this.db, id);
    if (!cache || cache.user_id !== actor.userId) throw notFound('The offline cache');
    return cache;
  }
}

/** A chunk of the package: its entries serialised, with what registering them needs. */
interface PackagePiece {
  json: Buffer;
  ids: string[];
  paths: string[];
  folders: string[];
}

/** The vault exported fewer entries than were registered (access shrank meanwhile). */
class ExportNarrowed extends Error {
  constructor(readonly pieces: PackagePiece[]) {
    super('the export left out entries that were registered');
  }
}

/** The wire form of an exported entry (field order of OfflineEntrySchema). */
function offlineEntry(e: ExportedEntry): OfflineEntry {
  return {
    id: e.id,
    folderId: e.folderId,
    path: e.path,
    name: e.name,
    username: e.username,
    password: e.password,
    url: e.url,
    notes: e.notes,
    tags: e.tags,
    customFields: e.customFields.map((c) => ({
      name: c.name,
      value: c.value,
      protected: c.protected,
    })),
    attachments: e.attachments.map((a) => ({
      id: a.id,
      fileName: a.fileName,
      size: a.size,
      dataBase64: a.data.toString('base64'),
    })),
    clientMeta: e.clientMeta,
    expiresAt: e.expiresAt,
    createdAt: e.createdAt,
    modifiedAt: e.modifiedAt,
  };
}

/** Code-unit order: a path sorts right before the paths below it. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkLabel(label: string | undefined): string | null {
  if (label === undefined) return null;
  const trimmed = label.trim();
  if (CONTROL.test(trimmed) || /[\t\n\r]/.test(trimmed)) {
    throw invalid('/clientLabel', 'The client label must not contain control characters.');
  }
  return trimmed === '' ? null : trimmed;
}

/**
 * The usage comment, trimmed; null when absent or blank. Its length is that of the text sent (as
 * the native route's schema counts it), checked here too for in-process callers (the
 * Pleasant-compatible API).
 */
function checkComment(comment: string | undefined): string | null {
  if (comment === undefined) return null;
  const trimmed = comment.trim();
  if (trimmed === '') return null;
  if (comment.length > OFFLINE_LIMITS.commentMax) {
    throw invalid('/comment', `At most ${OFFLINE_LIMITS.commentMax} characters.`);
  }
  if (CONTROL.test(trimmed)) {
    throw invalid('/comment', 'The comment must not contain control characters.');
  }
  return trimmed;
}
