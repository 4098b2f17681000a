import { readFileSync } from 'node:fs';
import { NIL_UUID, PLEASANT_OFFLINE_CLIENT_LABEL, type OfflinePackage } from '@strongroom/protocol';
import type { Services } from '../compose.js';
import type { Actor } from '../http/auth.js';
import type { GrantTarget } from '../access/service.js';
import { AppError, invalid } from '../shared/errors.js';
import {
  accessLevelOf,
  attachmentOf,
  attachmentWithData,
  commentPrompts,
  credentialNameOnly,
  credentialOf,
  folderOf,
  nestFolders,
  offlineCredentialOf,
  searchResultOf,
  userAccessOf,
  type CommentPrompts,
  type PleasantCredential,
  type PleasantFolder,
} from './models.js';
import {
  createEntryInput,
  createFolderInput,
  deleteAction,
  unwrapItem,
  updateEntryInput,
  updateFolderInput,
  userAccessInput,
} from './input.js';
import { estimateStrength } from './strength.js';
import { pleasantDate, refused } from './wire.js';
import type { PleasantApiVersion } from './url.js';

/**
 * The version Strongroom reports itself as (the server package's, read once at start-up), and
 * the Pleasant server version its API follows.
 */
export const PRODUCT_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
export const PLEASANT_COMPATIBLE_VERSION = '8.0.0.0';

/**
 * The Pleasant-compatible API over our own services (docs/pleasant-api.md): every call goes to
 * the vault, access, offline, client-configuration and settings services with the caller as the
 * actor, so the access checks, the validation and the audit records are those of the native
 * API. Nothing here decides who may do what; it maps requests and answers.
 */
export class PleasantAdapter {
  constructor(
    private readonly services: Pick<
      Services,
      'vault' | 'access' | 'offline' | 'clientConfig' | 'pleasantApi' | 'serverId'
    >,
  ) {}

  private get vault() {
    return this.services.vault;
  }

  private async prompts(actor: Actor): Promise<CommentPrompts> {
    return commentPrompts((await this.services.clientConfig.effectiveFor(actor)).settings);
  }

  get rootId(): string {
    return this.vault.rootId;
  }

  // ---------------------------------------------------------------- folders

  /**
   * A folder with what the caller may see below it, `depth` levels deep (0 = the folder and its
   * own credentials; undefined = everything). Credentials seen with View Entry Contents carry
   * their details (notes and custom fields decrypted in one batch); others their name only.
   */
  async folder(
    actor: Actor,
    id: string,
    version: PleasantApiVersion,
    depth?: number,
  ): Promise<PleasantFolder> {
    const [tree, prompts] = await Promise.all([
      this.vault.folderTree(actor, id),
      this.prompts(actor),
    ]);
    const max = depth ?? Number.POSITIVE_INFINITY;
    const level = new Map<string, number>([[id, 0]]);
    for (const f of tree.folders) {
      if (f.id === id) continue;
      const parent = f.parentId === null ? undefined : level.get(f.parentId);
      if (parent !== undefined && parent + 1 <= max) level.set(f.id, parent + 1);
    }
    const entries = tree.entries.filter((e) => level.has(e.folderId));
    const withContents = entries
      .filter((e) => e.permissions.includes('viewEntryContents'))
      .map((e) => e.id);
    const details = new Map(
      (await this.vault.entryDetails(actor, withContents)).map((e) => [e.id, e]),
    );
    const credentials: PleasantCredential[] = entries.map((e) => {
      const d = details.get(e.id);
      return d ? credentialOf(d, prompts, version) : credentialNameOnly(e, prompts, version);
    });
    const folders = tree.folders.filter((f) => level.has(f.id)).map((f) => folderOf(f, prompts));
    return nestFolders(folders, credentials);
  }

  async createFolder(actor: Actor, body: unknown): Promise<string> {
    return (await this.vault.createFolder(actor, createFolderInput(body))).id;
  }

  async updateFolder(actor: Actor, id: string, body: unknown): Promise<void> {
    const { fields, parentId } = updateFolderInput(unwrapItem(body), id);
    let move = parentId;
    if (move === NIL_UUID) {
      // Root's parent as Pleasant writes it: no move for Root, no such folder for anything else.
      if (id !== this.rootId) throw invalid('ParentId', 'No folder has the all-zero id.');
      move = undefined;
    }
    await this.vault.editFolder(actor, id, {
      fields,
      ...(move !== undefined ? { parentId: move } : {}),
    });
  }

  async deleteFolder(actor: Actor, id: string, body: unknown): Promise<void> {
    if (deleteAction(body) === 'delete') await this.vault.purgeFolder(actor, id);
    else await this.vault.archiveFolder(actor, id);
  }

  // ---------------------------------------------------------------- entries

  async entry(actor: Actor, id: string, version: PleasantApiVersion): Promise<PleasantCredential> {
    const [entry, prompts] = await Promise.all([
      this.vault.getEntry(actor, id),
      this.prompts(actor),
    ]);
    return credentialOf(entry, prompts, version);
  }

