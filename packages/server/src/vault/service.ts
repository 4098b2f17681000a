import type { Kysely } from 'kysely';
import { newUuid, type SecretSealer } from '@strongroom/crypto';
import {
  VAULT_LIMITS,
  type AddAttachment,
  type ArchiveList,
  type AttachmentData,
  type AttachmentInfo,
  type AttachmentList,
  type CreateEntry,
  type CreateFolder,
  type Entry,
  type EntryHistory,
  type EntryLocation,
  type EntrySummary,
  type EntryVersion,
  type Folder,
  type FolderView,
  type SearchEntryHit,
  type SearchFolderHit,
  type SearchResult,
  type UpdateEntry,
  type UpdateFolder,
  type VaultTree,
  type ClientMeta,
  type VaultPermission,
} from '@strongroom/protocol';
import type { Database } from '../db/schema.js';
import { inWriteTransaction, type Store } from '../db/connect.js';
import type { Clock } from '../shared/clock.js';
import type { AuditInput, AuditRecorder } from '../audit/recorder.js';
import type { AuditEventName } from '../audit/events.js';
import type { Actor } from '../http/auth.js';
import type { Perms } from '../access/permission-set.js';
import type { AccessService } from '../access/service.js';
import { entryPath as entryPathOf, folderPath as folderPathOf } from '../access/paths.js';
import { conflict, forbidden, invalid, notAllowed, notFound } from '../shared/errors.js';
import {
  checkClientMeta,
  checkEntryCustomFields,
  checkFileName,
  checkFolderCustomFields,
  checkName,
  checkText,
  decodeAttachment,
  normalizeTags,
  parseTime,
  type EntryCustomFieldInput,
  type StoredCustomField,
} from './fields.js';
import {
  attachmentInfo,
  changedFields,
  ctx,
  SummaryMapper,
  folderDto,
  iso,
  isoOrNull,
  openCustomFields,
  openNotes,
  openPassword,
  parseClientMeta,
  parseFolderCustomFields,
  parseTags,
  pathOnlyDto,
  readState,
  SealedBatch,
  sealEntry,
  visibleCustomFields,
  type EntryState,
} from './codec.js';
import {
  VaultRepository,
  type AttachmentMeta,
  type EntryListRow,
  type EntryRow,
  type FolderRow,
} from './repository.js';
import { SYSTEM_FOLDER_KINDS, type VaultRoots } from './roots.js';
import { scopeView } from './tree.js';
import { TreeResponseCache } from './tree-cache.js';
import { currentRevision } from '../shared/revision-cache.js';
import { allowList, VaultView } from './view.js';

export interface VaultServiceDeps {
  store: Store;
  clock: Clock;
  sealer: SecretSealer;
  audit: AuditRecorder;
  roots: VaultRoots;
  /** Largest attachment, decoded bytes (`config.attachmentLimitBytes`). */
  attachmentLimitBytes: number;
  /** Grants for private folders (records Access Added itself). */
  access: Pick<AccessService, 'createGrant'>;
}

/** An attachment given by an in-process caller: base64 text (the wire form) or bytes. */
export interface NewAttachment {
  fileName: string;
  data: string | Uint8Array;
}

/** An entry to create, from an in-process caller (custom fields may leave out `protected`). */
export type CreateEntryInput = Omit<CreateEntry, 'attachments' | 'customFields'> & {
  customFields?: EntryCustomFieldInput[];
  attachments?: NewAttachment[];
};

/**
 * An entry update from an in-process caller: custom fields may leave out `protected`, which then
 * follows the entry's current field of that name (`EntryCustomFieldInput`), read in the same
 * transaction as the save.
 */
export type UpdateEntryInput = Omit<UpdateEntry, 'customFields'> & {
  customFields?: EntryCustomFieldInput[];
};

/** An entry in full, secrets in clear (see `exportEntries`). Never send this to a log. */
export interface ExportedEntry {
  id: string;
  folderId: string;
  /** Full path, `Root/A/Name`. */
  path: string;
  name: string;
  username: string;
  password: string;
  url: string;
  notes: string;
  tags: string[];
  customFields: StoredCustomField[];
  clientMeta: ClientMeta;
  expiresAt: string | null;
  createdAt: string;
  modifiedAt: string;
  attachments: Array<{ id: string; fileName: string; size: number; data: Buffer }>;
}

/** A folder with everything below it that the caller may see (see `folderTree`). */
export interface FolderTree {
  folderId: string;
  /** The folder first, then its sub-folders depth-first (parents first, siblings by name). */
  folders: Folder[];
  /** Visible entries, grouped by folder in that order, with the caller's permissions on each. */
  entries: Array<EntrySummary & { permissions: VaultPermission[] }>;
}

const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

/** Structural changes of the tree are serialised across processes under this lock. */
const TREE_LOCK = 'vault.tree';

/**
 * The vault (spec §1): folders, entries, attachments, history, the Archive, tree and search,
 * private folders. Every read is filtered by the caller's effective permissions (spec §3):
 * what they may not see is "not found", what they see but may not do is "not allowed". Every
 * change is audited in the same transaction, with the full path as target and no secret in
 * the details.
 *
 * Archive model: archiving sets `archived_at` on the archived folder or entry only; everything
 * below an archived folder is in the Archive through it, so restoring the folder brings back its
 * contents as they were (an entry archived on its own earlier stays in the Archive).
 */
export class VaultService {
  private readonly repo: VaultRepository;
  /** Serialised trees per caller: 64 MiB at most (about 10 trees of 10,000 entries). */
  private readonly treeCache = new TreeResponseCache(64 * 1024 * 1024);

  constructor(private readonly deps: VaultServiceDeps) {
    this.repo = new VaultRepository(deps.store.dialect);
  }

  get rootId(): string {
    return this.deps.roots.rootId;
  }

  get privateRootId(): string {
    return this.deps.roots.privateRootId;
  }

  // ================================================================ folders

  async createFolder(actor: Actor, input: CreateFolder): Promise<Folder> {
    const name = checkName(input.name, '/name');
    const notes =
      input.notes === undefined ? '' : checkText(input.notes, VAULT_LIMITS.notesMax, '/notes');
    const tags = input.tags === undefined ? [] : normalizeTags(input.tags, '/tags');
    const customFields =
      input.customFields === undefined
        ? []
        : checkFolderCustomFields(input.customFields, '/customFields');
    const clientMeta =
      input.clientMeta === undefined ? {} : checkClientMeta(input.clientMeta, '/clientMeta');
    const expiresAt =
      input.expiresAt === undefined ? null : parseTime(input.expiresAt, '/expiresAt');
    return this.deps.store.exclusive(TREE_LOCK, async (trx) => {
      const view = await this.view(trx, actor);
      const parent = this.liveFolder(view, input.parentId, 'The parent folder');
      if (parent.kind === 'private-root') {
        throw conflict(
          'Only private folders live directly in Private Folders (POST /users/{id}/private-folder).',
        );
      }
      if (!view.folderPerms(parent.id).has('addFolders')) {
        throw notAllowed('add folders to this folder');
      }
      const now = this.deps.clock.now();
      const row: FolderRow = {
        id: newUuid(),
        parent_id: parent.id,
        name,
        kind: 'folder',
        notes,
        tags: JSON.stringify(tags),
        custom_fields: JSON.stringify(customFields),
        client_meta: JSON.stringify(clientMeta),
        block_inheritance: 0,
        owner_user_id: null,
        expires_at: expiresAt,
        created_at: now,
        modified_at: now,
        archived_at: null,
      };
      await this.repo.insertFolder(trx, row);
      const after = view.with([row]);
      await this.record(trx, actor, 'Folder Created', after.path(row.id));
      return folderDto(after, row);
    });
  }

