import { newUuid } from '@strongroom/crypto';
import {
  APP_PERMISSIONS,
  type AppPermission,
  type RoleList,
  type RoleSummary,
  type RoleView,
} from '@strongroom/protocol';
import type { AuditActor } from '../audit/recorder.js';
import { conflict, notFound } from '../shared/errors.js';
import {
  IDENTITY_LOCK,
  builtinOf,
  iso,
  keepingAnAdministrator,
  knownPermissions,
  roleRef,
  type IdentityDeps,
} from './context.js';
import * as repo from './repository.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID, wouldCycle } from './role-graph.js';

/** Roles: built-ins, custom roles, members, sub-roles and application permissions. */
export class RoleService {
  constructor(private readonly deps: IdentityDeps) {}

  private get db() {
    return this.deps.store.db;
  }

  private async requireRole(db: repo.Db, id: string): Promise<repo.RoleRow> {
    const role = await repo.findRoleById(db, id);
    if (!role) throw notFound('The role');
    return role;
  }

  private summary(role: repo.RoleRow, permissions: readonly string[]): RoleSummary {
    return {
      id: role.id,
      name: role.name,
      description: role.description,
      builtin: builtinOf(role),
      permissions:
        role.id === ADMINISTRATORS_ROLE_ID ? [...APP_PERMISSIONS] : knownPermissions(permissions),
      createdAt: iso(role.created_at),
      updatedAt: iso(role.updated_at),
    };
  }

  private async view(db: repo.Db, role: repo.RoleRow): Promise<RoleView> {
    const perms = await repo.permissionsOf(db, [role.id]);
    const members = await repo.roleMembers(db, role.id);
    const children = await repo.childRoles(db, role.id);
    return {
      ...this.summary(role, perms.get(role.id) ?? []),
      members: members.map((m) => ({
        id: m.id,
        loginName: m.login_name,
        displayName: m.display_name,
      })),
      subRoles: children.map(roleRef),
    };
  }

  private async audit(
    trx: repo.Db,
    by: AuditActor,
    event: 'Role Created' | 'Role Updated' | 'Role Deleted',
    role: repo.RoleRow,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.deps.audit.record(
      { event, status: 'success', actor: by, target: role.name, details },
      trx,
    );
  }

  private async touch(trx: repo.Db, role: repo.RoleRow): Promise<void> {
    await repo.updateRole(trx, role.id, { updated_at: this.deps.clock.now() });
  }

  async list(): Promise<RoleList> {
    const roles = await repo.listRoles(this.db);
    const perms = await repo.permissionsOf(
      this.db,
      roles.map((r) => r.id),
    );
    return { items: roles.map((r) => this.summary(r, perms.get(r.id) ?? [])) };
  }

  async get(id: string): Promise<RoleView> {
    return this.view(this.db, await this.requireRole(this.db, id));
  }

