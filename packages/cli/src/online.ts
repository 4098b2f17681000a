import type {
  AttachmentData,
  EffectiveClientConfig,
  Entry,
  PasswordResponse,
  SearchResult,
  VaultTree,
} from '@strongroom/protocol';
import type { Api } from './http.js';
import type { EntryDetail, SearchHits, Tree, VaultSource } from './vault.js';

/** The vault through the native API. */
export class OnlineSource implements VaultSource {
  readonly kind = 'server' as const;
  private treeCache: Tree | null = null;
  constructor(private readonly api: Api) {}

  async tree(): Promise<Tree> {
    if (this.treeCache) return this.treeCache;
    const t = await this.api.get<VaultTree>('/vault/tree');
    const folderPath = new Map(t.folders.map((f) => [f.id, f.path]));
    this.treeCache = {
      folders: t.folders.map((f) => ({
        id: f.id,
        parentId: f.parentId,
        name: f.name,
        path: f.path,
      })),
      entries: t.entries.map((e) => ({
        id: e.id,
        folderId: e.folderId,
        name: e.name,
        path: `${folderPath.get(e.folderId) ?? '?'}/${e.name}`,
        ...(e.username !== undefined ? { username: e.username } : {}),
        ...(e.url !== undefined ? { url: e.url } : {}),
        ...(e.tags !== undefined ? { tags: e.tags } : {}),
      })),
    };
    return this.treeCache;
  }

  async entry(id: string): Promise<EntryDetail> {
    const e = await this.api.get<Entry>(`/entries/${id}`);
    return {
      id: e.id,
      folderId: e.folderId,
      name: e.name,
      path: e.path,
      username: e.username,
      url: e.url,
      notes: e.notes,
      tags: e.tags,
      customFields: e.customFields,
      attachments: e.attachments.map((a) => ({ id: a.id, fileName: a.fileName, size: a.size })),
      hasPassword: e.hasPassword,
      expiresAt: e.expiresAt,
      createdAt: e.createdAt,
      modifiedAt: e.modifiedAt,
    };
  }

  /** One fetch (one audit record) per entry per command, even with --reveal and --copy. */
  private readonly passwords = new Map<string, Promise<string>>();
  password(id: string): Promise<string> {
    let p = this.passwords.get(id);
    if (!p) {
      p = this.api.get<PasswordResponse>(`/entries/${id}/password`).then((r) => r.password);
      this.passwords.set(id, p);
    }
    return p;
  }

  async search(text: string): Promise<SearchHits> {
    const r = await this.api.get<SearchResult>(`/vault/search?q=${encodeURIComponent(text)}`);
    return {
      entries: r.entries.map((e) => ({
        id: e.id,
        folderId: e.folderId,
        name: e.name,
        path: `${e.folderPath}/${e.name}`,
        ...(e.username !== undefined ? { username: e.username } : {}),
        ...(e.url !== undefined ? { url: e.url } : {}),
        ...(e.tags !== undefined ? { tags: e.tags } : {}),
        matched: e.matched,
      })),
      folders: r.folders.map((f) => ({
        id: f.id,
        parentId: f.parentId,
        name: f.name,
        path: f.path,
      })),
      truncated: r.truncated,
    };
  }

  async clipboardSeconds(): Promise<number> {
    return (await this.settings()).settings.clipboardClearSeconds;
  }

  async attachment(entryId: string, attachmentId: string): Promise<Uint8Array> {
    const a = await this.api.get<AttachmentData>(`/entries/${entryId}/attachments/${attachmentId}`);
    return new Uint8Array(Buffer.from(a.data, 'base64'));
  }

  settings(): Promise<EffectiveClientConfig> {
    return this.api.get<EffectiveClientConfig>('/client-config/effective');
  }
}