  /**
   * One folder with its sub-folders and entries, visible parts only. A folder the caller can't
   * see but that leads to something visible answers as a path-only node (to navigate through).
   */
  async getFolder(actor: Actor, id: string): Promise<FolderView> {
    const db = this.deps.store.db;
    const view = await this.view(db, actor);
    const folder = view.folder(id);
    if (!folder) throw notFound('The folder');
    const entries = await this.repo.liveEntriesIn(db, view.subtree(id));
    // Root is always there (as a path-only node at least), as in the tree.
    const scope = scopeView(view, id, entries, id === this.rootId);
    if (!scope.scopeShown) throw notFound('The folder');
    const dto = (f: FolderRow) => (scope.visible(f.id) ? folderDto(view, f) : pathOnlyDto(view, f));
    const map = new SummaryMapper();
    return {
      folder: dto(folder),
      children: scope.folders.filter((f) => f.parent_id === id && f.id !== id).map(dto),
      entries: (scope.entries.get(id) ?? []).map((e) => map.entry(e.row, e.perms)),
    };
  }

  async updateFolder(actor: Actor, id: string, input: UpdateFolder): Promise<Folder> {
    return this.transaction((trx) => this.updateFolderIn(trx, actor, id, input));
  }

  private async updateFolderIn(
    trx: Kysely<Database>,
    actor: Actor,
    id: string,
    input: UpdateFolder,
  ): Promise<Folder> {
    await this.repo.folder(trx, id, 'update');
    const view = await this.view(trx, actor);
    const f = this.visibleFolder(view, id);
    if (view.folderInArchive(id)) throw inArchive('folder');
    if (!view.folderPerms(id).has('modifyFolders')) throw notAllowed('modify this folder');
    const patch: Partial<FolderRow> = {};
    const fields: string[] = [];
    if (input.name !== undefined && input.name !== f.name) {
      if (SYSTEM_FOLDER_KINDS.has(f.kind) || f.kind === 'private') {
        throw conflict('System folders and private folders cannot be renamed.');
      }
      patch.name = checkName(input.name, '/name');
      fields.push('name');
    }
    if (input.notes !== undefined && input.notes !== f.notes) {
      patch.notes = checkText(input.notes, VAULT_LIMITS.notesMax, '/notes');
      fields.push('notes');
    }
    if (input.tags !== undefined) {
      const tags = JSON.stringify(normalizeTags(input.tags, '/tags'));
      if (tags !== JSON.stringify(parseTags(f.tags))) {
        patch.tags = tags;
        fields.push('tags');
      }
    }
    if (input.customFields !== undefined) {
      const cf = JSON.stringify(checkFolderCustomFields(input.customFields, '/customFields'));
      if (cf !== JSON.stringify(parseFolderCustomFields(f.custom_fields))) {
        patch.custom_fields = cf;
        fields.push('customFields');
      }
    }
    if (input.clientMeta !== undefined) {
      const meta = JSON.stringify(checkClientMeta(input.clientMeta, '/clientMeta'));
      if (meta !== JSON.stringify(parseClientMeta(f.client_meta))) {
        patch.client_meta = meta;
        fields.push('clientMeta');
      }
    }
    if (input.expiresAt !== undefined) {
      const t = parseTime(input.expiresAt, '/expiresAt');
      if (t !== f.expires_at) {
        patch.expires_at = t;
        fields.push('expiresAt');
      }
    }
    if (fields.length === 0) return folderDto(view, f);
    patch.modified_at = this.deps.clock.now();
    await this.repo.updateFolder(trx, id, patch);
    const row = { ...f, ...patch };
    const after = view.with([row]);
    await this.record(trx, actor, 'Folder Updated', after.path(id), {
      fields,
      ...(patch.name !== undefined ? { previousPath: view.path(id) } : {}),
    });
    return folderDto(after, row);
  }

  /** Moves a folder (Move Folders on its current parent and on the destination). */
  async moveFolder(actor: Actor, id: string, parentId: string): Promise<Folder> {
    return this.deps.store.exclusive(TREE_LOCK, (trx) =>
      this.moveFolderIn(trx, actor, id, parentId),
    );
  }

  private async moveFolderIn(
    trx: Kysely<Database>,
    actor: Actor,
    id: string,
    parentId: string,
  ): Promise<Folder> {
    const view = await this.view(trx, actor);
    const f = this.visibleFolder(view, id);
    if (SYSTEM_FOLDER_KINDS.has(f.kind) || f.kind === 'private' || f.parent_id === null) {
      throw conflict('System folders and private folders cannot be moved.');
    }
    if (view.folderInArchive(id)) throw inArchive('folder');
    const dest = this.liveFolder(view, parentId, 'The destination folder');
    if (
      !view.folderPerms(f.parent_id).has('moveFolders') ||
      !view.folderPerms(dest.id).has('moveFolders')
    ) {
      throw notAllowed(
        'move this folder there (Move Folders is needed on the source and the destination)',
      );
    }
    if (view.isWithin(dest.id, id)) {
      throw conflict('A folder cannot be moved into itself or one of its sub-folders.');
    }
    if (dest.kind === 'private-root') {
      throw conflict('Only private folders live directly in Private Folders.');
    }
    if (dest.id === f.parent_id) return folderDto(view, f);
    await this.repo.updateFolder(trx, id, { parent_id: dest.id });
    const row = { ...f, parent_id: dest.id };
    const after = view.with([row]);
    await this.record(trx, actor, 'Folder Moved', after.path(id), {
      from: view.path(id),
      to: after.path(id),
    });
    return folderDto(after, row);
  }

  /**
   * Moves a folder to the Archive with everything in it. Needs Archive Folders on the folder and
   * on every folder below it, and Archive Entries on every entry in them.
   */
  async archiveFolder(actor: Actor, id: string): Promise<void> {
    await this.deps.store.exclusive(TREE_LOCK, (trx) => this.archiveFolderIn(trx, actor, id));
  }

  private async archiveFolderIn(trx: Kysely<Database>, actor: Actor, id: string): Promise<void> {
    const view = await this.view(trx, actor);
    const f = this.visibleFolder(view, id);
    if (SYSTEM_FOLDER_KINDS.has(f.kind)) throw conflict('System folders cannot be archived.');
    if (view.folderInArchive(id)) throw conflict('The folder is already in the Archive.');
    const folders = this.liveSubtree(view, id);
    const entries = (await this.repo.entriesIn(trx, folders)).filter((e) => e.archived_at === null);
    const allowed =
      folders.every((fid) => view.folderPerms(fid).has('archiveFolders')) &&
      entries.every((e) => view.entryPerms(e.id, e.folder_id).has('archiveEntries'));
    if (!allowed) throw notAllowed('archive this folder and everything in it');
    await this.repo.updateFolder(trx, id, { archived_at: this.deps.clock.now() });
    await this.record(trx, actor, 'Folder Archived', view.path(id), {
      folders: folders.length,
      entries: entries.length,
    });
  }

  /**
   * Restores a folder from the Archive into a chosen folder (Archive Folders on the folder, Add
   * Folders on the destination). A private folder goes back into Private Folders only.
   */
  async restoreFolder(actor: Actor, id: string, parentId: string): Promise<Folder> {
    return this.deps.store.exclusive(TREE_LOCK, async (trx) => {
      const view = await this.view(trx, actor);
      const f = this.visibleFolder(view, id);
      if (!view.folderInArchive(id)) throw conflict('The folder is not in the Archive.');
      const dest = this.liveFolder(view, parentId, 'The destination folder');
      if (
        !view.folderPerms(id).has('archiveFolders') ||
        !view.folderPerms(dest.id).has('addFolders')
      ) {
        throw notAllowed(
          'restore this folder there (Archive Folders on the folder and Add Folders on the destination are needed)',
        );
      }
      if ((f.kind === 'private') !== (dest.kind === 'private-root')) {
        throw conflict(
          f.kind === 'private'
            ? 'A private folder can only be restored into Private Folders.'
            : 'Only private folders live directly in Private Folders.',
        );
      }
      await this.repo.updateFolder(trx, id, { parent_id: dest.id, archived_at: null });
      const row = { ...f, parent_id: dest.id, archived_at: null };
      const after = view.with([row]);
      await this.record(trx, actor, 'Folder Restored', after.path(id), { from: view.path(id) });
      return folderDto(after, row);
    });
  }

