import type { Kysely } from 'kysely';
import type { VaultPermission } from '@strongroom/protocol';
import { sha256Hex } from '@strongroom/crypto';
import type { Database } from '../db/schema.js';
import { EffectivePermissions, type FolderShape, type GrantShape } from '../access/engine.js';
import { loadLevels, type Principal } from '../access/load.js';
import { FolderIndex } from '../access/paths.js';
import { toMask, type Perms } from '../access/permission-set.js';
import { RevisionCache } from '../shared/revision-cache.js';
import * as repo from './repository.js';
import type { EntryRef, FolderRow } from './repository.js';

/**
 * What makes an entry eligible for an offline cache (offline-mode §1.1, §1.2; the decision
 * "Offline eligibility" in docs/decisions.md).
 *
 * An entry is cached iff it is not in the Archive and the caller holds, on it, View Entry
 * Offline together with View Entry Names, View Entry Contents and View Entry Password, with
 * permissions computed by the ordinary engine (inheritance, block inheritance, roles and
 * sub-roles) from **permanent grants only**: grants with a remove-access-after time are left out
 * of the computation altogether, so an entry reachable with these permissions only through
 * time-limited grants is not cached, and an expired grant (swept or not) can never count.
 * An administrator's implicit rights (decision 6) do not count here: administrators take
 * offline only what explicit permanent grants give them (decision 28).
 */
export const OFFLINE_REQUIRED: readonly VaultPermission[] = [
  'viewEntryNames',
  'viewEntryContents',
  'viewEntryPassword',
  'viewEntryOffline',
];
const REQUIRED_MASK = toMask(OFFLINE_REQUIRED);

/** Whether these effective permissions allow caching the entry. */
export function allowsOffline(perms: Perms): boolean {
  return (perms.allow & REQUIRED_MASK) === REQUIRED_MASK;
}

/** The folder tree as loaded, with paths, engine shapes and Archive state (never mutated). */
export class FolderState {
  /** Every folder, ordered by id. */
  readonly rows: readonly FolderRow[];
  readonly index: FolderIndex;
  readonly shapes: ReadonlyMap<string, FolderShape>;
  private readonly archived = new Map<string, boolean>();

  constructor(rows: readonly FolderRow[]) {
    this.rows = rows;
    this.index = new FolderIndex(
      rows.map((f) => ({
        id: f.id,
        parentId: f.parent_id,
        name: f.name,
        kind: f.kind,
        blockInheritance: f.block_inheritance === 1,
        archivedAt: f.archived_at,
      })),
    );
    this.shapes = this.index.shapes();
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Whether the folder or one of its ancestors is in the Archive (memoised). */
  inArchive(id: string): boolean {
    let known = this.archived.get(id);
    if (known === undefined) {
      known = this.index.isArchived(id);
      this.archived.set(id, known);
    }
    return known;
  }
}

/** The vault as offline mode reads it: folders, access levels and entry references. */
export interface VaultState {
  folders: FolderState;
  levels: ReadonlyMap<string, Perms>;
  /** Every entry, archived ones included, ordered by id. */
  entries: readonly EntryRef[];
}

/**
 * The vault state kept in this process under the revision counters (database triggers bump
 * them on every change, in any process): a request reads three counters, and reloads a part
 * only when its counter moved.
 */
export class VaultStateCache {
  private readonly folders = new RevisionCache(
    'folders',
    async (db) => new FolderState(Object.freeze(await repo.allFolders(db))),
  );
  private readonly levels = new RevisionCache('access_levels', loadLevels);
  private readonly entries = new RevisionCache('entries', async (db) =>
    Object.freeze(await repo.allEntryRefs(db)),
  );

