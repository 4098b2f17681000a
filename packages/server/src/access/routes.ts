import { Type } from 'typebox';
import {
  AccessGrantSchema,
  AccessLevelListSchema,
  AccessLevelSchema,
  BlockInheritanceResultSchema,
  BlockInheritanceSchema,
  CreateAccessLevelSchema,
  CreateGrantSchema,
  DeleteAccessLevelQuerySchema,
  NodeAccessSchema,
  UUID_PATTERN,
  UpdateAccessLevelSchema,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import type { NodeType } from './service.js';
import { caller } from '../http/request.js';

const Id = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });
const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
const GrantParams = Type.Object({ id: Id, grantId: Id }, { additionalProperties: false });
const NoContent = Type.Null({ description: 'No content' });

/** Access levels, user access on folders and entries, block inheritance (spec §3). */
export async function registerAccessRoutes(app: App, services: Services): Promise<void> {
  const access = services.access;

  app.get(
    `${API_PREFIX}/access-levels`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'List access levels (built-in first)',
        tags: ['access'],
        response: { 200: AccessLevelListSchema },
      },
    },
    async () => ({ levels: await access.listLevels() }),
  );

  app.get(
    `${API_PREFIX}/access-levels/:id`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Get one access level',
        tags: ['access'],
        params: IdParams,
        response: { 200: AccessLevelSchema },
      },
    },
    async (req) => access.getLevel(req.params.id),
  );

  app.post(
    `${API_PREFIX}/access-levels`,
    {
      config: { auth: { app: 'manageAccessLevels' } },
      schema: {
        summary: 'Create a custom access level',
        tags: ['access'],
        body: CreateAccessLevelSchema,
        response: { 201: AccessLevelSchema },
      },
    },
    async (req, reply) => {
      const level = await access.createLevel(caller(req), req.body);
      return reply.status(201).send(level);
    },
  );

  app.patch(
    `${API_PREFIX}/access-levels/:id`,
    {
      config: { auth: { app: 'manageAccessLevels' } },
      schema: {
        summary: 'Edit a custom access level (built-in levels cannot be edited)',
        tags: ['access'],
        params: IdParams,
        body: UpdateAccessLevelSchema,
        response: { 200: AccessLevelSchema },
      },
    },
    async (req) => access.updateLevel(caller(req), req.params.id, req.body),
  );

  app.delete(
    `${API_PREFIX}/access-levels/:id`,
    {
      config: { auth: { app: 'manageAccessLevels' } },
      schema: {
        summary:
          'Delete a custom access level; when it is in use, replaceWith names the level that takes over its grants',
        tags: ['access'],
        params: IdParams,
        querystring: DeleteAccessLevelQuerySchema,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await access.deleteLevel(caller(req), req.params.id, req.query.replaceWith);
      return reply.status(204).send();
    },
  );

  for (const nodeType of ['folder', 'entry'] as const satisfies readonly NodeType[]) {
    const base = `${API_PREFIX}/${nodeType === 'folder' ? 'folders' : 'entries'}/:id/access`;
    const label = nodeType === 'folder' ? 'a folder' : 'an entry';

    app.get(
      base,
      {
        config: { auth: 'user' },
        schema: {
          summary: `Who has access to ${label}: its own grants and those inherited (needs View Access)`,
          tags: ['access'],
          params: IdParams,
          response: { 200: NodeAccessSchema },
        },
      },
      async (req) => access.listAccess(caller(req), { nodeType, nodeId: req.params.id }),
    );

    app.post(
      base,
      {
        config: { auth: 'user' },
        schema: {
          summary: `Grant a user or role an access level on ${label}`,
          tags: ['access'],
          params: IdParams,
          body: CreateGrantSchema,
          response: { 201: AccessGrantSchema },
        },
      },
      async (req, reply) => {
        const grant = await access.addGrant(
          caller(req),
          { nodeType, nodeId: req.params.id },
          req.body,
        );
        return reply.status(201).send(grant);
      },
    );

    app.delete(
      `${base}/:grantId`,
      {
        config: { auth: 'user' },
        schema: {
          summary: `Remove a grant made on ${label} (inherited grants are removed where they were made)`,
          tags: ['access'],
          params: GrantParams,
          response: { 204: NoContent },
        },
      },
      async (req, reply) => {
        await access.removeGrant(
          caller(req),
          { nodeType, nodeId: req.params.id },
          req.params.grantId,
        );
        return reply.status(204).send();
      },
    );
  }

  app.put(
    `${API_PREFIX}/folders/:id/block-inheritance`,
    {
      config: { auth: 'user' },
      schema: {
        summary: 'Block or unblock access inherited from above (needs Set Block Inheritance)',
        tags: ['access'],
        params: IdParams,
        body: BlockInheritanceSchema,
        response: { 200: BlockInheritanceResultSchema },
      },
    },
    async (req) => access.setBlockInheritance(caller(req), req.params.id, req.body.block),
  );
}