  async create(
    by: AuditActor,
    input: {
      name: string;
      description?: string | undefined;
      permissions?: readonly AppPermission[] | undefined;
    },
  ): Promise<RoleView> {
    const now = this.deps.clock.now();
    const row: repo.RoleRow = {
      id: newUuid(),
      name: input.name,
      name_key: repo.nameKey(input.name),
      description: input.description ?? '',
      builtin: null,
      created_at: now,
      updated_at: now,
    };
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      if (await repo.findRoleByKey(trx, row.name_key)) {
        throw conflict(`A role named ${input.name} already exists.`);
      }
      await repo.insertRole(trx, row);
      const permissions = knownPermissions(input.permissions ?? []);
      await repo.setPermissions(trx, row.id, permissions);
      await this.audit(trx, by, 'Role Created', row, { permissions });
      return this.view(trx, row);
    });
  }

  /** Renames (custom roles only) or changes the description. */
  async update(
    by: AuditActor,
    id: string,
    changes: { name?: string | undefined; description?: string | undefined },
  ): Promise<RoleView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const role = await this.requireRole(trx, id);
      const values: Partial<repo.RoleRow> = {};
      const details: Record<string, unknown> = {};
      if (changes.name !== undefined && changes.name !== role.name) {
        if (role.builtin) throw conflict(`The built-in role ${role.name} can't be renamed.`);
        const key = repo.nameKey(changes.name);
        const other = await repo.findRoleByKey(trx, key);
        if (other && other.id !== id)
          throw conflict(`A role named ${changes.name} already exists.`);
        values.name = changes.name;
        values.name_key = key;
        details.renamedFrom = role.name;
      }
      if (changes.description !== undefined && changes.description !== role.description) {
        values.description = changes.description;
        details.description = 'changed';
      }
      if (Object.keys(values).length === 0) return this.view(trx, role);
      values.updated_at = this.deps.clock.now();
      await repo.updateRole(trx, id, values);
      const updated = { ...role, ...values };
      await this.audit(trx, by, 'Role Updated', updated, details);
      return this.view(trx, updated);
    });
  }

  /** Deletes a custom role with its memberships, sub-role links, permissions and grants. */
  async delete(by: AuditActor, id: string): Promise<void> {
    await this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const role = await this.requireRole(trx, id);
      if (role.builtin) throw conflict(`The built-in role ${role.name} can't be deleted.`);
      await keepingAnAdministrator(trx, () => repo.deleteRoleRow(trx, id));
      await this.audit(trx, by, 'Role Deleted', role);
    });
  }

  async addMember(by: AuditActor, roleId: string, userId: string): Promise<RoleView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const { role, user } = await this.membership(trx, roleId, userId);
      const current = await repo.directRoleIds(trx, userId);
      if (!current.includes(roleId)) {
        await repo.addMember(trx, roleId, userId);
        await this.touch(trx, role);
        await this.audit(trx, by, 'Role Updated', role, { memberAdded: user.login_name });
      }
      return this.view(trx, role);
    });
  }

  async removeMember(by: AuditActor, roleId: string, userId: string): Promise<RoleView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const { role, user } = await this.membership(trx, roleId, userId);
      const removed = await keepingAnAdministrator(trx, () =>
        repo.removeMember(trx, roleId, userId),
      );
      if (!removed) throw notFound('The membership');
      await this.touch(trx, role);
      await this.audit(trx, by, 'Role Updated', role, { memberRemoved: user.login_name });
      return this.view(trx, role);
    });
  }

  /** The role and user of a membership change (never the built-in Users role). */
  private async membership(trx: repo.Db, roleId: string, userId: string) {
    const role = await this.requireRole(trx, roleId);
    const user = await repo.findUserById(trx, userId);
    if (!user) throw notFound('The user');
    if (role.id === USERS_ROLE_ID) {
      throw conflict('Every user is a member of Users; its membership cannot be changed.');
    }
    return { role, user };
  }

  /** Makes `childId` a sub-role of `roleId`: its members count as members of `roleId`. */
  async addSubRole(by: AuditActor, roleId: string, childId: string): Promise<RoleView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const role = await this.requireRole(trx, roleId);
      const child = await this.requireRole(trx, childId);
      if (role.id === USERS_ROLE_ID) {
        throw conflict('Users already contains every user; it cannot have sub-roles.');
      }
      const edges = await repo.allRoleEdges(trx);
      if (edges.some((e) => e.role_id === roleId && e.child_role_id === childId)) {
        return this.view(trx, role);
      }
      if (wouldCycle(roleId, childId, edges)) {
        throw conflict(
          `${child.name} can't be a sub-role of ${role.name}: roles would contain each other.`,
        );
      }
      await repo.addChild(trx, roleId, childId);
      await this.touch(trx, role);
      await this.audit(trx, by, 'Role Updated', role, { subRoleAdded: child.name });
      return this.view(trx, role);
    });
  }

  async removeSubRole(by: AuditActor, roleId: string, childId: string): Promise<RoleView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const role = await this.requireRole(trx, roleId);
      const child = await this.requireRole(trx, childId);
      const removed = await keepingAnAdministrator(trx, () =>
        repo.removeChild(trx, roleId, childId),
      );
      if (!removed) throw notFound('The sub-role');
      await this.touch(trx, role);
      await this.audit(trx, by, 'Role Updated', role, { subRoleRemoved: child.name });
      return this.view(trx, role);
    });
  }

  /** Replaces the application permissions of a role (Administrators always hold all). */
  async setPermissions(
    by: AuditActor,
    roleId: string,
    permissions: readonly AppPermission[],
  ): Promise<RoleView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const role = await this.requireRole(trx, roleId);
      if (role.id === ADMINISTRATORS_ROLE_ID) {
        throw conflict('Administrators hold every application permission; they cannot be changed.');
      }
      const next = knownPermissions(permissions);
      const before = knownPermissions((await repo.permissionsOf(trx, [roleId])).get(roleId) ?? []);
      if (before.join() !== next.join()) {
        await repo.setPermissions(trx, roleId, next);
        await this.touch(trx, role);
        await this.audit(trx, by, 'Role Updated', role, { permissions: next, previous: before });
      }
      return this.view(trx, role);
    });
  }
}
