import { hashPassword, newUuid } from '@strongroom/crypto';
import type { UserList, UserView } from '@strongroom/protocol';
import type { AuditActor } from '../audit/recorder.js';
import { conflict, invalid, notAllowed, notFound } from '../shared/errors.js';
import {
  IDENTITY_LOCK,
  checkLoginName,
  checkNewPassword,
  keepingAnAdministrator,
  userView,
  type IdentityDeps,
} from './context.js';
import * as repo from './repository.js';
import { ADMINISTRATORS_ROLE_ID, USERS_ROLE_ID } from './role-graph.js';
import { REVOKE_REASONS, revokeCachesOfUser } from '../offline/revoke.js';

export interface CreateUserInput {
  loginName: string;
  password: string;
  displayName?: string | undefined;
  email?: string | undefined;
  /** Ids of roles the user becomes a direct member of. */
  roles?: readonly string[] | undefined;
  /** Also a member of Administrators. */
  administrator?: boolean | undefined;
  /** Default true: the user must change the password at first login. */
  mustChangePassword?: boolean | undefined;
}

/** Users: create, read, change, disable, unlock, delete, administrator password reset. */
export class UserService {
  constructor(private readonly deps: IdentityDeps) {}

  private get db() {
    return this.deps.store.db;
  }

  private async requireUser(db: repo.Db, id: string): Promise<repo.UserRow> {
    const user = await repo.findUserById(db, id);
    if (!user) throw notFound('The user');
    return user;
  }

  private async view(db: repo.Db, user: repo.UserRow): Promise<UserView> {
    const roles = (await repo.directRolesOf(db, [user.id])).get(user.id) ?? [];
    return userView(user, roles, this.deps.clock.now());
  }