  /**
   * Deletes a folder in the Archive permanently, with every folder, entry, attachment, version
   * and grant below it. Needs Delete Folders on each folder and Delete Entries on each entry.
   */
  async deleteFolder(actor: Actor, id: string): Promise<void> {
    await this.deps.store.exclusive(TREE_LOCK, (trx) => this.deleteFolderIn(trx, actor, id));
  }

  private async deleteFolderIn(trx: Kysely<Database>, actor: Actor, id: string): Promise<void> {
    const view = await this.view(trx, actor);
    this.visibleFolder(view, id);
    if (!view.folderInArchive(id)) {
      throw conflict('Only folders in the Archive can be deleted permanently; archive it first.');
    }
    const folders = view.subtree(id);
    await this.repo.lockFolders(trx, folders);
    const entries = await this.repo.entriesIn(trx, folders);
    const allowed =
      folders.every((fid) => view.folderPerms(fid).has('deleteFolders')) &&
      entries.every((e) => view.entryPerms(e.id, e.folder_id).has('deleteEntries'));
    if (!allowed) throw notAllowed('delete this folder and everything in it');
    await this.repo.deleteNodes(
      trx,
      entries.map((e) => e.id),
      [...folders].reverse(),
    );
    await this.record(trx, actor, 'Folder Deleted', view.path(id), {
      folders: folders.length,
      entries: entries.length,
    });
  }

  /**
   * Changes a folder's fields and moves it in one transaction, for clients that do both in one
   * request (the Pleasant-compatible API's PUT and PATCH). Each part needs exactly what its own
   * call needs (`updateFolder`, `moveFolder`) and is audited the same way; `parentId` equal to
   * the current parent is no move, and empty `fields` change nothing. Nothing is saved unless
   * every part is allowed.
   */
  async editFolder(
    actor: Actor,
    id: string,
    change: { fields?: UpdateFolder; parentId?: string },
  ): Promise<void> {
    await this.deps.store.exclusive(TREE_LOCK, async (trx) => {
      const view = await this.view(trx, actor);
      const f = this.visibleFolder(view, id);
      if (change.parentId !== undefined && change.parentId !== f.parent_id) {
        await this.moveFolderIn(trx, actor, id, change.parentId);
      }
      if (change.fields !== undefined && Object.keys(change.fields).length > 0) {
        await this.updateFolderIn(trx, actor, id, change.fields);
      }
    });
  }

  /**
   * Deletes a folder permanently, archiving it first in the same transaction when it is not in
   * the Archive yet: needs what `archiveFolder` and then `deleteFolder` need, and records both.
   */
  async purgeFolder(actor: Actor, id: string): Promise<void> {
    await this.deps.store.exclusive(TREE_LOCK, async (trx) => {
      const view = await this.view(trx, actor);
      this.visibleFolder(view, id);
      if (!view.folderInArchive(id)) await this.archiveFolderIn(trx, actor, id);
      await this.deleteFolderIn(trx, actor, id);
    });
  }

  // ================================================================ entries

  async createEntry(actor: Actor, input: CreateEntryInput): Promise<Entry> {
    const state: EntryState = {
      name: checkName(input.name, '/name'),
      username: checkText(input.username ?? '', VAULT_LIMITS.usernameMax, '/username'),
      password: checkText(input.password ?? '', VAULT_LIMITS.passwordMax, '/password'),
      url: checkText(input.url ?? '', VAULT_LIMITS.urlMax, '/url'),
      notes: checkText(input.notes ?? '', VAULT_LIMITS.notesMax, '/notes'),
      tags: normalizeTags(input.tags ?? [], '/tags'),
      customFields: checkEntryCustomFields(input.customFields ?? [], [], '/customFields'),
      clientMeta: checkClientMeta(input.clientMeta ?? {}, '/clientMeta'),
      expiresAt: input.expiresAt === undefined ? null : parseTime(input.expiresAt, '/expiresAt'),
      attachmentIds: [],
    };
    const files = input.attachments ?? [];
    if (files.length > VAULT_LIMITS.attachmentsOnCreateMax) {
      throw invalid(
        '/attachments',
        `At most ${VAULT_LIMITS.attachmentsOnCreateMax} attachments per request.`,
      );
    }
    const decoded = files.map((a, i) => ({
      id: newUuid(),
      fileName: checkFileName(a.fileName, `/attachments/${i}/fileName`),
      data: decodeAttachment(a.data, this.deps.attachmentLimitBytes, `/attachments/${i}/data`),
    }));
    return this.transaction(async (trx) => {
      await this.repo.folder(trx, input.folderId, 'share');
      const view = await this.view(trx, actor);
      const folder = this.liveFolder(view, input.folderId, 'The folder');
      if (folder.kind === 'private-root') {
        throw conflict('Entries live in folders, not directly in Private Folders.');
      }
      if (!view.folderPerms(folder.id).has('addEntries')) {
        throw notAllowed('add entries to this folder');
      }
      const id = newUuid();
      const now = this.deps.clock.now();
      state.attachmentIds = decoded.map((a) => a.id);
      const row: EntryRow = {
        id,
        folder_id: folder.id,
        name: state.name,
        username: state.username,
        url: state.url,
        tags: JSON.stringify(state.tags),
        ...sealEntry(this.deps.sealer, id, state),
        client_meta: JSON.stringify(state.clientMeta),
        expires_at: state.expiresAt,
        created_at: now,
        modified_at: now,
        modified_by: actor.userId,
        version: 1,
        archived_at: null,
      };
      await this.repo.insertEntry(trx, row);
      const attachments: AttachmentMeta[] = [];
      for (const a of decoded) {
        const meta = {
          id: a.id,
          entry_id: id,
          file_name: a.fileName,
          size: a.data.length,
          created_at: now,
          removed_at: null,
        };
        await this.repo.insertAttachment(trx, {
          ...meta,
          data_sealed: this.deps.sealer.sealSecret(a.data, ctx.attachment(a.id)),
        });
        attachments.push(meta);
      }
      const path = view.entryPath(folder.id, state.name);
      await this.record(trx, actor, 'Entry Created', path, {
        ...(attachments.length > 0 ? { attachments: attachments.length } : {}),
      });
      return this.entryDto(row, path, view.entryPerms(id, folder.id), attachments, state);
    });
  }

  /** An entry's details (View Entry Contents). Never the password. */
  async getEntry(actor: Actor, id: string): Promise<Entry> {
    const db = this.deps.store.db;
    const [view, row] = await Promise.all([this.view(db, actor), this.repo.entry(db, id)]);
    const { entry, perms } = this.visibleEntry(view, row);
    if (!perms.has('viewEntryContents')) throw notAllowed('view the contents of this entry');
    const attachments = await this.repo.attachments(db, id);
    return this.entryDto(entry, view.entryPath(entry.folder_id, entry.name), perms, attachments);
  }

