import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  MyOfflineCacheListQuerySchema,
  OfflineCacheListQuerySchema,
  OfflineCacheListSchema,
  OfflineCacheSchema,
  OfflineCacheStatusSchema,
  OfflineJournalResultSchema,
  OfflineJournalUploadSchema,
  OfflinePackageRequestSchema,
  OfflinePackageSchema,
  RevisionSchema,
  RevokeOfflineCacheSchema,
  UUID_PATTERN,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import { invalid } from '../shared/errors.js';
import { caller } from '../http/request.js';

const IdParams = Type.Object(
  { id: Type.String({ pattern: UUID_PATTERN, maxLength: 36 }) },
  { additionalProperties: false },
);
/**
 * A body that may be left out: absent or the schema's object. (The schema admits null because
 * Fastify validates an absent body as null; `refuseNull` turns away a JSON `null` sent on purpose.)
 */
const OptionalBody = <T extends ReturnType<typeof Type.Object>>(schema: T) =>
  Type.Union([schema, Type.Null()]);
async function refuseNull(req: FastifyRequest): Promise<void> {
  if (req.body === null) throw invalid('/', 'The body must be a JSON object (or absent).');
}
const NoContent = Type.Null({ description: 'No content' });
const MANAGE = { app: 'manageOfflineCaches' } as const;
const TAGS = ['offline'];

/** Offline mode, server side (offline-mode §4): package, revision, inventory, journal. */
export async function registerOfflineRoutes(app: App, services: Services): Promise<void> {
  const offline = services.offline;

  app.post(
    `${API_PREFIX}/offline/package`,
    {
      config: { auth: 'user' },
      schema: {
        summary:
          'Make an offline package: every entry you may take offline, in full (one Offline Sync audit record each), registered as a new cache',
        tags: TAGS,
        body: OptionalBody(OfflinePackageRequestSchema),
        response: { 200: OfflinePackageSchema },
      },
      preValidation: refuseNull,
    },
    async (req, reply) => {
      // Serialised by the service a chunk at a time (the schema above documents it).
      const { body } = await offline.makePackage(caller(req), req.body ?? {});
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    `${API_PREFIX}/me/revision`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Your revision: changes when something you can see or take offline changes',
        tags: TAGS,
        response: { 200: RevisionSchema },
      },
    },
    async (req) => ({ revision: await offline.revision(caller(req)) }),
  );

  app.get(
    `${API_PREFIX}/me/offline/caches`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Your offline caches, newest first',
        tags: TAGS,
        querystring: MyOfflineCacheListQuerySchema,
        response: { 200: OfflineCacheListSchema },
      },
    },
    async (req) =>
      offline.list({
        userId: caller(req).userId,
        status: req.query.status,
        limit: Number(req.query.limit ?? 100),
        offset: Number(req.query.offset ?? 0),
      }),
  );

  app.get(
    `${API_PREFIX}/offline/caches`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Every offline cache the server packaged, newest first (filters: user, status)',
        tags: TAGS,
        querystring: OfflineCacheListQuerySchema,
        response: { 200: OfflineCacheListSchema },
      },
    },
    async (req) =>
      offline.list({
        userId: req.query.userId,
        status: req.query.status,
        limit: Number(req.query.limit ?? 100),
        offset: Number(req.query.offset ?? 0),
      }),
  );

  app.post(
    `${API_PREFIX}/offline/caches/:id/revoke`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Revoke a cache: its client deletes it the next time it reaches the server',
        tags: TAGS,
        params: IdParams,
        body: OptionalBody(RevokeOfflineCacheSchema),
        response: { 200: OfflineCacheSchema },
      },
      preValidation: refuseNull,
    },
    async (req) => offline.revoke(caller(req), req.params.id, req.body?.reason),
  );

  app.get(
    `${API_PREFIX}/offline/caches/:id/status`,
    {
      config: { auth: 'user' },
      schema: {
        summary:
          'Status of your cache: revoked or not, expiry, and whether it is stale (owner only)',
        tags: TAGS,
        params: IdParams,
        response: { 200: OfflineCacheStatusSchema },
      },
    },
    async (req) => offline.status(caller(req), req.params.id),
  );

  app.delete(
    `${API_PREFIX}/offline/caches/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Your client cleared this cache (owner only)',
        tags: TAGS,
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await offline.clear(caller(req), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    `${API_PREFIX}/offline/caches/:id/journal`,
    {
      config: { auth: 'user' },
      schema: {
        summary:
          'Upload the offline journal of your cache: one Offline Password Viewed record per new record (idempotent)',
        tags: TAGS,
        params: IdParams,
        body: OfflineJournalUploadSchema,
        response: { 200: OfflineJournalResultSchema },
      },
    },
    async (req) => offline.uploadJournal(caller(req), req.params.id, req.body.records),
  );
}
