import { Type } from 'typebox';
import {
  ChangePasswordRequest,
  CreateRoleRequest,
  CreateUserRequest,
  IdSchema,
  LoginRequest,
  LoginResponse,
  MeResponse,
  ResetPasswordRequest,
  RoleList,
  RoleView,
  SetRolePermissionsRequest,
  UpdateRoleRequest,
  UpdateUserRequest,
  UserList,
  UserListQuery,
  UserView,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import { auditActor, type Actor } from '../http/auth.js';
import { identityOf } from './identity.js';
import { registerTwoFactorRoutes } from './two-factor-routes.js';
import { caller, noBody } from '../http/request.js';

const IdParams = Type.Object({ id: IdSchema }, { additionalProperties: false });
const MemberParams = Type.Object(
  { id: IdSchema, userId: IdSchema },
  { additionalProperties: false },
);
const SubRoleParams = Type.Object(
  { id: IdSchema, childId: IdSchema },
  { additionalProperties: false },
);
const NoContent = Type.Null();

/** Login, the caller, users and roles (spec §2, §7). */
export async function registerUserRoutes(app: App, services: Services): Promise<void> {
  const { users, roles, auth } = identityOf(services);
  const MANAGE_USERS = { app: 'manageUsers' } as const;
  const MANAGE_ROLES = { app: 'manageRoles' } as const;
  await registerTwoFactorRoutes(app, services);

  // ---- session ----

  app.post(
    `${API_PREFIX}/auth/login`,
    {
      config: { auth: 'public' },
      schema: {
        summary: 'Log in with a login name and password; returns a bearer token',
        tags: ['auth'],
        security: [],
        body: LoginRequest,
        response: { 200: LoginResponse },
      },
    },
    async (req) => auth.login(req.body, req.ip),
  );

  app.post(
    `${API_PREFIX}/auth/logout`,
    {
      preValidation: noBody,
      config: { auth: 'session' },
      schema: {
        summary: 'End the current session',
        tags: ['auth'],
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await auth.logout(caller(req));
      return reply.status(204).send();
    },
  );

  app.get(
    `${API_PREFIX}/me`,
    {
      config: { auth: 'session' },
      schema: {
        summary: 'The caller: profile, effective roles and application permissions',
        tags: ['auth'],
        response: { 200: MeResponse },
      },
    },
    async (req) => auth.me(caller(req)),
  );

  app.post(
    `${API_PREFIX}/me/password`,
    {
      config: { auth: 'session' },
      schema: {
        summary: 'Change your own password (ends your other sessions)',
        tags: ['auth'],
        body: ChangePasswordRequest,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await auth.changePassword(caller(req), req.body.currentPassword, req.body.newPassword);
      return reply.status(204).send();
    },
  );

  // ---- users ----

  app.get(
    `${API_PREFIX}/users`,
    {
      config: { auth: MANAGE_USERS },
      schema: {
        summary: 'List users (paged; q filters login and display names)',
        tags: ['users'],
        querystring: UserListQuery,
        response: { 200: UserList },
      },
    },
    async (req) =>
      users.list({
        limit: Number(req.query.limit ?? 100),
        offset: Number(req.query.offset ?? 0),
        q: req.query.q,
      }),
  );

  app.post(
    `${API_PREFIX}/users`,
    {
      config: { auth: MANAGE_USERS },
      schema: {
        summary: 'Create a user',
        tags: ['users'],
        body: CreateUserRequest,
        response: { 201: UserView },
      },
    },
    async (req, reply) => {
      const user = await users.create(auditActor(caller(req), req.ip), req.body);
      return reply.status(201).send(user);
    },
  );

  app.get(
    `${API_PREFIX}/users/:id`,
    {
      config: { auth: MANAGE_USERS },
      schema: {
        summary: 'Get a user',
        tags: ['users'],
        params: IdParams,
        response: { 200: UserView },
      },
    },
    async (req) => users.get(req.params.id),
  );

  app.patch(
    `${API_PREFIX}/users/:id`,
    {
      config: { auth: MANAGE_USERS },
      schema: {
        summary: "Change a user's display name or email",
        tags: ['users'],
        params: IdParams,
        body: UpdateUserRequest,
        response: { 200: UserView },
      },
    },
    async (req) => users.update(auditActor(caller(req), req.ip), req.params.id, req.body),
  );

  app.delete(
    `${API_PREFIX}/users/:id`,
    {
      preValidation: noBody,
      config: { auth: MANAGE_USERS },
      schema: {
        summary: 'Delete a user (not yourself, not the last administrator)',
        tags: ['users'],
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await users.delete(auditActor(caller(req), req.ip), req.params.id);
      return reply.status(204).send();
    },
  );

  const userAction = (
    path: string,
    summary: string,
    run: (actor: Actor, ip: string, id: string) => Promise<UserView>,
  ) =>
    app.post(
      `${API_PREFIX}/users/:id/${path}`,
      {
        config: { auth: MANAGE_USERS },
        preValidation: noBody,
        schema: {
          summary,
          tags: ['users'],
          params: IdParams,
          response: { 200: UserView },
        },
      },
      async (req) => run(caller(req), req.ip, req.params.id),
    );
  userAction('disable', 'Disable a user (ends their sessions)', (a, ip, id) =>
    users.setEnabled(auditActor(a, ip), id, false),
  );
  userAction('enable', 'Enable a user', (a, ip, id) =>
    users.setEnabled(auditActor(a, ip), id, true),
  );
  userAction('unlock', 'Clear a lockout after failed logins', (a, ip, id) =>
    users.unlock(auditActor(a, ip), id),
  );

  app.post(
    `${API_PREFIX}/users/:id/reset-password`,
    {
      config: { auth: { app: 'setUserPasswords' } },
      schema: {
        summary: "Set a user's password (they must change it at next login; ends their sessions)",
        tags: ['users'],
        params: IdParams,
        body: ResetPasswordRequest,
        response: { 200: UserView },
      },
    },
    async (req) =>
      users.resetPassword(auditActor(caller(req), req.ip), req.params.id, req.body.newPassword),
  );

  // ---- roles ----

  app.get(
    `${API_PREFIX}/roles`,
    {
      config: { auth: MANAGE_ROLES },
      schema: { summary: 'List roles', tags: ['roles'], response: { 200: RoleList } },
    },
    async () => roles.list(),
  );

  app.post(
    `${API_PREFIX}/roles`,
    {
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Create a role',
        tags: ['roles'],
        body: CreateRoleRequest,
        response: { 201: RoleView },
      },
    },
    async (req, reply) => {
      const role = await roles.create(auditActor(caller(req), req.ip), req.body);
      return reply.status(201).send(role);
    },
  );

  app.get(
    `${API_PREFIX}/roles/:id`,
    {
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Get a role with its members, sub-roles and permissions',
        tags: ['roles'],
        params: IdParams,
        response: { 200: RoleView },
      },
    },
    async (req) => roles.get(req.params.id),
  );

  app.patch(
    `${API_PREFIX}/roles/:id`,
    {
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Rename a role or change its description',
        tags: ['roles'],
        params: IdParams,
        body: UpdateRoleRequest,
        response: { 200: RoleView },
      },
    },
    async (req) => roles.update(auditActor(caller(req), req.ip), req.params.id, req.body),
  );

  app.delete(
    `${API_PREFIX}/roles/:id`,
    {
      preValidation: noBody,
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Delete a custom role',
        tags: ['roles'],
        params: IdParams,
        response: { 204: NoContent },
      },
    },
    async (req, reply) => {
      await roles.delete(auditActor(caller(req), req.ip), req.params.id);
      return reply.status(204).send();
    },
  );

  app.put(
    `${API_PREFIX}/roles/:id/members/:userId`,
    {
      preValidation: noBody,
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Add a user to a role',
        tags: ['roles'],
        params: MemberParams,
        response: { 200: RoleView },
      },
    },
    async (req) =>
      roles.addMember(auditActor(caller(req), req.ip), req.params.id, req.params.userId),
  );

  app.delete(
    `${API_PREFIX}/roles/:id/members/:userId`,
    {
      preValidation: noBody,
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Remove a user from a role',
        tags: ['roles'],
        params: MemberParams,
        response: { 200: RoleView },
      },
    },
    async (req) =>
      roles.removeMember(auditActor(caller(req), req.ip), req.params.id, req.params.userId),
  );

  app.put(
    `${API_PREFIX}/roles/:id/subroles/:childId`,
    {
      preValidation: noBody,
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Make a role a sub-role (its members count as members of this role)',
        tags: ['roles'],
        params: SubRoleParams,
        response: { 200: RoleView },
      },
    },
    async (req) =>
      roles.addSubRole(auditActor(caller(req), req.ip), req.params.id, req.params.childId),
  );

  app.delete(
    `${API_PREFIX}/roles/:id/subroles/:childId`,
    {
      preValidation: noBody,
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Remove a sub-role',
        tags: ['roles'],
        params: SubRoleParams,
        response: { 200: RoleView },
      },
    },
    async (req) =>
      roles.removeSubRole(auditActor(caller(req), req.ip), req.params.id, req.params.childId),
  );

  app.put(
    `${API_PREFIX}/roles/:id/permissions`,
    {
      config: { auth: MANAGE_ROLES },
      schema: {
        summary: 'Set the application permissions of a role',
        tags: ['roles'],
        params: IdParams,
        body: SetRolePermissionsRequest,
        response: { 200: RoleView },
      },
    },
    async (req) =>
      roles.setPermissions(auditActor(caller(req), req.ip), req.params.id, req.body.permissions),
  );
}
