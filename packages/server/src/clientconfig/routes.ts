import { Type } from 'typebox';
import {
  ClientConfigRuleListSchema,
  ClientConfigRuleSchema,
  CreateClientConfigRuleSchema,
  EffectiveClientConfigSchema,
  ReorderClientConfigRulesSchema,
  UUID_PATTERN,
  UpdateClientConfigRuleSchema,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import { caller } from '../http/request.js';

const IdParams = Type.Object(
  { id: Type.String({ pattern: UUID_PATTERN, maxLength: 36 }) },
  { additionalProperties: false },
);
const NoContent = Type.Null({ description: 'No content' });
const MANAGE = { app: 'manageClientConfiguration' } as const;

/** Client configuration rules and each user's effective client settings (spec §5). */
export async function registerClientConfigRoutes(app: App, services: Services): Promise<void> {
  const cc = services.clientConfig;

  app.get(
    `${API_PREFIX}/client-config/effective`,
    {
      config: { auth: 'user' },
      schema: {
        summary: "The caller's effective client settings and the rule they come from",
        tags: ['client-config'],
        response: { 200: EffectiveClientConfigSchema },
      },
    },
    async (req) => cc.effectiveFor(caller(req)),
  );

  app.get(
    `${API_PREFIX}/client-config/rules`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'List client configuration rules (Default Rule, role rules in order, user rules)',
        tags: ['client-config'],
        response: { 200: ClientConfigRuleListSchema },
      },
    },
    async () => ({ rules: await cc.list() }),
  );

  app.post(
    `${API_PREFIX}/client-config/rules`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Create a rule for a user or a role (role rules go last in the order)',
        tags: ['client-config'],
        body: CreateClientConfigRuleSchema,
        response: { 201: ClientConfigRuleSchema },
      },
    },
    async (req, reply) => reply.status(201).send(await cc.create(caller(req), req.body)),
  );

  app.put(
    `${API_PREFIX}/client-config/rules/order`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Set the order of role rules (the full list of role rule ids)',
        tags: ['client-config'],
        body: ReorderClientConfigRulesSchema,
        response: { 200: ClientConfigRuleListSchema },
      },
    },
    async (req) => ({ rules: await cc.reorder(caller(req), req.body.ruleIds) }),
  );

  app.get(
    `${API_PREFIX}/client-config/rules/:id`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Get one client configuration rule',
        tags: ['client-config'],
        params: IdParams,
        response: { 200: ClientConfigRuleSchema },
      },
    },
    async (req) => cc.get(req.params.id),
  );

  app.patch(
    `${API_PREFIX}/client-config/rules/:id`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Change a rule: name, principal (not the Default Rule) or settings',
        tags: ['client-config'],
        params: IdParams,
        body: UpdateClientConfigRuleSchema,
        response: { 200: ClientConfigRuleSchema },
      },
    },
    async (req) => cc.update(caller(req), req.params.id, req.body),
  );

  app.delete(
    `${API_PREFIX}/client-config/rules/:id`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Delete a rule (never the Default Rule)',
        tags: ['client-config'],
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await cc.delete(caller(req), req.params.id);
      return reply.status(204).send(null);
    },
  );
}