  /**
   * Details of many entries at once, each as `getEntry` gives it: those among `ids` the caller
   * may see with View Entry Contents, in the order asked for; others are left out silently
   * (unknown ids included). The batch's notes and custom fields are decrypted in one call.
   * Never a password; not audited (like `getEntry`).
   */
  async entryDetails(actor: Actor, ids: readonly string[]): Promise<Entry[]> {
    const db = this.deps.store.db;
    const wanted = [...new Set(ids)];
    const [view, rows] = await Promise.all([
      this.view(db, actor),
      this.repo.entriesByIds(db, wanted),
    ]);
    const at = new Map(wanted.map((id, i) => [id, i]));
    const shown = rows
      .flatMap((row) => {
        if (!view.folders.has(row.folder_id)) return [];
        const perms = view.entryPerms(row.id, row.folder_id);
        return perms.has('viewEntryNames') && perms.has('viewEntryContents')
          ? [{ row, perms }]
          : [];
      })
      .sort((a, b) => at.get(a.row.id)! - at.get(b.row.id)!);
    if (shown.length === 0) return [];
    const attachments = await this.repo.attachmentsOf(
      db,
      shown.map((s) => s.row.id),
    );
    const byEntry = new Map<string, AttachmentMeta[]>();
    for (const a of attachments) {
      const list = byEntry.get(a.entry_id);
      if (list) list.push(a);
      else byEntry.set(a.entry_id, [a]);
    }
    const batch = new SealedBatch();
    const slots = shown.map(({ row }) => ({
      notes: batch.add(row.notes_sealed, ctx.notes(row.id)),
      customFields: batch.add(row.custom_fields_sealed, ctx.customFields(row.id)),
    }));
    await batch.open(this.deps.sealer);
    return shown.map(({ row, perms }, k) => {
      const s = slots[k]!;
      return this.entryDto(
        row,
        view.entryPath(row.folder_id, row.name),
        perms,
        byEntry.get(row.id) ?? [],
        { notes: batch.text(s.notes), customFields: batch.customFields(s.customFields) },
      );
    });
  }

  /**
   * The password of an entry (View Entry Password). Every call is audited as Password Fetched;
   * a refused call on an entry the caller can see is audited as denied.
   */
  async getPassword(actor: Actor, id: string): Promise<string> {
    // The hot path of the API: the check reads committed state (the cached folder tree, the
    // caller's grants, the entry) without a write transaction; the audit record is appended in
    // its own, and the password is returned only once that record is stored.
    const db = this.deps.store.db;
    const [view, row] = await Promise.all([this.view(db, actor), this.repo.entry(db, id)]);
    const { entry, perms } = this.visibleEntry(view, row);
    const path = view.entryPath(entry.folder_id, entry.name);
    if (!perms.has('viewEntryPassword')) {
      await this.record(db, actor, 'Password Fetched', path, {}, 'denied');
      throw notAllowed('fetch the password of this entry');
    }
    const password = openPassword(this.deps.sealer, entry);
    await this.record(db, actor, 'Password Fetched', path);
    return password;
  }

  /** Partial update (Modify Entries and View Entry Contents); a change is a new version. */
  async updateEntry(actor: Actor, id: string, input: UpdateEntry): Promise<Entry> {
    return this.transaction((trx) => this.updateEntryIn(trx, actor, id, input));
  }

  private async updateEntryIn(
    trx: Kysely<Database>,
    actor: Actor,
    id: string,
    input: UpdateEntryInput,
  ): Promise<Entry> {
    const { view, entry, perms } = await this.editableEntry(trx, actor, id);
    const attachments = await this.repo.attachments(trx, id);
    const before = readState(this.deps.sealer, entry, attachments);
    const after: EntryState = { ...before };
    if (input.name !== undefined) after.name = checkName(input.name, '/name');
    if (input.username !== undefined) {
      after.username = checkText(input.username, VAULT_LIMITS.usernameMax, '/username');
    }
    if (input.password !== undefined) {
      after.password = checkText(input.password, VAULT_LIMITS.passwordMax, '/password');
    }
    if (input.url !== undefined) after.url = checkText(input.url, VAULT_LIMITS.urlMax, '/url');
    if (input.notes !== undefined) {
      after.notes = checkText(input.notes, VAULT_LIMITS.notesMax, '/notes');
    }
    if (input.tags !== undefined) after.tags = normalizeTags(input.tags, '/tags');
    if (input.customFields !== undefined) {
      after.customFields = checkEntryCustomFields(
        input.customFields,
        before.customFields,
        '/customFields',
      );
    }
    if (input.clientMeta !== undefined) {
      after.clientMeta = checkClientMeta(input.clientMeta, '/clientMeta');
    }
    if (input.expiresAt !== undefined) after.expiresAt = parseTime(input.expiresAt, '/expiresAt');
    const fields = changedFields(before, after);
    if (fields.length === 0) {
      return this.entryDto(
        entry,
        view.entryPath(entry.folder_id, entry.name),
        perms,
        attachments,
        before,
      );
    }
    const saved = await this.save(trx, actor, entry, before, after);
    const path = view.entryPath(saved.folder_id, saved.name);
    await this.record(trx, actor, 'Entry Updated', path, {
      fields,
      ...(after.name !== before.name
        ? { previousPath: view.entryPath(entry.folder_id, entry.name) }
        : {}),
    });
    return this.entryDto(saved, path, perms, attachments, after);
  }

  /** Moves an entry (Move Entries on the entry's folder and on the destination). */
  async moveEntry(actor: Actor, id: string, folderId: string): Promise<EntryLocation> {
    return this.transaction((trx) => this.moveEntryIn(trx, actor, id, folderId));
  }

  private async moveEntryIn(
    trx: Kysely<Database>,
    actor: Actor,
    id: string,
    folderId: string,
  ): Promise<EntryLocation> {
    const row = await this.repo.entry(trx, id, true);
    await this.repo.folder(trx, folderId, 'share');
    const view = await this.view(trx, actor);
    const { entry, perms } = this.visibleEntry(view, row);
    if (this.entryInArchive(view, entry)) throw inArchive('entry');
    const dest = this.liveFolder(view, folderId, 'The destination folder');
    if (!perms.has('moveEntries') || !view.folderPerms(dest.id).has('moveEntries')) {
      throw notAllowed(
        'move this entry there (Move Entries is needed on the source and the destination)',
      );
    }
    if (dest.kind === 'private-root') {
      throw conflict('Entries live in folders, not directly in Private Folders.');
    }
    const from = view.entryPath(entry.folder_id, entry.name);
    const to = view.entryPath(dest.id, entry.name);
    if (dest.id !== entry.folder_id) {
      await this.repo.updateEntry(trx, id, { folder_id: dest.id });
      await this.record(trx, actor, 'Entry Moved', to, { from, to });
    }
    return { id, folderId: dest.id, name: entry.name, path: to };
  }

  async archiveEntry(actor: Actor, id: string): Promise<void> {
    await this.transaction((trx) => this.archiveEntryIn(trx, actor, id));
  }

  private async archiveEntryIn(trx: Kysely<Database>, actor: Actor, id: string): Promise<void> {
    const row = await this.repo.entry(trx, id, true);
    const view = await this.view(trx, actor);
    const { entry, perms } = this.visibleEntry(view, row);
    if (this.entryInArchive(view, entry)) {
      throw conflict('The entry is already in the Archive.');
    }
    if (!perms.has('archiveEntries')) throw notAllowed('archive this entry');
    await this.repo.updateEntry(trx, id, { archived_at: this.deps.clock.now() });
    await this.record(trx, actor, 'Entry Archived', view.entryPath(entry.folder_id, entry.name));
  }

  /** Restores an entry from the Archive into a chosen folder (Archive Entries, Add Entries). */
  async restoreEntry(actor: Actor, id: string, folderId: string): Promise<EntryLocation> {
    return this.transaction(async (trx) => {
      const row = await this.repo.entry(trx, id, true);
      await this.repo.folder(trx, folderId, 'share');
      const view = await this.view(trx, actor);
      const { entry, perms } = this.visibleEntry(view, row);
      if (!this.entryInArchive(view, entry)) throw conflict('The entry is not in the Archive.');
      const dest = this.liveFolder(view, folderId, 'The destination folder');
      if (!perms.has('archiveEntries') || !view.folderPerms(dest.id).has('addEntries')) {
        throw notAllowed(
          'restore this entry there (Archive Entries on the entry and Add Entries on the destination are needed)',
        );
      }
      if (dest.kind === 'private-root') {
        throw conflict('Entries live in folders, not directly in Private Folders.');
      }
      await this.repo.updateEntry(trx, id, { folder_id: dest.id, archived_at: null });
      const path = view.entryPath(dest.id, entry.name);
      await this.record(trx, actor, 'Entry Restored', path, {
        from: view.entryPath(entry.folder_id, entry.name),
      });
      return { id, folderId: dest.id, name: entry.name, path };
    });
  }

