import { Type } from 'typebox';
import {
  AddAttachmentSchema,
  ArchiveListSchema,
  AttachmentDataSchema,
  AttachmentInfoSchema,
  AttachmentListSchema,
  CreateEntrySchema,
  CreateFolderSchema,
  EntryDestinationSchema,
  EntryHistorySchema,
  EntryLocationSchema,
  EntrySchema,
  EntryVersionSchema,
  FolderDestinationSchema,
  FolderSchema,
  FolderViewSchema,
  PasswordSchema,
  SearchQuerySchema,
  SearchResultSchema,
  UUID_PATTERN,
  UpdateEntrySchema,
  UpdateFolderSchema,
  VaultTreeSchema,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import { caller } from '../http/request.js';

const Id = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });
const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
const UserParams = Type.Object({ userId: Id }, { additionalProperties: false });
const AttachmentParams = Type.Object({ id: Id, attachmentId: Id }, { additionalProperties: false });
const VersionParams = Type.Object(
  { id: Id, version: Type.String({ pattern: '^[1-9][0-9]{0,8}$' }) },
  { additionalProperties: false },
);
const NoContent = Type.Null({ description: 'No content' });

/**
 * Large listings (a 10,000-entry tree) are serialised with JSON.stringify: the schema-compiled
 * serialiser is several times slower on them. The service builds these objects field by field,
 * so nothing beyond the documented schema can slip out.
 */
const plainJson = () => (data: unknown) => JSON.stringify(data);

/**
 * The vault API (spec §1): folders, entries, attachments, history, tree, search, the Archive and
 * private folders. Every route needs a logged-in user; vault permissions are per node and are
 * checked by the vault service against the caller's effective permissions.
 */