  async create(by: AuditActor, input: CreateUserInput): Promise<UserView> {
    checkLoginName(input.loginName);
    checkNewPassword(input.password, '/password');
    const roleIds = new Set(input.roles ?? []);
    if (input.administrator) roleIds.add(ADMINISTRATORS_ROLE_ID);
    roleIds.delete(USERS_ROLE_ID); // every user is implicitly a member
    const hash = await hashPassword(input.password, this.deps.config.passwordHash);
    const now = this.deps.clock.now();
    const row = repo.newUserRow({
      id: newUuid(),
      loginName: input.loginName,
      displayName: input.displayName ?? '',
      email: input.email ?? '',
      passwordHash: hash,
      mustChangePassword: input.mustChangePassword !== false,
      now,
    });
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      if (await repo.findUserByKey(trx, row.login_key)) {
        throw conflict(`A user with the login name ${input.loginName} already exists.`);
      }
      const roles = await repo.rolesByIds(trx, [...roleIds]);
      if (roles.length !== roleIds.size)
        throw invalid('/roles', 'A role in the list does not exist.');
      await repo.insertUser(trx, row);
      for (const r of roles) await repo.addMember(trx, r.id, row.id);
      await this.deps.audit.record(
        {
          event: 'User Created',
          status: 'success',
          actor: by,
          target: row.login_name,
          details: { roles: roles.map((r) => r.name) },
        },
        trx,
      );
      return userView(row, roles, now);
    });
  }

  async get(id: string): Promise<UserView> {
    return this.view(this.db, await this.requireUser(this.db, id));
  }

  async list(opts: { limit: number; offset: number; q?: string | undefined }): Promise<UserList> {
    const { rows, total } = await repo.listUsers(this.db, opts);
    const roles = await repo.directRolesOf(
      this.db,
      rows.map((r) => r.id),
    );
    const now = this.deps.clock.now();
    return {
      items: rows.map((r) => userView(r, roles.get(r.id) ?? [], now)),
      total,
      limit: opts.limit,
      offset: opts.offset,
    };
  }

  async update(
    by: AuditActor,
    id: string,
    changes: { displayName?: string | undefined; email?: string | undefined },
  ): Promise<UserView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const user = await this.requireUser(trx, id);
      const values: Partial<repo.UserRow> = {};
      const changed: string[] = [];
      if (changes.displayName !== undefined && changes.displayName !== user.display_name) {
        values.display_name = changes.displayName;
        changed.push('displayName');
      }
      if (changes.email !== undefined && changes.email !== user.email) {
        values.email = changes.email;
        changed.push('email');
      }
      if (changed.length === 0) return this.view(trx, user);
      values.updated_at = this.deps.clock.now();
      await repo.updateUser(trx, id, values);
      await this.deps.audit.record(
        {
          event: 'User Updated',
          status: 'success',
          actor: by,
          target: user.login_name,
          details: { changed },
        },
        trx,
      );
      return this.view(trx, { ...user, ...values });
    });
  }

  /**
   * Disabling revokes every session and every offline cache of the user; the last administrator
   * can't be disabled.
   */
  async setEnabled(by: AuditActor, id: string, enabled: boolean): Promise<UserView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const user = await this.requireUser(trx, id);
      if ((user.enabled === 1) === enabled) return this.view(trx, user);
      const values = { enabled: enabled ? 1 : 0, updated_at: this.deps.clock.now() };
      await keepingAnAdministrator(trx, async () => {
        await repo.updateUser(trx, id, values);
        if (!enabled) await repo.deleteUserSessions(trx, id);
      });
      await this.deps.audit.record(
        {
          event: enabled ? 'User Enabled' : 'User Disabled',
          status: 'success',
          actor: by,
          target: user.login_name,
        },
        trx,
      );
      // A disabled user's offline caches are revoked in the same change.
      if (!enabled) await revokeCachesOfUser(trx, this.deps, id, REVOKE_REASONS.disabled, by);
      return this.view(trx, { ...user, ...values });
    });
  }

  /** Clears a lockout (timed or indefinite) and the failed-login count. */
  async unlock(by: AuditActor, id: string): Promise<UserView> {
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const user = await this.requireUser(trx, id);
      const values = {
        failed_logins: 0,
        locked_until: null,
        locked_indefinitely: 0,
        updated_at: this.deps.clock.now(),
      };
      await repo.updateUser(trx, id, values);
      await this.deps.audit.record(
        { event: 'User Unlocked', status: 'success', actor: by, target: user.login_name },
        trx,
      );
      return this.view(trx, { ...user, ...values });
    });
  }

  /** Deletes a user (never the caller, never the last enabled administrator). */
  async delete(by: AuditActor, id: string): Promise<void> {
    await this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const user = await this.requireUser(trx, id);
      if (by.userId === id) throw notAllowed('delete your own account');
      await keepingAnAdministrator(trx, () => repo.deleteUserRow(trx, id));
      await this.deps.audit.record(
        { event: 'User Deleted', status: 'success', actor: by, target: user.login_name },
        trx,
      );
    });
  }

  /**
   * Sets a new password chosen by an administrator: the user must change it at next login, every
   * session of the user ends, and a lockout is cleared (the reset is how a locked-out user gets
   * back in).
   */
  async resetPassword(by: AuditActor, id: string, newPassword: string): Promise<UserView> {
    checkNewPassword(newPassword);
    await this.requireUser(this.db, id);
    const hash = await hashPassword(newPassword, this.deps.config.passwordHash);
    return this.deps.store.exclusive(IDENTITY_LOCK, async (trx) => {
      const user = await this.requireUser(trx, id);
      const now = this.deps.clock.now();
      const values = {
        password_hash: hash,
        must_change_password: 1,
        password_changed_at: now,
        failed_logins: 0,
        locked_until: null,
        locked_indefinitely: 0,
        updated_at: now,
      };
      await repo.updateUser(trx, id, values);
      await repo.deleteUserSessions(trx, id);
      await this.deps.audit.record(
        { event: 'Password Reset', status: 'success', actor: by, target: user.login_name },
        trx,
      );
      return this.view(trx, { ...user, ...values });
    });
  }
}
