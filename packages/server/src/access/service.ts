import type { Kysely } from 'kysely';
import { newUuid } from '@strongroom/crypto';
import {
  BUILTIN_ACCESS_LEVELS,
  VAULT_PERMISSIONS,
  type AccessGrant,
  type AccessLevel,
  type BlockInheritanceResult,
  type CreateAccessLevel,
  type CreateGrant,
  type NodeAccess,
  type UpdateAccessLevel,
  type VaultPermission,
} from '@strongroom/protocol';
import type { Database } from '../db/schema.js';
import type { Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import type { AuditActor, AuditRecorder } from '../audit/recorder.js';
import type { Actor } from '../http/auth.js';
import { auditActor } from '../http/auth.js';
import { AppError, conflict, invalid, notAllowed, notFound } from '../shared/errors.js';
import { parseStoredJson } from '../shared/json.js';
import { EffectivePermissions } from './engine.js';
import {
  loadEffectivePermissions,
  loadLevels,
  loadPrincipalGrants,
  type Principal,
} from './load.js';
import { Perms } from './permission-set.js';
import { FolderIndex, loadFolderIndex } from './paths.js';
import * as repo from './repository.js';
import type { GrantListRow, LevelRow, NodeType, PrincipalType } from './repository.js';

export type { NodeType, PrincipalType } from './repository.js';

export { sweepExpiredGrants, startSweep } from './sweep.js';

const BUILTIN_DESCRIPTIONS: Record<string, string> = {
  'read-only': 'See folders and entries, fetch passwords, view history and access. No changes.',
  full: 'Every action except offline use and block inheritance. Grants nothing.',
  'full-offline': 'Full, plus taking entries into an offline cache.',
  'full-grant': 'Full, plus granting every permission except offline use.',
  'full-grant-block': 'Full + Grant, plus setting block inheritance.',
  'grant-only': 'Grant every permission to others, without using any.',
};

const BUILTIN_ORDER = new Map(BUILTIN_ACCESS_LEVELS.map((l, i) => [l.key, i]));

/** A permission list in catalogue order, each permission once. */
export function normalisePermissions(list: readonly string[]): VaultPermission[] {
  const set = new Set(list);
  return VAULT_PERMISSIONS.filter((p) => set.has(p));
}

/** The A and G masks of a stored access level. */
export function levelPerms(row: Pick<LevelRow, 'allow' | 'grant_flags'>): Perms {
  return Perms.fromFlags({
    allow: normalisePermissions(parseStoredJson<string[]>(row.allow, [])),
    grant: normalisePermissions(parseStoredJson<string[]>(row.grant_flags, [])),
  });
}

const nameKey = (name: string): string => name.normalize('NFC').toLowerCase();
const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Creates the built-in access levels that are missing and brings their permissions in line with
 * the catalogue. Idempotent and safe when several processes start at once: it runs under an
 * exclusive lock and inserts with ON CONFLICT DO NOTHING.
 */
export async function seedAccessLevels(store: Store, clock: Clock): Promise<void> {
  await store.exclusive('strongroom.seed-access-levels', async (trx) => {
    const now = clock.now();
    for (const level of BUILTIN_ACCESS_LEVELS) {
      const allow = JSON.stringify(normalisePermissions(level.allow));
      const grant = JSON.stringify(normalisePermissions(level.grant));
      const existing = await repo.findLevelByBuiltinKey(trx, level.key);
      if (!existing) {
        await repo.insertLevelIfAbsent(trx, {
          id: newUuid(),
          name: level.name,
          name_key: nameKey(level.name),
          description: BUILTIN_DESCRIPTIONS[level.key] ?? '',
          builtin_key: level.key,
          allow,
          grant_flags: grant,
          created_at: now,
          updated_at: now,
        });
      } else if (existing.allow !== allow || existing.grant_flags !== grant) {
        await repo.updateLevel(trx, existing.id, { allow, grant_flags: grant, updated_at: now });
      }
    }
  });
}

/** Where a grant is made: a folder or an entry. */
export interface GrantTarget {
  nodeType: NodeType;
  nodeId: string;
}

export interface CreateGrantInput extends GrantTarget {
  principalType: PrincipalType;
  principalId: string;
  /** The level by id, or a built-in level by key ('full-grant'…). Exactly one of the two. */
  accessLevelId?: string;
  builtinLevel?: string;
  /** Remove-access-after time (epoch ms); null or absent = permanent. */
  expiresAt?: number | null;
  /** Who makes the grant (named in the Access Added audit record). */
  actor: AuditActor;
}

/** A node as the caller sees it, with everything the access rules need. */
interface NodeContext {
  index: FolderIndex;
  nodeType: NodeType;
  nodeId: string;
  /** The folder itself, or the folder of the entry. */
  folderId: string;
  entry: repo.EntryRef | null;
  path: string;
  perms: Perms;
  admin: boolean;
  archived: boolean;
}

type Outcome<T> = { ok: T } | { denied: { target: string; details: Record<string, unknown> } };

const nodeLabel = (t: NodeType): string => (t === 'folder' ? 'The folder' : 'The entry');

/**
 * Access levels, grants (user access), block inheritance and the expired-grant sweep (spec §3).
 * The vault asks it for effective permissions and paths.
 */
export class AccessService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditRecorder,
  ) {}

  /** Effective permissions of the caller over the whole tree (three queries). */
  effective(actor: Principal, db: Kysely<Database> = this.store.db): Promise<EffectivePermissions> {
    return loadEffectivePermissions(db, actor, this.clock.now());
  }

  /** The whole folder tree with paths (one query); use it to name many nodes at once. */
  folderIndex(db: Kysely<Database> = this.store.db): Promise<FolderIndex> {
    return loadFolderIndex(db);
  }

  /** Full path of a folder: `Root/A/B` ('' when it does not exist). */
  async folderPath(folderId: string, db: Kysely<Database> = this.store.db): Promise<string> {
    return (await loadFolderIndex(db)).path(folderId);
  }

  /** Full path of an entry: `Root/A/Entry` ('' when it does not exist). */
  async entryPath(entryId: string, db: Kysely<Database> = this.store.db): Promise<string> {
    const entry = await repo.findEntry(db, entryId);
    if (!entry) return '';
    return (await loadFolderIndex(db)).entryPath(entry.folder_id, entry.name);
  }

  // ---------------------------------------------------------------- access levels

  async listLevels(db: Kysely<Database> = this.store.db): Promise<AccessLevel[]> {
    const [rows, counts] = await Promise.all([repo.listLevels(db), repo.grantCountsByLevel(db)]);
    return rows
      .map((r) => this.levelView(r, counts.get(r.id) ?? 0))
      .sort((a, b) => {
        const ao = a.builtinKey !== null ? (BUILTIN_ORDER.get(a.builtinKey) ?? 99) : 100;
        const bo = b.builtinKey !== null ? (BUILTIN_ORDER.get(b.builtinKey) ?? 99) : 100;
        return ao - bo || a.name.localeCompare(b.name);
      });
  }

  async getLevel(id: string): Promise<AccessLevel> {
    const row = await repo.findLevel(this.store.db, id);
    if (!row) throw notFound('The access level');
    return this.levelView(row, await repo.countGrantsOfLevel(this.store.db, id));
  }

  /** The id of a built-in level by key ('read-only', 'full', 'full-grant'…). */
  async builtinLevelId(key: string, db: Kysely<Database> = this.store.db): Promise<string> {
    const row = await repo.findLevelByBuiltinKey(db, key);
    if (!row) throw new Error(`built-in access level ${key} is missing`);
    return row.id;
  }

  async createLevel(actor: Actor, input: CreateAccessLevel): Promise<AccessLevel> {
    const name = input.name.trim();
    if (name === '') throw invalid('/name', 'The name must not be blank.');
    const allow = normalisePermissions(input.allow);
    const grant = normalisePermissions(input.grant);
    const now = this.clock.now();
    const row: LevelRow = {
      id: newUuid(),
      name,
      name_key: nameKey(name),
      description: (input.description ?? '').trim(),
      builtin_key: null,
      allow: JSON.stringify(allow),
      grant_flags: JSON.stringify(grant),
      created_at: now,
      updated_at: now,
    };
    await this.uniqueName(
      this.store.transaction(async (trx) => {
        if (await repo.findLevelByNameKey(trx, row.name_key)) throw this.nameTaken(name);
        await repo.insertLevel(trx, row);
        await this.audit.record(
          {
            event: 'Access Level Created',
            status: 'success',
            actor: auditActor(actor, actor.ip),
            target: name,
            details: { accessLevelId: row.id, allow, grant },
          },
          trx,
        );
      }),
      name,
    );
    return this.levelView(row, 0);
  }

  async updateLevel(actor: Actor, id: string, input: UpdateAccessLevel): Promise<AccessLevel> {
    const name = input.name?.trim();
    if (name === '') throw invalid('/name', 'The name must not be blank.');
    return this.uniqueName(
      this.store.transaction(async (trx) => {
        const row = await repo.findLevel(trx, id);
        if (!row) throw notFound('The access level');
        if (row.builtin_key !== null) {
          throw new AppError('not_allowed', 'Built-in access levels cannot be changed.');
        }
        const changes: Parameters<typeof repo.updateLevel>[2] = {};
        const details: Record<string, unknown> = { accessLevelId: id };
        if (name !== undefined && name !== row.name) {
          const key = nameKey(name);
          const other = await repo.findLevelByNameKey(trx, key);
          if (other && other.id !== id) throw this.nameTaken(name);
          changes.name = name;
          changes.name_key = key;
          details.name = { from: row.name, to: name };
        }
        const description = input.description?.trim();
        if (description !== undefined && description !== row.description) {
          changes.description = description;
          details.description = { from: row.description, to: description };
        }
        const old = levelPerms(row).toFlags();
        const diff = (before: VaultPermission[], after: VaultPermission[]) => ({
          added: after.filter((p) => !before.includes(p)),
          removed: before.filter((p) => !after.includes(p)),
        });
        if (input.allow !== undefined) {
          const allow = normalisePermissions(input.allow);
          const d = diff(old.allow, allow);
          if (d.added.length + d.removed.length > 0) {
            changes.allow = JSON.stringify(allow);
            details.allow = d;
          }
        }
        if (input.grant !== undefined) {
          const grant = normalisePermissions(input.grant);
          const d = diff(old.grant, grant);
          if (d.added.length + d.removed.length > 0) {
            changes.grant_flags = JSON.stringify(grant);
            details.grant = d;
          }
        }
        const updated: LevelRow = { ...row, ...changes };
        if (Object.keys(changes).length > 0) {
          changes.updated_at = this.clock.now();
          updated.updated_at = changes.updated_at;
          await repo.updateLevel(trx, id, changes);
          await this.audit.record(
            {
              event: 'Access Level Updated',
              status: 'success',
              actor: auditActor(actor, actor.ip),
              target: updated.name,
              details,
            },
            trx,
          );
        }
        return this.levelView(updated, await repo.countGrantsOfLevel(trx, id));
      }),
      name ?? '',
    );
  }

  /**
   * Deletes a custom level. A level in use needs `replaceWith`: its grants move to that level in
   * the same transaction, then the level is deleted.
   */
  async deleteLevel(actor: Actor, id: string, replaceWith?: string): Promise<void> {
    await this.store.transaction(async (trx) => {
      const row = await repo.findLevel(trx, id);
      if (!row) throw notFound('The access level');
      if (row.builtin_key !== null) {
        throw new AppError('not_allowed', 'Built-in access levels cannot be deleted.');
      }
      let replacement: LevelRow | undefined;
      if (replaceWith !== undefined) {
        if (replaceWith === id) {
          throw invalid('/replaceWith', 'The replacement must be another access level.');
        }
        replacement = await repo.findLevel(trx, replaceWith);
        if (!replacement) throw invalid('/replaceWith', 'No access level has this id.');
      }
      const inUse = await repo.countGrantsOfLevel(trx, id);
      if (inUse > 0 && !replacement) {
        throw conflict(
          `The access level "${row.name}" is used by ${inUse} grant${inUse === 1 ? '' : 's'}; ` +
            'name a level to take them over (?replaceWith=<access level id>).',
        );
      }
      const moved = replacement ? await repo.reassignGrants(trx, id, replacement.id) : 0;
      await repo.deleteLevel(trx, id);
      await this.audit.record(
        {
          event: 'Access Level Deleted',
          status: 'success',
          actor: auditActor(actor, actor.ip),
          target: row.name,
          details: {
            accessLevelId: id,
            ...(replacement
              ? { replacedWith: replacement.name, replacedWithId: replacement.id }
              : {}),
            grantsReassigned: moved,
          },
        },
        trx,
      );
    });
  }

  // ---------------------------------------------------------------- grants

  /**
   * Who has access to the node: grants made on it and those inherited from its ancestors up to
   * the nearest folder that blocks inheritance. Needs View Access on the node.
   */
  async listAccess(actor: Actor, target: GrantTarget): Promise<NodeAccess> {
    const db = this.store.db;
    const ctx = await this.visibleNode(db, actor, target);
    if (!ctx.admin && !ctx.perms.has('viewAccess')) throw notAllowed('see who has access here');
    const now = this.clock.now();
    const chain = ctx.index.inheritanceChain(ctx.folderId);
    const rows = await repo.listNodeGrants(
      db,
      chain.map((f) => f.id),
      ctx.entry?.id ?? null,
    );
    const depth = new Map(chain.map((f, i) => [f.id, i]));
    const grants = rows
      .filter((r) => r.expires_at === null || r.expires_at > now)
      .map((r) => {
        const direct = r.node_type === ctx.nodeType && r.node_id === ctx.nodeId;
        const order = r.node_type === 'entry' ? -1 : (depth.get(r.node_id) ?? 0);
        return { order, view: this.grantView(r, ctx.index, ctx.entry, !direct) };
      })
      .sort(
        (a, b) =>
          a.order - b.order ||
          a.view.principal.name.localeCompare(b.view.principal.name) ||
          a.view.accessLevel.name.localeCompare(b.view.accessLevel.name) ||
          a.view.id.localeCompare(b.view.id),
      )
      .map((g) => g.view);
    const folder = ctx.index.get(ctx.folderId);
    return {
      nodeType: ctx.nodeType,
      nodeId: ctx.nodeId,
      path: ctx.path,
      blockInheritance: ctx.nodeType === 'folder' ? (folder?.blockInheritance ?? false) : false,
      grants,
    };
  }

  /**
   * Adds a grant on a node. A non-administrator may grant level L only if every A and G
   * permission of L is among their own G permissions on the node (spec §3).
   */
  async addGrant(actor: Actor, target: GrantTarget, input: CreateGrant): Promise<AccessGrant> {
    const now = this.clock.now();
    let expiresAt: number | null = null;
    if (input.expiresAt !== undefined && input.expiresAt !== null) {
      expiresAt = Date.parse(input.expiresAt);
      if (!Number.isFinite(expiresAt)) {
        throw invalid('/expiresAt', 'Expected an ISO 8601 date-time.');
      }
      if (expiresAt <= now) throw invalid('/expiresAt', 'The time must be in the future.');
    }
    const principalType = input.principalType as PrincipalType;
    const outcome = await this.store.transaction(async (trx): Promise<Outcome<AccessGrant>> => {
      const ctx = await this.visibleNode(trx, actor, target);
      const level = await repo.findLevel(trx, input.accessLevelId);
      if (!level) throw invalid('/accessLevelId', 'No access level has this id.');
      if (!ctx.admin && !ctx.perms.mayGrantLevel(levelPerms(level))) {
        return {
          denied: {
            target: ctx.path,
            details: {
              nodeType: ctx.nodeType,
              nodeId: ctx.nodeId,
              principalType,
              principalId: input.principalId,
              accessLevelId: level.id,
              accessLevel: level.name,
              reason: 'granting rule',
            },
          },
        };
      }
      if (ctx.archived) {
        throw conflict(
          `${nodeLabel(ctx.nodeType)} is in the Archive; restore it before granting access to it.`,
        );
      }
      if (!(await repo.principalExists(trx, principalType, input.principalId))) {
        throw invalid('/principalId', `No ${principalType} has this id.`);
      }
      const same = await repo.findSameGrant(trx, {
        node_type: ctx.nodeType,
        node_id: ctx.nodeId,
        principal_type: principalType,
        principal_id: input.principalId,
        access_level_id: level.id,
      });
      if (same && (same.expires_at === null || same.expires_at > now)) {
        throw conflict(
          `This ${principalType} already has the access level "${level.name}" here; ` +
            'remove that grant first to change it.',
        );
      }
      const grant = await this.insertGrant(trx, {
        nodeType: ctx.nodeType,
        nodeId: ctx.nodeId,
        path: ctx.path,
        index: ctx.index,
        entry: ctx.entry,
        principalType,
        principalId: input.principalId,
        level,
        expiresAt,
        actor: auditActor(actor, actor.ip),
        createdBy: actor.userId,
      });
      return { ok: grant };
    });
    if ('denied' in outcome) {
      await this.recordDenied('Access Added', actor, outcome.denied);
      throw notAllowed(
        `grant the access level "${String(outcome.denied.details.accessLevel)}" here: ` +
          'every permission of the level must be among those you may grant on this node',
      );
    }
    return outcome.ok;
  }

  /**
   * Removes a grant made on this node, under the same rule as adding it. A grant inherited from
   * an ancestor can only be removed where it was made.
   */
  async removeGrant(actor: Actor, target: GrantTarget, grantId: string): Promise<void> {
    const outcome = await this.store.transaction(async (trx): Promise<Outcome<true>> => {
      const ctx = await this.visibleNode(trx, actor, target);
      const grant = await repo.findGrant(trx, grantId);
      if (!grant) throw notFound('The access grant');
      if (grant.node_type !== ctx.nodeType || grant.node_id !== ctx.nodeId) {
        const inheritedFrom = ctx.index
          .inheritanceChain(ctx.folderId)
          .find((f) => grant.node_type === 'folder' && f.id === grant.node_id);
        if (inheritedFrom && (ctx.admin || ctx.perms.has('viewAccess'))) {
          throw conflict(
            `This access is inherited from "${ctx.index.path(inheritedFrom.id)}"; ` +
              'it can only be removed there.',
          );
        }
        throw notFound('The access grant');
      }
      const level = await repo.findLevel(trx, grant.access_level_id);
      if (!level) throw notFound('The access grant');
      const principalName = await this.principalName(
        trx,
        grant.principal_type as PrincipalType,
        grant.principal_id,
      );
      const details = {
        nodeType: ctx.nodeType,
        nodeId: ctx.nodeId,
        grantId: grant.id,
        principalType: grant.principal_type,
        principalId: grant.principal_id,
        principal: principalName,
        accessLevelId: level.id,
        accessLevel: level.name,
        expiresAt: iso(grant.expires_at),
      };
      if (!ctx.admin && !ctx.perms.mayGrantLevel(levelPerms(level))) {
        return { denied: { target: ctx.path, details: { ...details, reason: 'granting rule' } } };
      }
      await repo.deleteGrant(trx, grant.id);
      await this.audit.record(
        {
          event: 'Access Removed',
          status: 'success',
          actor: auditActor(actor, actor.ip),
          target: ctx.path,
          details,
        },
        trx,
      );
      return { ok: true };
    });
    if ('denied' in outcome) {
      await this.recordDenied('Access Removed', actor, outcome.denied);
      throw notAllowed(
        `remove this grant of "${String(outcome.denied.details.accessLevel)}": ` +
          'every permission of the level must be among those you may grant on this node',
      );
    }
  }

  /**
   * Sets or clears block inheritance on a folder. Needs Set Block Inheritance on the folder as it
   * is before the change (blocking removes inherited grants, possibly the caller's own).
   */
  async setBlockInheritance(
    actor: Actor,
    folderId: string,
    block: boolean,
  ): Promise<BlockInheritanceResult> {
    const outcome = await this.store.transaction(
      async (trx): Promise<Outcome<BlockInheritanceResult>> => {
        const ctx = await this.visibleNode(trx, actor, { nodeType: 'folder', nodeId: folderId });
        const folder = ctx.index.get(folderId)!;
        if (block && folder.kind === 'root') {
          throw invalid('/block', 'The root folder cannot block inheritance: nothing is above it.');
        }
        if (!ctx.admin && !ctx.perms.has('setBlockInheritance')) {
          return { denied: { target: ctx.path, details: { folderId, block } } };
        }
        if (ctx.archived) {
          throw conflict('The folder is in the Archive; restore it before changing its access.');
        }
        if (folder.blockInheritance !== block) {
          await repo.setBlockInheritance(trx, folderId, block, this.clock.now());
          await this.audit.record(
            {
              event: block ? 'Inheritance Blocked' : 'Inheritance Unblocked',
              status: 'success',
              actor: auditActor(actor, actor.ip),
              target: ctx.path,
              details: { folderId },
            },
            trx,
          );
        }
        return { ok: { folderId, blockInheritance: block } };
      },
    );
    if ('denied' in outcome) {
      await this.recordDenied(
        block ? 'Inheritance Blocked' : 'Inheritance Unblocked',
        actor,
        outcome.denied,
      );
      throw notAllowed('set block inheritance on this folder');
    }
    return outcome.ok;
  }

  // ---------------------------------------------------------------- for other areas

  /**
   * Creates a grant inside the caller's transaction and records Access Added, without checking
   * the granting rule (the caller has decided). Used by the vault for private folders
   * (`builtinLevel: 'full-grant'`).
   */
  async createGrant(trx: Kysely<Database>, input: CreateGrantInput): Promise<AccessGrant> {
    const level =
      input.accessLevelId !== undefined
        ? await repo.findLevel(trx, input.accessLevelId)
        : await repo.findLevelByBuiltinKey(trx, input.builtinLevel ?? '');
    if (!level) {
      throw new Error(`access level ${input.accessLevelId ?? input.builtinLevel} does not exist`);
    }
    const index = await loadFolderIndex(trx);
    let entry: repo.EntryRef | null = null;
    let path: string;
    if (input.nodeType === 'entry') {
      entry = (await repo.findEntry(trx, input.nodeId)) ?? null;
      if (!entry) throw new Error(`entry ${input.nodeId} does not exist`);
      path = index.entryPath(entry.folder_id, entry.name);
    } else {
      if (!index.has(input.nodeId)) throw new Error(`folder ${input.nodeId} does not exist`);
      path = index.path(input.nodeId);
    }
    return this.insertGrant(trx, {
      nodeType: input.nodeType,
      nodeId: input.nodeId,
      path,
      index,
      entry,
      principalType: input.principalType,
      principalId: input.principalId,
      level,
      expiresAt: input.expiresAt ?? null,
      actor: input.actor,
      createdBy: input.actor.userId,
    });
  }

  /** Deletes the grants made on nodes that are deleted for good (call in their transaction). */
  deleteGrantsOnNodes(trx: Kysely<Database>, nodeType: NodeType, ids: string[]): Promise<number> {
    return repo.deleteGrantsOnNodes(trx, nodeType, ids);
  }

  /** Deletes the grants made to a user or role that is deleted (call in its transaction). */
  deleteGrantsOfPrincipal(
    trx: Kysely<Database>,
    principalType: PrincipalType,
    principalId: string,
  ): Promise<number> {
    return repo.deleteGrantsOfPrincipal(trx, principalType, principalId);
  }

  // ---------------------------------------------------------------- internals

  /**
   * The node as the caller sees it (three to four queries). Unknown nodes and nodes the caller
   * may not see give the same not-found error.
   */
  private async visibleNode(
    db: Kysely<Database>,
    actor: Actor,
    target: GrantTarget,
  ): Promise<NodeContext> {
    const [index, entry, grants, levels] = await Promise.all([
      loadFolderIndex(db),
      target.nodeType === 'entry' ? repo.findEntry(db, target.nodeId) : Promise.resolve(undefined),
      actor.isAdministrator ? Promise.resolve([]) : loadPrincipalGrants(db, actor),
      actor.isAdministrator ? Promise.resolve(new Map<string, Perms>()) : loadLevels(db),
    ]);
    const folderId = target.nodeType === 'entry' ? entry?.folder_id : target.nodeId;
    if (folderId === undefined || !index.has(folderId)) throw notFound(nodeLabel(target.nodeType));
    const eff = new EffectivePermissions(
      index.shapes(),
      grants,
      levels,
      this.clock.now(),
      actor.isAdministrator,
    );
    const visible =
      target.nodeType === 'entry'
        ? eff.canSeeEntry(target.nodeId, folderId)
        : eff.canSeeFolder(folderId);
    if (!visible) throw notFound(nodeLabel(target.nodeType));
    const perms =
      target.nodeType === 'entry' ? eff.entry(target.nodeId, folderId) : eff.folder(folderId);
    return {
      index,
      nodeType: target.nodeType,
      nodeId: target.nodeId,
      folderId,
      entry: entry ?? null,
      path: entry ? index.entryPath(folderId, entry.name) : index.path(folderId),
      perms,
      admin: actor.isAdministrator,
      archived: (entry?.archived_at ?? null) !== null || index.isArchived(folderId),
    };
  }

  private async insertGrant(
    trx: Kysely<Database>,
    g: {
      nodeType: NodeType;
      nodeId: string;
      path: string;
      index: FolderIndex;
      entry: repo.EntryRef | null;
      principalType: PrincipalType;
      principalId: string;
      level: LevelRow;
      expiresAt: number | null;
      actor: AuditActor;
      createdBy: string | null;
    },
  ): Promise<AccessGrant> {
    const now = this.clock.now();
    const row: repo.GrantRow = {
      id: newUuid(),
      node_type: g.nodeType,
      node_id: g.nodeId,
      principal_type: g.principalType,
      principal_id: g.principalId,
      access_level_id: g.level.id,
      expires_at: g.expiresAt,
      created_at: now,
      created_by: g.createdBy,
    };
    await repo.insertGrant(trx, row);
    const names = await this.principalNames(trx, g.principalType, g.principalId);
    await this.audit.record(
      {
        event: 'Access Added',
        status: 'success',
        actor: g.actor,
        target: g.path,
        details: {
          nodeType: g.nodeType,
          nodeId: g.nodeId,
          grantId: row.id,
          principalType: g.principalType,
          principalId: g.principalId,
          principal: names.name,
          accessLevelId: g.level.id,
          accessLevel: g.level.name,
          expiresAt: iso(g.expiresAt),
        },
      },
      trx,
    );
    return this.grantView(
      {
        ...row,
        level_name: g.level.name,
        user_login_name: names.loginName,
        user_display_name: g.principalType === 'user' ? names.name : null,
        role_name: g.principalType === 'role' ? names.name : null,
      },
      g.index,
      g.entry,
      false,
    );
  }

  private async principalNames(
    db: Kysely<Database>,
    type: PrincipalType,
    id: string,
  ): Promise<{ name: string; loginName: string | null }> {
    if (type === 'user') {
      const u = await db
        .selectFrom('users')
        .select(['login_name', 'display_name'])
        .where('id', '=', id)
        .executeTakeFirst();
      return u
        ? { name: u.display_name || u.login_name, loginName: u.login_name }
        : { name: '(deleted user)', loginName: null };
    }
    const r = await db.selectFrom('roles').select('name').where('id', '=', id).executeTakeFirst();
    return { name: r?.name ?? '(deleted role)', loginName: null };
  }

  private async principalName(
    db: Kysely<Database>,
    type: PrincipalType,
    id: string,
  ): Promise<string> {
    return (await this.principalNames(db, type, id)).name;
  }

  private grantView(
    r: GrantListRow,
    index: FolderIndex,
    entry: repo.EntryRef | null,
    inherited: boolean,
  ): AccessGrant {
    const isEntry = r.node_type === 'entry';
    const fromPath = isEntry
      ? entry && entry.id === r.node_id
        ? index.entryPath(entry.folder_id, entry.name)
        : ''
      : index.path(r.node_id);
    return {
      id: r.id,
      nodeType: isEntry ? 'entry' : 'folder',
      nodeId: r.node_id,
      inherited,
      fromFolderId: isEntry ? null : r.node_id,
      fromPath,
      principal:
        r.principal_type === 'user'
          ? {
              type: 'user',
              id: r.principal_id,
              name: r.user_display_name || r.user_login_name || '(deleted user)',
              loginName: r.user_login_name,
            }
          : {
              type: 'role',
              id: r.principal_id,
              name: r.role_name ?? '(deleted role)',
              loginName: null,
            },
      accessLevel: { id: r.access_level_id, name: r.level_name },
      expiresAt: iso(r.expires_at),
      createdAt: new Date(r.created_at).toISOString(),
    };
  }

  private levelView(r: LevelRow, grantCount: number): AccessLevel {
    const flags = levelPerms(r).toFlags();
    return {
      id: r.id,
      name: r.name,
      description: r.description,
      builtin: r.builtin_key !== null,
      builtinKey: r.builtin_key,
      allow: flags.allow,
      grant: flags.grant,
      grantCount,
      createdAt: new Date(r.created_at).toISOString(),
      updatedAt: new Date(r.updated_at).toISOString(),
    };
  }

  private nameTaken(name: string): AppError {
    return conflict(`An access level named "${name}" already exists.`);
  }

  /** Turns a unique-index race on the level name into the same conflict as the early check. */
  private async uniqueName<T>(p: Promise<T>, name: string): Promise<T> {
    try {
      return await p;
    } catch (err) {
      if (isUniqueViolation(err)) throw this.nameTaken(name);
      throw err;
    }
  }

  private async recordDenied(
    event: 'Access Added' | 'Access Removed' | 'Inheritance Blocked' | 'Inheritance Unblocked',
    actor: Actor,
    denied: { target: string; details: Record<string, unknown> },
  ): Promise<void> {
    await this.audit.record({
      event,
      status: 'denied',
      actor: auditActor(actor, actor.ip),
      target: denied.target,
      details: denied.details,
    });
  }
}