  /** Deletes an entry in the Archive permanently, with its attachments, versions and grants. */
  async deleteEntry(actor: Actor, id: string): Promise<void> {
    await this.transaction((trx) => this.deleteEntryIn(trx, actor, id));
  }

  private async deleteEntryIn(trx: Kysely<Database>, actor: Actor, id: string): Promise<void> {
    const row = await this.repo.entry(trx, id, true);
    const view = await this.view(trx, actor);
    const { entry, perms } = this.visibleEntry(view, row);
    if (!this.entryInArchive(view, entry)) {
      throw conflict('Only entries in the Archive can be deleted permanently; archive it first.');
    }
    if (!perms.has('deleteEntries')) throw notAllowed('delete this entry');
    await this.repo.deleteNodes(trx, [id], []);
    await this.record(trx, actor, 'Entry Deleted', view.entryPath(entry.folder_id, entry.name));
  }

  /**
   * Changes an entry's fields and moves it in one transaction, for clients that do both in one
   * request (the Pleasant-compatible API's PUT and PATCH). Each part needs exactly what its own
   * call needs (`updateEntry`, `moveEntry`) and is audited the same way; `folderId` equal to the
   * current folder is no move, and empty `fields` change nothing. Nothing is saved unless every
   * part is allowed.
   */
  async editEntry(
    actor: Actor,
    id: string,
    change: { fields?: UpdateEntryInput; folderId?: string },
  ): Promise<void> {
    await this.transaction(async (trx) => {
      const row = await this.repo.entry(trx, id, true);
      const view = await this.view(trx, actor);
      const { entry } = this.visibleEntry(view, row);
      if (change.folderId !== undefined && change.folderId !== entry.folder_id) {
        await this.moveEntryIn(trx, actor, id, change.folderId);
      }
      if (change.fields !== undefined && Object.keys(change.fields).length > 0) {
        await this.updateEntryIn(trx, actor, id, change.fields);
      }
    });
  }

  /**
   * Deletes an entry permanently, archiving it first in the same transaction when it is not in
   * the Archive yet: needs what `archiveEntry` and then `deleteEntry` need, and records both.
   */
  async purgeEntry(actor: Actor, id: string): Promise<void> {
    await this.transaction(async (trx) => {
      const row = await this.repo.entry(trx, id, true);
      const view = await this.view(trx, actor);
      const { entry } = this.visibleEntry(view, row);
      if (!this.entryInArchive(view, entry)) await this.archiveEntryIn(trx, actor, id);
      await this.deleteEntryIn(trx, actor, id);
    });
  }

  // ================================================================ attachments

  async listAttachments(actor: Actor, id: string): Promise<AttachmentList> {
    const db = this.deps.store.db;
    const [view, row] = await Promise.all([this.view(db, actor), this.repo.entry(db, id)]);
    const { perms } = this.visibleEntry(view, row);
    if (!perms.has('viewEntryContents')) throw notAllowed('view the contents of this entry');
    return { attachments: (await this.repo.attachments(db, id)).map(attachmentInfo) };
  }

  /** Adds an attachment (Modify Entries): a save of the entry, so a new version. */
  async addAttachment(actor: Actor, id: string, input: AddAttachment): Promise<AttachmentInfo> {
    const fileName = checkFileName(input.fileName, '/fileName');
    const data = decodeAttachment(input.data, this.deps.attachmentLimitBytes, '/data');
    return this.transaction(async (trx) => {
      const { view, entry } = await this.editableEntry(trx, actor, id);
      const attachments = await this.repo.attachments(trx, id);
      const before = readState(this.deps.sealer, entry, attachments);
      const now = this.deps.clock.now();
      const meta: AttachmentMeta = {
        id: newUuid(),
        entry_id: id,
        file_name: fileName,
        size: data.length,
        created_at: now,
        removed_at: null,
      };
      await this.repo.insertAttachment(trx, {
        ...meta,
        data_sealed: this.deps.sealer.sealSecret(data, ctx.attachment(meta.id)),
      });
      await this.save(trx, actor, entry, before, {
        ...before,
        attachmentIds: [...before.attachmentIds, meta.id],
      });
      await this.record(
        trx,
        actor,
        'Attachment Added',
        view.entryPath(entry.folder_id, entry.name),
        { attachmentId: meta.id, fileName, size: data.length },
      );
      return attachmentInfo(meta);
    });
  }

  /**
   * Downloads an attachment (View Entry Contents; one removed from the current version needs
   * View Entry History too). Audited.
   */
  async getAttachment(actor: Actor, id: string, attachmentId: string): Promise<AttachmentData> {
    return this.transaction(async (trx) => {
      const [view, row] = await Promise.all([this.view(trx, actor), this.repo.entry(trx, id)]);
      const { entry, perms } = this.visibleEntry(view, row);
      if (!perms.has('viewEntryContents')) throw notAllowed('view the contents of this entry');
      const att = await this.repo.attachment(trx, id, attachmentId);
      if (!att || (att.removed_at !== null && !perms.has('viewEntryHistory'))) {
        throw notFound('The attachment');
      }
      const data = this.deps.sealer.openSecret(att.data_sealed, ctx.attachment(att.id));
      await this.record(
        trx,
        actor,
        'Attachment Downloaded',
        view.entryPath(entry.folder_id, entry.name),
        { attachmentId: att.id, fileName: att.file_name },
      );
      return {
        id: att.id,
        entryId: id,
        fileName: att.file_name,
        size: att.size,
        data: data.toString('base64'),
      };
    });
  }

  /** Removes an attachment from the entry (Modify Entries): a new version; older versions keep it. */
  async removeAttachment(actor: Actor, id: string, attachmentId: string): Promise<void> {
    await this.transaction(async (trx) => {
      const { view, entry } = await this.editableEntry(trx, actor, id);
      const attachments = await this.repo.attachments(trx, id);
      const att = attachments.find((a) => a.id === attachmentId);
      if (!att) throw notFound('The attachment');
      const before = readState(this.deps.sealer, entry, attachments);
      await this.repo.setAttachmentsRemoved(trx, id, [att.id], this.deps.clock.now());
      await this.save(trx, actor, entry, before, {
        ...before,
        attachmentIds: before.attachmentIds.filter((a) => a !== att.id),
      });
      await this.record(
        trx,
        actor,
        'Attachment Removed',
        view.entryPath(entry.folder_id, entry.name),
        { attachmentId: att.id, fileName: att.file_name },
      );
    });
  }

  // ================================================================ history

  /** Versions of an entry, newest (current) first (View Entry History). Audited. */
  async history(actor: Actor, id: string): Promise<EntryHistory> {
    return this.transaction(async (trx) => {
      const [view, row] = await Promise.all([this.view(trx, actor), this.repo.entry(trx, id)]);
      const { entry, perms } = this.visibleEntry(view, row);
      if (!perms.has('viewEntryHistory')) throw notAllowed('view the history of this entry');
      const [versions, currentBy] = await Promise.all([
        this.repo.versions(trx, id),
        this.repo.loginName(trx, entry.modified_by),
      ]);
      await this.record(trx, actor, 'History Viewed', view.entryPath(entry.folder_id, entry.name));
      return {
        entryId: id,
        versions: [
          {
            version: entry.version,
            current: true,
            modifiedAt: iso(entry.modified_at),
            modifiedBy: entry.modified_by,
            modifiedByName: currentBy,
          },
          ...versions.map((v) => ({
            version: v.version,
            current: false,
            modifiedAt: iso(v.created_at),
            modifiedBy: v.created_by,
            modifiedByName: v.login_name,
          })),
        ],
      };
    });
  }

