import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import {
  CreatePolicySchema,
  EffectivePolicySchema,
  IdSchema,
  PolicyAssignmentSchema,
  PolicyListSchema,
  PolicySchema,
  ReorderPoliciesSchema,
  UpdatePolicySchema,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import { auditActor } from '../http/auth.js';
import { caller } from '../http/request.js';

const IdParams = Type.Object({ id: IdSchema }, { additionalProperties: false });
const NoContent = Type.Null({ description: 'No content' });
const MANAGE = { app: 'managePolicies' } as const;
const TAGS = ['policies'];

const who = (req: FastifyRequest) => auditActor(caller(req), req.ip);

/** Policies, their order and assignments, and each user's effective policy (spec §4). */
export async function registerPolicyRoutes(app: App, services: Services): Promise<void> {
  const policies = services.policies;

  app.get(
    `${API_PREFIX}/me/policy`,
    {
      // 'session': a user who must change their password or enrol two-factor reads the rules too.
      config: { auth: 'session' },
      schema: {
        summary:
          "The caller's effective policy (password requirements, lockout, timeouts, two-factor)",
        tags: TAGS,
        response: { 200: EffectivePolicySchema },
      },
    },
    async (req) => policies.effectiveFor(caller(req).userId, caller(req).roleIds),
  );

  app.get(
    `${API_PREFIX}/policies`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'List policies (the Default Policy first, then the others in order)',
        tags: TAGS,
        response: { 200: PolicyListSchema },
      },
    },
    async () => ({ policies: await policies.list() }),
  );

  app.post(
    `${API_PREFIX}/policies`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Create a policy (settings left out get the defaults; it goes last in the order)',
        tags: TAGS,
        body: CreatePolicySchema,
        response: { 201: PolicySchema },
      },
    },
    async (req, reply) => reply.status(201).send(await policies.create(who(req), req.body)),
  );

  app.put(
    `${API_PREFIX}/policies/order`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Set the order of policies (every policy but the Default Policy, first to last)',
        tags: TAGS,
        body: ReorderPoliciesSchema,
        response: { 200: PolicyListSchema },
      },
    },
    async (req) => ({ policies: await policies.reorder(who(req), req.body.policyIds) }),
  );

  app.get(
    `${API_PREFIX}/policies/:id`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Get a policy',
        tags: TAGS,
        params: IdParams,
        response: { 200: PolicySchema },
      },
    },
    async (req) => policies.get(req.params.id),
  );

  app.patch(
    `${API_PREFIX}/policies/:id`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Rename a policy or change settings (nested settings merge field by field)',
        tags: TAGS,
        params: IdParams,
        body: UpdatePolicySchema,
        response: { 200: PolicySchema },
      },
    },
    async (req) => policies.update(who(req), req.params.id, req.body),
  );

  app.delete(
    `${API_PREFIX}/policies/:id`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Delete a policy (never the Default Policy); its users and roles fall back',
        tags: TAGS,
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await policies.delete(who(req), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    `${API_PREFIX}/users/:id/policy`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'The effective policy of a user and where it comes from',
        tags: TAGS,
        params: IdParams,
        response: { 200: EffectivePolicySchema },
      },
    },
    async (req) => policies.effectiveForUserId(req.params.id),
  );

  app.put(
    `${API_PREFIX}/users/:id/policy`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: "Assign a policy to a user (null: none); answers the user's effective policy",
        tags: TAGS,
        params: IdParams,
        body: PolicyAssignmentSchema,
        response: { 200: EffectivePolicySchema },
      },
    },
    async (req) => policies.setUserPolicy(who(req), req.params.id, req.body.policyId),
  );

  app.put(
    `${API_PREFIX}/roles/:id/policy`,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Assign a policy to a role (one per role; null: none)',
        tags: TAGS,
        params: IdParams,
        body: PolicyAssignmentSchema,
        response: { 200: PolicyAssignmentSchema },
      },
    },
    async (req) => policies.setRolePolicy(who(req), req.params.id, req.body.policyId),
  );
}