  async load(db: Kysely<Database>): Promise<VaultState> {
    const [folders, levels, entries] = await Promise.all([
      this.folders.get(db),
      this.levels.get(db),
      this.entries.get(db),
    ]);
    return { folders, levels, entries };
  }
}

/** Whether the entry is live: not archived itself, in a known folder outside the Archive. */
export function isLive(state: VaultState, e: EntryRef): boolean {
  return (
    e.archived_at === null &&
    state.folders.has(e.folder_id) &&
    !state.folders.inArchive(e.folder_id)
  );
}

/**
 * The caller's effective permissions computed from their permanent grants only, without an
 * administrator's implicit rights.
 */
export function permanentPermissions(
  state: VaultState,
  grants: readonly GrantShape[],
  now: number,
): EffectivePermissions {
  return new EffectivePermissions(
    state.folders.shapes,
    grants.filter((g) => g.expiresAt === null),
    state.levels,
    now,
    false,
  );
}

/** The entries the caller may take offline, ordered by id. */
export function eligibleEntries(
  state: VaultState,
  grants: readonly GrantShape[],
  now: number,
): EntryRef[] {
  const perms = permanentPermissions(state, grants, now);
  return state.entries.filter(
    (e) => isLive(state, e) && allowsOffline(perms.entry(e.id, e.folder_id)),
  );
}

/** Whether the caller may take at least one entry offline (stops at the first). */
export function hasEligibleEntry(
  state: VaultState,
  grants: readonly GrantShape[],
  now: number,
): boolean {
  const perms = permanentPermissions(state, grants, now);
  return state.entries.some(
    (e) => isLive(state, e) && allowsOffline(perms.entry(e.id, e.folder_id)),
  );
}

/** When the earliest of these time-limited grants that still count expires, if any. */
export function nextGrantExpiry(grants: readonly GrantShape[], now: number): number | null {
  let next: number | null = null;
  for (const g of grants) {
    if (g.expiresAt !== null && g.expiresAt > now && (next === null || g.expiresAt < next)) {
      next = g.expiresAt;
    }
  }
  return next;
}

/**
 * The caller's revision: a digest of everything they can see and take offline, so it changes
 * exactly when one of these changes, and not for changes they cannot see.
 * - every live entry they see (View Entry Names): id, folder, name, their permissions on it,
 *   whether it is eligible for offline, and — with View Entry Contents — its change sequence
 *   (stamped by the database on every change of the entry, attachments included);
 * - every folder shown in their tree (visible, or on the path to something visible): its place,
 *   name, and for visible folders their permissions and every folder field.
 * Memberships and grants count through the permissions they produce.
 */
export function callerDigest(
  state: VaultState,
  principal: Principal,
  grants: readonly GrantShape[],
  now: number,
): string {
  const full = new EffectivePermissions(
    state.folders.shapes,
    grants,
    state.levels,
    now,
    principal.isAdministrator,
  );
  const offline = permanentPermissions(state, grants, now);
  const index = state.folders.index;
  const shown = new Set<string>();
  const show = (folderId: string) => {
    for (const f of index.chain(folderId)) {
      if (shown.has(f.id)) break;
      shown.add(f.id);
    }
  };
  const lines: string[] = [];
  for (const e of state.entries) {
    if (!isLive(state, e)) continue;
    const p = full.entry(e.id, e.folder_id);
    if (!p.has('viewEntryNames')) continue;
    show(e.folder_id);
    const seq = p.has('viewEntryContents') ? String(e.change_seq) : '-';
    const eligible = allowsOffline(offline.entry(e.id, e.folder_id)) ? 1 : 0;
    lines.push(`e ${e.id} ${e.folder_id} ${p.allow} ${seq} ${eligible} ${JSON.stringify(e.name)}`);
  }
  for (const f of state.folders.rows) {
    if (!state.folders.inArchive(f.id) && full.canSeeFolder(f.id)) show(f.id);
  }
  for (const f of state.folders.rows) {
    if (!shown.has(f.id)) continue;
    if (full.canSeeFolder(f.id)) {
      const fields = [
        f.name,
        f.kind,
        f.notes,
        f.tags,
        f.custom_fields,
        f.client_meta,
        f.expires_at,
        f.block_inheritance,
        f.owner_user_id,
        f.modified_at,
      ];
      lines.push(`f ${f.id} ${f.parent_id} ${full.folder(f.id).allow} ${JSON.stringify(fields)}`);
    } else {
      lines.push(`p ${f.id} ${f.parent_id} ${JSON.stringify(f.name)}`);
    }
  }
  return sha256Hex(lines.join('\n')).slice(0, 32);
}