  /**
   * The fields of one version (View Entry History; protected custom field values need View
   * Entry Password too). Never the password. Audited.
   */
  async historyVersion(actor: Actor, id: string, version: number): Promise<EntryVersion> {
    return this.transaction(async (trx) => {
      const [view, row] = await Promise.all([this.view(trx, actor), this.repo.entry(trx, id)]);
      const { entry, perms } = this.visibleEntry(view, row);
      // An old version shows the entry's fields: History alone must not open them.
      if (!perms.has('viewEntryHistory') || !perms.has('viewEntryContents')) {
        throw notAllowed('view the history of this entry');
      }
      const v = await this.loadVersion(trx, entry, version);
      const all = await this.repo.attachments(trx, id, true);
      const ids = new Set(v.state.attachmentIds);
      await this.record(trx, actor, 'History Viewed', view.entryPath(entry.folder_id, entry.name), {
        version,
      });
      return {
        entryId: id,
        version,
        current: version === entry.version,
        modifiedAt: iso(v.modifiedAt),
        modifiedBy: v.modifiedBy,
        name: v.state.name,
        username: v.state.username,
        url: v.state.url,
        notes: v.state.notes,
        tags: v.state.tags,
        customFields: visibleCustomFields(v.state.customFields, perms.has('viewEntryPassword')),
        clientMeta: v.state.clientMeta,
        hasPassword: v.state.password !== '',
        expiresAt: isoOrNull(v.state.expiresAt),
        attachments: all.filter((a) => ids.has(a.id)).map(attachmentInfo),
      };
    });
  }

  /** The password of one version (View Entry History and View Entry Password). Audited. */
  async historyPassword(actor: Actor, id: string, version: number): Promise<string> {
    const result = await this.transaction(async (trx) => {
      const [view, row] = await Promise.all([this.view(trx, actor), this.repo.entry(trx, id)]);
      const { entry, perms } = this.visibleEntry(view, row);
      const path = view.entryPath(entry.folder_id, entry.name);
      if (!perms.has('viewEntryHistory') || !perms.has('viewEntryPassword')) {
        await this.record(trx, actor, 'Password Fetched', path, { version }, 'denied');
        return null;
      }
      const v = await this.loadVersion(trx, entry, version);
      await this.record(trx, actor, 'Password Fetched', path, { version });
      return { password: v.state.password };
    });
    if (result === null) throw notAllowed('fetch the passwords of this entry’s history');
    return result.password;
  }

  /**
   * Restores an old version (Modify Entries): its fields and attachments become a new version;
   * attachments removed since come back, attachments added since are removed.
   */
  async restoreVersion(actor: Actor, id: string, version: number): Promise<Entry> {
    return this.transaction(async (trx) => {
      const { view, entry, perms } = await this.editableEntry(trx, actor, id);
      // Restoring a version means choosing it: it needs the history as well as the change.
      if (!perms.has('viewEntryHistory')) throw notAllowed('restore a version of this entry');
      if (version === entry.version) throw conflict('That version is the current one.');
      const v = await this.loadVersion(trx, entry, version);
      const all = await this.repo.attachments(trx, id, true);
      const before = readState(this.deps.sealer, entry, all);
      const existing = new Set(all.map((a) => a.id));
      const wanted = v.state.attachmentIds.filter((a) => existing.has(a));
      const wantedSet = new Set(wanted);
      const current = new Set(before.attachmentIds);
      const now = this.deps.clock.now();
      await this.repo.setAttachmentsRemoved(
        trx,
        id,
        before.attachmentIds.filter((a) => !wantedSet.has(a)),
        now,
      );
      await this.repo.setAttachmentsRemoved(
        trx,
        id,
        wanted.filter((a) => !current.has(a)),
        null,
      );
      const after: EntryState = { ...v.state, attachmentIds: wanted };
      const saved = await this.save(trx, actor, entry, before, after);
      const path = view.entryPath(saved.folder_id, saved.name);
      await this.record(trx, actor, 'History Restored', path, {
        version,
        newVersion: saved.version,
      });
      const attachments = await this.repo.attachments(trx, id);
      return this.entryDto(saved, path, perms, attachments, after);
    });
  }

  // ================================================================ tree, search, archive

  /**
   * The caller's whole visible tree in four queries (folders, grants, levels, entries) and no
   * decryption: folders with View Folders, entries with View Entry Names, path-only nodes for
   * invisible folders that lead to something visible. `Root` is always present.
   */
  async tree(actor: Actor): Promise<VaultTree> {
    const db = this.deps.store.db;
    const [view, entries] = await Promise.all([this.view(db, actor), this.repo.liveEntries(db)]);
    return this.buildTree(view, entries);
  }

  /**
   * The visible subtree of one folder in the tree's order and shape: the folder first (a
   * path-only node if the caller can't see it but something below it), then what `getFolder`
   * would show level by level. For clients that read a folder with everything below it at once
   * (the Pleasant-compatible API). `Root` is always there.
   */
  async folderTree(actor: Actor, id: string): Promise<FolderTree> {
    const db = this.deps.store.db;
    const [view, entries] = await Promise.all([this.view(db, actor), this.repo.liveEntries(db)]);
    if (!view.folder(id)) throw notFound('The folder');
    const scope = scopeView(view, id, entries, id === this.rootId);
    if (!scope.scopeShown) throw notFound('The folder');
    const out: FolderTree = { folderId: id, folders: [], entries: [] };
    const map = new SummaryMapper();
    for (const f of scope.folders) {
      out.folders.push(scope.visible(f.id) ? folderDto(view, f) : pathOnlyDto(view, f));
      for (const e of scope.entries.get(f.id) ?? []) {
        out.entries.push({ ...map.entry(e.row, e.perms), permissions: allowList(e.perms) });
      }
    }
    return out;
  }

  /**
   * The caller's tree serialised, from the per-caller cache while nothing it shows has changed
   * (see TreeResponseCache), with an ETag for conditional requests.
   */
  async treeResponse(actor: Actor): Promise<{ etag: string; body: Buffer }> {
    const db = this.deps.store.db;
    const revision = await currentRevision(db, 'vault');
    const now = this.deps.clock.now();
    const key = `${actor.isAdministrator ? 'admin' : 'user'}:${actor.userId}:${[...actor.roleIds].sort().join(',')}`;
    const hit = this.treeCache.get(key, revision, now);
    if (hit) return hit;
    const [view, entries] = await Promise.all([this.view(db, actor), this.repo.liveEntries(db)]);
    // The same document as JSON.stringify(tree(actor)), assembled from per-entry JSON that is
    // made once per entry version and shared by every caller who sees the entry in full.
    const folders: Folder[] = [];
    const entryJson: Buffer[] = [];
    const map = new SummaryMapper();
    this.walkTree(
      view,
      entries,
      (f) => folders.push(f),
      (row, perms) => {
        if (entryJson.length > 0) entryJson.push(COMMA);
        entryJson.push(map.entryJson(row, perms));
      },
    );
    const head = `{"rootId":${JSON.stringify(this.rootId)},"folders":${JSON.stringify(folders)},"entries":[`;
    const body = Buffer.concat([Buffer.from(head, 'utf8'), ...entryJson, CLOSE]);
    const item = {
      revision,
      validUntil: view.nextGrantExpiry(now) ?? Number.POSITIVE_INFINITY,
      etag: `"${newUuid()}"`,
      body,
    };
    this.treeCache.set(key, item);
    return item;
  }

  private buildTree(view: VaultView, entries: readonly EntryListRow[]): VaultTree {
    const out: VaultTree = { rootId: this.rootId, folders: [], entries: [] };
    const map = new SummaryMapper();
    this.walkTree(
      view,
      entries,
      (f) => out.folders.push(f),
      (row, perms) => out.entries.push(map.entry(row, perms)),
    );
    return out;
  }

  /** The caller's tree in order: each shown folder, then its visible entries. */
  private walkTree(
    view: VaultView,
    entries: readonly EntryListRow[],
    onFolder: (f: Folder) => void,
    onEntry: (row: EntryListRow, perms: Perms) => void,
  ): void {
    const scope = scopeView(view, this.rootId, entries, true);
    for (const f of scope.folders) {
      onFolder(scope.visible(f.id) ? folderDto(view, f) : pathOnlyDto(view, f));
      for (const e of scope.entries.get(f.id) ?? []) onEntry(e.row, e.perms);
    }
  }