export async function registerVaultRoutes(app: App, services: Services): Promise<void> {
  const vault = services.vault;
  const folders = ['vault: folders'];
  const entries = ['vault: entries'];

  // ---------------------------------------------------------------- tree, search, archive

  app.get(
    `${API_PREFIX}/vault/tree`,
    {
      config: { auth: 'user' },
      serializerCompiler: plainJson,
      schema: {
        summary: 'The whole tree the caller may see, in one response (flat, depth-first)',
        description:
          'Answers with an ETag; send it back in If-None-Match to get 304 while nothing you can see has changed.',
        tags: ['vault'],
        response: { 200: VaultTreeSchema, 304: Type.Null({ description: 'Not modified' }) },
      },
    },
    async (req, reply) => {
      const { etag, body } = await vault.treeResponse(caller(req));
      reply.header('etag', etag);
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      // Already serialised (and cached): sent as it is.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    `${API_PREFIX}/vault/search`,
    {
      config: { auth: 'user' },
      serializerCompiler: plainJson,
      schema: {
        summary: 'Search names, usernames, URLs, tags and notes of visible entries, and folders',
        tags: ['vault'],
        querystring: SearchQuerySchema,
        response: { 200: SearchResultSchema },
      },
    },
    async (req) => vault.search(caller(req), req.query.q),
  );

  app.get(
    `${API_PREFIX}/vault/archive`,
    {
      config: { auth: 'user' },
      serializerCompiler: plainJson,
      schema: {
        summary: 'Folders and entries in the Archive (top level) that the caller may see',
        tags: ['vault'],
        response: { 200: ArchiveListSchema },
      },
    },
    async (req) => vault.archive(caller(req)),
  );

  // ---------------------------------------------------------------- folders

  app.post(
    `${API_PREFIX}/folders`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Create a folder (Add Folders on the parent)',
        tags: folders,
        body: CreateFolderSchema,
        response: { 201: FolderSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await vault.createFolder(caller(req), req.body)),
  );

  app.get(
    `${API_PREFIX}/folders/:id`,
    {
      config: { auth: 'user' },
      serializerCompiler: plainJson,
      schema: {
        summary: 'A folder with its visible sub-folders and entries',
        tags: folders,
        params: IdParams,
        response: { 200: FolderViewSchema },
      },
    },
    async (req) => vault.getFolder(caller(req), req.params.id),
  );

  app.patch(
    `${API_PREFIX}/folders/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Rename a folder or edit its notes, tags, custom fields, metadata, expiry',
        tags: folders,
        params: IdParams,
        body: UpdateFolderSchema,
        response: { 200: FolderSchema },
      },
    },
    async (req) => vault.updateFolder(caller(req), req.params.id, req.body),
  );

  app.post(
    `${API_PREFIX}/folders/:id/move`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Move a folder (Move Folders on the source and the destination)',
        tags: folders,
        params: IdParams,
        body: FolderDestinationSchema,
        response: { 200: FolderSchema },
      },
    },
    async (req) => vault.moveFolder(caller(req), req.params.id, req.body.parentId),
  );

  app.post(
    `${API_PREFIX}/folders/:id/archive`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Move a folder and everything in it to the Archive',
        tags: folders,
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await vault.archiveFolder(caller(req), req.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    `${API_PREFIX}/folders/:id/restore`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Restore a folder from the Archive into a chosen folder',
        tags: folders,
        params: IdParams,
        body: FolderDestinationSchema,
        response: { 200: FolderSchema },
      },
    },
    async (req) => vault.restoreFolder(caller(req), req.params.id, req.body.parentId),
  );

  app.delete(
    `${API_PREFIX}/folders/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Delete a folder in the Archive permanently, with everything in it',
        tags: folders,
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await vault.deleteFolder(caller(req), req.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    `${API_PREFIX}/users/:userId/private-folder`,
    {
      config: { auth: { app: 'createPrivateFolders' } },
      schema: {
        summary: 'Create the private folder of a user (they get Full + Grant on it)',
        tags: folders,
        params: UserParams,
        response: { 201: FolderSchema },
      },
    },
    async (req, reply) =>
      reply.status(201).send(await vault.createPrivateFolder(caller(req), req.params.userId)),
  );

  // ---------------------------------------------------------------- entries

  app.post(
    `${API_PREFIX}/entries`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Create an entry (Add Entries on the folder)',
        tags: entries,
        body: CreateEntrySchema,
        response: { 201: EntrySchema },
      },
    },
    async (req, reply) => reply.status(201).send(await vault.createEntry(caller(req), req.body)),
  );

  app.get(
    `${API_PREFIX}/entries/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: "An entry's details (View Entry Contents); never the password",
        tags: entries,
        params: IdParams,
        response: { 200: EntrySchema },
      },
    },
    async (req) => vault.getEntry(caller(req), req.params.id),
  );

  app.patch(
    `${API_PREFIX}/entries/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Change fields of an entry (Modify Entries); saves a new version',
        tags: entries,
        params: IdParams,
        body: UpdateEntrySchema,
        response: { 200: EntrySchema },
      },
    },
    async (req) => vault.updateEntry(caller(req), req.params.id, req.body),
  );

  app.get(
    `${API_PREFIX}/entries/:id/password`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Fetch the password (View Entry Password); every call is audited',
        tags: entries,
        params: IdParams,
        response: { 200: PasswordSchema },
      },
    },
    async (req) => ({ password: await vault.getPassword(caller(req), req.params.id) }),
  );

  app.post(
    `${API_PREFIX}/entries/:id/move`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Move an entry (Move Entries on the source and the destination)',
        tags: entries,
        params: IdParams,
        body: EntryDestinationSchema,
        response: { 200: EntryLocationSchema },
      },
    },
    async (req) => vault.moveEntry(caller(req), req.params.id, req.body.folderId),
  );

  app.post(
    `${API_PREFIX}/entries/:id/archive`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Move an entry to the Archive',
        tags: entries,
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await vault.archiveEntry(caller(req), req.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    `${API_PREFIX}/entries/:id/restore`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Restore an entry from the Archive into a chosen folder',
        tags: entries,
        params: IdParams,
        body: EntryDestinationSchema,
        response: { 200: EntryLocationSchema },
      },
    },
    async (req) => vault.restoreEntry(caller(req), req.params.id, req.body.folderId),
  );

  app.delete(
    `${API_PREFIX}/entries/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Delete an entry in the Archive permanently',
        tags: entries,
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await vault.deleteEntry(caller(req), req.params.id);
      return reply.status(204).send();
    },
  );

  // ---------------------------------------------------------------- attachments

  app.get(
    `${API_PREFIX}/entries/:id/attachments`,
    {
      config: { auth: 'user' },
      schema: {
        summary: "List an entry's attachments (metadata)",
        tags: entries,
        params: IdParams,
        response: { 200: AttachmentListSchema },
      },
    },
    async (req) => vault.listAttachments(caller(req), req.params.id),
  );

  app.post(
    `${API_PREFIX}/entries/:id/attachments`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Add an attachment (base64; limited by the server attachment limit)',
        tags: entries,
        params: IdParams,
        body: AddAttachmentSchema,
        response: { 201: AttachmentInfoSchema },
      },
    },
    async (req, reply) =>
      reply.status(201).send(await vault.addAttachment(caller(req), req.params.id, req.body)),
  );

  app.get(
    `${API_PREFIX}/entries/:id/attachments/:attachmentId`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Download an attachment (base64); audited',
        tags: entries,
        params: AttachmentParams,
        response: { 200: AttachmentDataSchema },
      },
    },
    async (req) => vault.getAttachment(caller(req), req.params.id, req.params.attachmentId),
  );

  app.delete(
    `${API_PREFIX}/entries/:id/attachments/:attachmentId`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Remove an attachment (older versions keep it)',
        tags: entries,
        params: AttachmentParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await vault.removeAttachment(caller(req), req.params.id, req.params.attachmentId);
      return reply.status(204).send();
    },
  );

  // ---------------------------------------------------------------- history

  app.get(
    `${API_PREFIX}/entries/:id/history`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Versions of an entry (View Entry History); audited',
        tags: entries,
        params: IdParams,
        response: { 200: EntryHistorySchema },
      },
    },
    async (req) => vault.history(caller(req), req.params.id),
  );

  app.get(
    `${API_PREFIX}/entries/:id/history/:version`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'The fields of one version (no password); audited',
        tags: entries,
        params: VersionParams,
        response: { 200: EntryVersionSchema },
      },
    },
    async (req) => vault.historyVersion(caller(req), req.params.id, Number(req.params.version)),
  );

  app.get(
    `${API_PREFIX}/entries/:id/history/:version/password`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'The password of one version (View Entry History and Password); audited',
        tags: entries,
        params: VersionParams,
        response: { 200: PasswordSchema },
      },
    },
    async (req) => ({
      password: await vault.historyPassword(caller(req), req.params.id, Number(req.params.version)),
    }),
  );

  app.post(
    `${API_PREFIX}/entries/:id/history/:version/restore`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Restore an old version (Modify Entries); saves a new version',
        tags: entries,
        params: VersionParams,
        response: { 200: EntrySchema },
      },
    },
    async (req) => vault.restoreVersion(caller(req), req.params.id, Number(req.params.version)),
  );
}