  async createEntry(actor: Actor, body: unknown): Promise<string> {
    return (await this.vault.createEntry(actor, createEntryInput(body))).id;
  }

  async updateEntry(actor: Actor, id: string, body: unknown): Promise<void> {
    // Pleasant's custom fields carry no protection flag: the vault keeps each as the entry's
    // current field of that name is, read in the transaction that saves the change.
    const { fields, folderId } = updateEntryInput(unwrapItem(body), id);
    await this.vault.editEntry(actor, id, {
      fields,
      ...(folderId !== undefined ? { folderId } : {}),
    });
  }

  async deleteEntry(actor: Actor, id: string, body: unknown): Promise<void> {
    if (deleteAction(body) === 'delete') await this.vault.purgeEntry(actor, id);
    else await this.vault.archiveEntry(actor, id);
  }

  /** The password (the vault audits every fetch, refused ones on visible entries too). */
  password(actor: Actor, id: string): Promise<string> {
    return this.vault.getPassword(actor, id);
  }

  /** Every current attachment with its bytes (each download audited by the vault). */
  async attachments(actor: Actor, id: string) {
    const { attachments } = await this.vault.listAttachments(actor, id);
    const out = [];
    for (const a of attachments) {
      out.push(attachmentWithData(await this.vault.getAttachment(actor, id, a.id)));
    }
    return out;
  }

  async attachment(actor: Actor, id: string, attachmentId: string) {
    return attachmentWithData(await this.vault.getAttachment(actor, id, attachmentId));
  }

  // ---------------------------------------------------------------- user access

  /** User access through this API is off unless an administrator turned it on. */
  private async userAccessAllowed(): Promise<void> {
    if (!(await this.services.pleasantApi.get()).userAccessEnabled) {
      throw refused(
        'User access cannot be read or changed through this API on this server: an administrator has not enabled it.',
      );
    }
  }

  async userAccess(actor: Actor, target: GrantTarget) {
    await this.userAccessAllowed();
    return (await this.services.access.listAccess(actor, target)).grants.map(userAccessOf);
  }

  async addUserAccess(actor: Actor, target: GrantTarget, body: unknown) {
    await this.userAccessAllowed();
    const input = userAccessInput(body);
    try {
      return userAccessOf(await this.services.access.addGrant(actor, target, input));
    } catch (err) {
      throw renameField(err, {
        '/expiresAt': 'AccessExpiry',
        '/accessLevelId': 'PermissionSetId',
        '/principalId': input.principalType === 'user' ? 'UserId' : 'RoleId',
      });
    }
  }

  async removeUserAccess(actor: Actor, target: GrantTarget, rowId: string): Promise<void> {
    await this.userAccessAllowed();
    await this.services.access.removeGrant(actor, target, rowId);
  }

  async accessLevels() {
    return (await this.services.access.listLevels()).map(accessLevelOf);
  }

  // ---------------------------------------------------------------- search and the rest

  async search(actor: Actor, text: string) {
    return searchResultOf(await this.vault.search(actor, text));
  }

  serverInfo() {
    return {
      ServerVersion: PLEASANT_COMPATIBLE_VERSION,
      ProductName: 'Strongroom',
      ProductVersion: PRODUCT_VERSION,
      ServerId: this.services.serverId,
      ApiVersions: ['v5', 'v6'],
    };
  }

  passwordStrength(password: string) {
    const s = estimateStrength(password);
    return { Score: s.score, Description: s.description };
  }

  /**
   * The offline package as Pleasant's JSON: made by the offline service (same eligibility, a
   * cache registered under the client label `pleasant-api`, one Offline Sync record per entry),
   * then shaped as `{Root, Attachments, Expiry}`.
   */
  async offlinePackage(actor: Actor, comment: string | undefined, version: PleasantApiVersion) {
    const { body } = await this.services.offline.makePackage(actor, {
      clientLabel: PLEASANT_OFFLINE_CLIENT_LABEL,
      ...(comment !== undefined ? { comment } : {}),
    });
    const pkg = JSON.parse(body.toString('utf8')) as OfflinePackage;
    const prompts = commentPrompts(pkg.clientSettings.settings);
    const folders: PleasantFolder[] = pkg.folders.map((f) => ({
      ...folderOf(
        { id: f.id, parentId: f.parentId, name: f.name, path: f.path, visible: true },
        prompts,
      ),
      HasViewEntryContentsAccess: true,
    }));
    const credentials = pkg.entries.map((e) => offlineCredentialOf(e, prompts, version));
    return {
      Root: nestFolders(folders, credentials),
      Attachments: pkg.entries.flatMap((e) =>
        e.attachments.map((a) => attachmentOf(e.id, a, a.dataBase64)),
      ),
      Expiry: pleasantDate(pkg.expiresAt),
    };
  }
}

/** A service's validation error with the field named as this API names it. */
function renameField(err: unknown, names: Record<string, string>): unknown {
  if (!(err instanceof AppError) || err.field === undefined) return err;
  const to = names[err.field];
  return to === undefined ? err : new AppError(err.code, err.message, { field: to });
}