  /**
   * Case-insensitive substring search over names (View Entry Names), usernames, URLs, tags and
   * notes (View Entry Contents; notes are decrypted only for those entries) of visible entries
   * that are not in the Archive, and over names of visible folders.
   */
  async search(actor: Actor, query: string): Promise<SearchResult> {
    const q = checkText(query, VAULT_LIMITS.searchQueryMax, '/q').toLowerCase();
    if (q.length === 0) throw invalid('/q', 'The search text is empty.');
    const db = this.deps.store.db;
    const [view, entries] = await Promise.all([
      this.view(db, actor),
      this.repo.searchableEntries(db),
    ]);
    const scope = scopeView(view, this.rootId, entries);
    const max = VAULT_LIMITS.searchResultsMax;
    const result: SearchResult = { entries: [], folders: [], truncated: false };
    const hit = (text: string) => text.toLowerCase().includes(q);
    for (const f of scope.folders) {
      if (scope.visible(f.id) && hit(f.name)) {
        if (result.folders.length >= max) result.truncated = true;
        else result.folders.push(folderHit(view, f));
      }
      for (const { row, perms } of scope.entries.get(f.id) ?? []) {
        if (result.entries.length >= max) {
          result.truncated = true;
          break;
        }
        const matched: string[] = [];
        if (hit(row.name)) matched.push('name');
        const contents = perms.has('viewEntryContents');
        let notes = '';
        let tags: string[] = [];
        if (contents) {
          if (hit(row.username)) matched.push('username');
          if (hit(row.url)) matched.push('url');
          tags = parseTags(row.tags);
          if (tags.some(hit)) matched.push('tags');
          notes = openNotes(this.deps.sealer, row);
          if (hit(notes)) matched.push('notes');
        }
        if (matched.length === 0) continue;
        const entryHit: SearchEntryHit = {
          id: row.id,
          folderId: row.folder_id,
          name: row.name,
          folderPath: view.path(row.folder_id),
          matched,
        };
        if (contents) {
          entryHit.username = row.username;
          entryHit.url = row.url;
          entryHit.tags = tags;
          entryHit.notes = notes;
        }
        result.entries.push(entryHit);
      }
    }
    return result;
  }

  /** What is in the Archive at top level (archived on its own, not inside an archived folder). */
  async archive(actor: Actor): Promise<ArchiveList> {
    const db = this.deps.store.db;
    const [view, entries] = await Promise.all([
      this.view(db, actor),
      this.repo.archivedEntries(db),
    ]);
    const out: ArchiveList = { folders: [], entries: [] };
    for (const f of view.folders.values()) {
      if (f.archived_at === null || f.parent_id === null) continue;
      if (view.folderInArchive(f.parent_id) || !view.canSeeFolder(f.id)) continue;
      out.folders.push({
        id: f.id,
        parentId: f.parent_id,
        name: f.name,
        path: view.path(f.id),
        archivedAt: iso(f.archived_at),
      });
    }
    for (const e of entries) {
      if (e.archived_at === null || !view.folders.has(e.folder_id)) continue;
      if (view.folderInArchive(e.folder_id) || !view.canSeeEntry(e.id, e.folder_id)) continue;
      out.entries.push({
        id: e.id,
        folderId: e.folder_id,
        name: e.name,
        path: view.entryPath(e.folder_id, e.name),
        archivedAt: iso(e.archived_at),
      });
    }
    const newestFirst = (a: { archivedAt: string }, b: { archivedAt: string }) =>
      a.archivedAt < b.archivedAt ? 1 : a.archivedAt > b.archivedAt ? -1 : 0;
    out.folders.sort(newestFirst);
    out.entries.sort(newestFirst);
    return out;
  }

  /**
   * Many entries in full — password, protected values and attachment bytes in clear — in a
   * bounded number of queries, for exports such as the offline package. Only entries that are
   * not in the Archive and on which the caller holds every permission in `require` are returned
   * (others are left out silently, unknown ids included). Nothing is audited here: the caller
   * records what it hands out (for example one Offline Sync record per entry).
   */
  async exportEntries(
    actor: Actor,
    ids: readonly string[],
    require: readonly VaultPermission[],
  ): Promise<ExportedEntry[]> {
    const db = this.deps.store.db;
    const [view, rows] = await Promise.all([
      this.view(db, actor),
      this.repo.entriesByIds(db, [...new Set(ids)]),
    ]);
    const allowed = rows.filter((r) => {
      if (!view.folders.has(r.folder_id) || this.entryInArchive(view, r)) return false;
      const perms = view.entryPerms(r.id, r.folder_id);
      return perms.has('viewEntryNames') && require.every((p) => perms.has(p));
    });
    const attachments = await this.repo.currentAttachmentsOf(
      db,
      allowed.map((r) => r.id),
    );
    // Every sealed value of the batch is opened in one call.
    const batch = new SealedBatch();
    const slots = allowed.map((r) => ({
      password: batch.add(r.password_sealed, ctx.password(r.id)),
      notes: batch.add(r.notes_sealed, ctx.notes(r.id)),
      customFields: batch.add(r.custom_fields_sealed, ctx.customFields(r.id)),
    }));
    const attachmentSlots = attachments.map((a) => batch.add(a.data_sealed, ctx.attachment(a.id)));
    await batch.open(this.deps.sealer);
    const byEntry = new Map<string, ExportedEntry['attachments']>();
    for (const [k, a] of attachments.entries()) {
      const list = byEntry.get(a.entry_id) ?? [];
      list.push({
        id: a.id,
        fileName: a.file_name,
        size: a.size,
        data: batch.bytes(attachmentSlots[k]!),
      });
      byEntry.set(a.entry_id, list);
    }
    return allowed.map((r, k) => {
      const s = slots[k]!;
      return {
        id: r.id,
        folderId: r.folder_id,
        path: view.entryPath(r.folder_id, r.name),
        name: r.name,
        username: r.username,
        password: batch.text(s.password),
        url: r.url,
        notes: batch.text(s.notes),
        tags: parseTags(r.tags),
        customFields: batch.customFields(s.customFields),
        clientMeta: parseClientMeta(r.client_meta),
        expiresAt: isoOrNull(r.expires_at),
        createdAt: iso(r.created_at),
        modifiedAt: iso(r.modified_at),
        attachments: byEntry.get(r.id) ?? [],
      };
    });
  }

  // ================================================================ private folders

  /**
   * Creates a user's private folder under Private Folders, named after their login name ("/"
   * becomes "_"), and gives the user Full + Grant on it. One per user (409 on a second, even
   * while the first is in the Archive).
   */
  async createPrivateFolder(actor: Actor, userId: string): Promise<Folder> {
    if (!actor.isAdministrator && !actor.appPermissions.has('createPrivateFolders')) {
      throw forbidden('create private folders');
    }
    return this.deps.store.exclusive(TREE_LOCK, async (trx) => {
      const user = await this.repo.user(trx, userId);
      if (!user) throw notFound('The user');
      if (await this.repo.privateFolderOf(trx, userId)) {
        throw conflict('The user already has a private folder.');
      }
      const view = await this.view(trx, actor);
      const now = this.deps.clock.now();
      const row: FolderRow = {
        id: newUuid(),
        parent_id: this.privateRootId,
        name: privateFolderName(user.login_name, user.id),
        kind: 'private',
        notes: '',
        tags: '[]',
        custom_fields: '[]',
        client_meta: '{}',
        block_inheritance: 0,
        owner_user_id: user.id,
        expires_at: null,
        created_at: now,
        modified_at: now,
        archived_at: null,
      };
      await this.repo.insertFolder(trx, row);
      const after = view.with([row]);
      await this.record(trx, actor, 'Private Folder Created', after.path(row.id), {
        userId: user.id,
        loginName: user.login_name,
      });
      await this.deps.access.createGrant(trx, {
        nodeType: 'folder',
        nodeId: row.id,
        principalType: 'user',
        principalId: user.id,
        builtinLevel: 'full-grant',
        actor: { userId: actor.userId, loginName: actor.loginName, ip: actor.ip },
      });
      return folderDto(after, row);
    });
  }

  // ================================================================ paths

  /** Full path of a folder, `Root/A/B` ('' when it does not exist). No permission check. */
  folderPath(id: string): Promise<string> {
    return folderPathOf(this.deps.store.db, id);
  }

  /** Full path of an entry, `Root/A/Name` ('' when it does not exist). No permission check. */
  entryPath(id: string): Promise<string> {
    return entryPathOf(this.deps.store.db, id);
  }

  // ================================================================ internals

  /**
   * A write transaction, with the per-revision caches brought up to date first: reads inside a
   * transaction may use the caches but never fill them (the transaction could roll back).
   */
  private async transaction<T>(fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    await this.repo.warm(this.deps.store.db);
    return this.deps.store.transaction(fn);
  }

  private view(db: Kysely<Database>, actor: Actor): Promise<VaultView> {
    return VaultView.load(this.repo, db, actor, this.deps.clock.now());
  }

  private async record(
    db: Kysely<Database>,
    actor: Actor,
    event: AuditEventName,
    target: string,
    details: Record<string, unknown> = {},
    status: AuditInput['status'] = 'success',
  ): Promise<void> {
    await this.deps.audit.record(
      {
        event,
        status,
        actor: { userId: actor.userId, loginName: actor.loginName, ip: actor.ip },
        target,
        details,
      },
      // Outside a write transaction the recorder opens its own (the chain needs one).
      inWriteTransaction(db) ? db : undefined,
    );
  }

  /** A folder the caller may see (View Folders), or 404. */
  private visibleFolder(view: VaultView, id: string): FolderRow {
    const f = view.folder(id);
    if (!f || !view.canSeeFolder(id)) throw notFound('The folder');
    return f;
  }

  /** A folder the caller may see that is not in the Archive (a destination), or 404. */
  private liveFolder(view: VaultView, id: string, what: string): FolderRow {
    const f = view.folder(id);
    if (!f || !view.canSeeFolder(id) || view.folderInArchive(id)) throw notFound(what);
    return f;
  }

  /** The folder and its descendants that are not in the Archive on their own. */
  private liveSubtree(view: VaultView, id: string): string[] {
    return view.subtree(id).filter((fid) => fid === id || !view.folderInArchive(fid));
  }

  private visibleEntry(
    view: VaultView,
    row: EntryRow | undefined,
  ): { entry: EntryRow; perms: Perms } {
    if (!row || !view.folders.has(row.folder_id)) throw notFound('The entry');
    const perms = view.entryPerms(row.id, row.folder_id);
    if (!perms.has('viewEntryNames')) throw notFound('The entry');
    return { entry: row, perms };
  }

  private entryInArchive(view: VaultView, row: EntryRow): boolean {
    return row.archived_at !== null || view.folderInArchive(row.folder_id);
  }

  /**
   * An entry the caller may change: visible, not in the Archive, Modify Entries and View Entry
   * Contents (a change answers with the entry's details). Locks the row on PostgreSQL.
   */
  private async editableEntry(
    trx: Kysely<Database>,
    actor: Actor,
    id: string,
  ): Promise<{ view: VaultView; entry: EntryRow; perms: Perms }> {
    const row = await this.repo.entry(trx, id, true);
    const view = await this.view(trx, actor);
    const { entry, perms } = this.visibleEntry(view, row);
    if (this.entryInArchive(view, entry)) throw inArchive('entry');
    if (!perms.has('modifyEntries') || !perms.has('viewEntryContents')) {
      throw notAllowed('modify this entry');
    }
    return { view, entry, perms };
  }

  /**
   * Saves a new version: the previous state is kept, sealed, in `entry_versions` (with the time
   * and author of that version), and the entry row takes the new state.
   */
  private async save(
    trx: Kysely<Database>,
    actor: Actor,
    row: EntryRow,
    before: EntryState,
    after: EntryState,
  ): Promise<EntryRow> {
    const versionId = newUuid();
    await this.repo.insertVersion(trx, {
      id: versionId,
      entry_id: row.id,
      version: row.version,
      snapshot_sealed: this.deps.sealer.sealSecret(JSON.stringify(before), ctx.version(versionId)),
      created_at: row.modified_at,
      created_by: row.modified_by,
    });
    const patch = {
      name: after.name,
      username: after.username,
      url: after.url,
      tags: JSON.stringify(after.tags),
      ...sealEntry(this.deps.sealer, row.id, after),
      client_meta: JSON.stringify(after.clientMeta),
      expires_at: after.expiresAt,
      modified_at: this.deps.clock.now(),
      modified_by: actor.userId,
      version: row.version + 1,
    };
    await this.repo.updateEntry(trx, row.id, patch);
    return { ...row, ...patch };
  }

  /** One version's state: the current one from the entry row, an older one from its snapshot. */
  private async loadVersion(
    trx: Kysely<Database>,
    entry: EntryRow,
    version: number,
  ): Promise<{ state: EntryState; modifiedAt: number; modifiedBy: string | null }> {
    if (version === entry.version) {
      const atts = await this.repo.attachments(trx, entry.id);
      return {
        state: readState(this.deps.sealer, entry, atts),
        modifiedAt: entry.modified_at,
        modifiedBy: entry.modified_by,
      };
    }
    const v = await this.repo.version(trx, entry.id, version);
    if (!v) throw notFound('The version');
    const raw = JSON.parse(
      this.deps.sealer.openSecretText(v.snapshot_sealed, ctx.version(v.id)),
    ) as Partial<EntryState>;
    return {
      state: {
        name: raw.name ?? entry.name,
        username: raw.username ?? '',
        password: raw.password ?? '',
        url: raw.url ?? '',
        notes: raw.notes ?? '',
        tags: raw.tags ?? [],
        customFields: raw.customFields ?? [],
        clientMeta: raw.clientMeta ?? {},
        expiresAt: raw.expiresAt ?? null,
        attachmentIds: raw.attachmentIds ?? [],
      },
      modifiedAt: v.created_at,
      modifiedBy: v.created_by,
    };
  }

  private entryDto(
    row: EntryRow,
    path: string,
    perms: Perms,
    attachments: readonly AttachmentMeta[],
    known?: Pick<EntryState, 'notes' | 'customFields'>,
  ): Entry {
    const notes = known ? known.notes : openNotes(this.deps.sealer, row);
    const customFields = known ? known.customFields : openCustomFields(this.deps.sealer, row);
    return {
      id: row.id,
      folderId: row.folder_id,
      name: row.name,
      path,
      username: row.username,
      url: row.url,
      notes,
      tags: parseTags(row.tags),
      customFields: visibleCustomFields(customFields, perms.has('viewEntryPassword')),
      clientMeta: parseClientMeta(row.client_meta),
      hasPassword: row.password_sealed !== null,
      attachments: attachments.filter((a) => a.removed_at === null).map(attachmentInfo),
      expiresAt: isoOrNull(row.expires_at),
      createdAt: iso(row.created_at),
      modifiedAt: iso(row.modified_at),
      modifiedBy: row.modified_by,
      version: row.version,
      archivedAt: isoOrNull(row.archived_at),
      permissions: allowList(perms),
    };
  }
}

function inArchive(what: 'folder' | 'entry') {
  return conflict(`The ${what} is in the Archive; restore it first.`);
}

function folderHit(view: VaultView, f: FolderRow): SearchFolderHit {
  return { id: f.id, parentId: f.parent_id, name: f.name, path: view.path(f.id) };
}

/** A private folder is named after the user's login name (a name may not contain "/"). */
export function privateFolderName(loginName: string, userId: string): string {
  const name = loginName
    .replace(/\//g, '_')
    .replace(/\p{Cc}/gu, '')
    .trim()
    .slice(0, VAULT_LIMITS.nameMax)
    .trim();
  return name.length > 0 ? name : `user-${userId}`;
}
