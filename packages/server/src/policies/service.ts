import {
  DEFAULT_POLICY_SETTINGS,
  type CreatePolicy,
  type EffectivePolicy,
  type Policy,
  type PolicySettings,
  type UpdatePolicy,
} from '@strongroom/protocol';
import { newUuid } from '@strongroom/crypto';
import type { Kysely } from 'kysely';
import type { AuditActor, AuditRecorder } from '../audit/recorder.js';
import type { Database } from '../db/schema.js';
import type { Store } from '../db/connect.js';
import { DEFAULT_POLICY_ID } from '../db/migrations/0006_policies_two_factor.js';
import type { Clock } from '../shared/clock.js';
import { AppError, conflict, invalid, notFound } from '../shared/errors.js';
import { checkNewOrder, mergeSettings, settingsDiff, storedSettings } from '../shared/settings.js';
import { identityGraph, nameKey } from '../users/repository.js';
import { roleClosure } from '../users/role-graph.js';
import { IDENTITY_LOCK } from '../users/context.js';
import * as repo from './repository.js';

export { DEFAULT_POLICY_ID };

/**
 * Policy writes take the identity lock (the one every change of users, roles and memberships
 * takes): an assignment can then never race the deletion of its user or role, nor a policy's
 * deletion race an assignment to it. Policy changes are rare; sharing the lock costs nothing.
 */
const LOCK = IDENTITY_LOCK;

type Db = Kysely<Database>;

const settingsOf = (row: repo.PolicyRow): PolicySettings =>
  storedSettings(row.settings, DEFAULT_POLICY_SETTINGS);

/** Default Policy first, then by position, then by name. */
function byListOrder(a: repo.PolicyRow, b: repo.PolicyRow): number {
  return (
    b.is_default - a.is_default ||
    (a.position ?? 0) - (b.position ?? 0) ||
    a.name.localeCompare(b.name) ||
    a.id.localeCompare(b.id)
  );
}

/**
 * Rules a settings object must follow beyond each field's own range: they involve two fields,
 * so the schema can't say them. Named by the field to fix.
 */
function checkSettings(s: PolicySettings): void {
  const r = s.passwordRequirements;
  const field = '/settings/passwordRequirements';
  if (r.maxLength < r.minLength) {
    throw invalid(`${field}/maxLength`, 'The maximum length must not be below the minimum length.');
  }
  if (r.minUppercase + r.minLowercase + r.minDigits + r.minSymbols > r.maxLength) {
    throw invalid(
      `${field}/maxLength`,
      'The required upper-case letters, lower-case letters, digits and symbols do not fit in the maximum length.',
    );
  }
}

/**
 * Policies (spec §4): account rules (password requirements, lockout, timeouts, two-factor)
 * assigned to users directly or to roles, and the Default Policy for everyone else. Precedence:
 * the user's own policy; else, among the policies of roles the user belongs to (sub-roles
 * count), the first in the administrator's order; else the Default Policy.
 */
export class PolicyService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditRecorder,
  ) {}

  /**
   * The policy in force for a user whose roles (full closure, as `Actor.roleIds`) are known:
   * one query. Stored settings are completed with the defaults.
   */
  async effectiveFor(
    userId: string,
    roleIds: readonly string[],
    db: Db = this.store.db,
  ): Promise<EffectivePolicy> {
    const candidates = await repo.candidatePolicies(db, userId, roleIds);
    const pick =
      candidates.find((p) => p.source === 'user') ??
      candidates
        .filter((p) => p.source === 'role')
        .sort((a, b) => (a.position ?? 0) - (b.position ?? 0) || a.id.localeCompare(b.id))[0] ??
      candidates.find((p) => p.source === 'default');
    if (!pick) {
      // The migration creates the Default Policy and nothing deletes it; stay usable regardless.
      return {
        settings: DEFAULT_POLICY_SETTINGS,
        policyId: DEFAULT_POLICY_ID,
        policyName: 'Default Policy',
        source: 'default',
      };
    }
    return {
      settings: settingsOf(pick),
      policyId: pick.id,
      policyName: pick.name,
      source: pick.source,
    };
  }

  /** The policy in force for a user given by id only (loads their roles first: two queries). */
  async effectiveForUser(userId: string, db: Db = this.store.db): Promise<EffectivePolicy> {
    const graph = await identityGraph(db, userId);
    return this.effectiveFor(userId, roleClosure(graph.direct, graph.edges), db);
  }

  /** For an administrator: the policy in force for this user (404 if there is no such user). */
  async effectiveForUserId(userId: string): Promise<EffectivePolicy> {
    if (!(await repo.userPolicyId(this.store.db, userId))) throw notFound('The user');
    return this.effectiveForUser(userId);
  }

  async list(db: Db = this.store.db): Promise<Policy[]> {
    const rows = (await repo.listPolicies(db)).sort(byListOrder);
    const assigned = await repo.assignmentsByPolicy(db);
    return rows.map((row) => this.view(row, assigned));
  }

  async get(id: string): Promise<Policy> {
    const row = await this.find(this.store.db, id);
    return this.view(row, await repo.assignmentsByPolicy(this.store.db));
  }

  async create(actor: AuditActor, input: CreatePolicy): Promise<Policy> {
    const name = input.name.trim();
    if (name === '') throw invalid('/name', 'The name must not be blank.');
    const settings = mergeSettings(DEFAULT_POLICY_SETTINGS, input.settings);
    checkSettings(settings);
    const id = await this.store.exclusive(LOCK, async (trx) => {
      await this.checkNameFree(trx, name, null);
      const now = this.clock.now();
      const row: repo.PolicyRow = {
        id: newUuid(),
        name,
        name_key: nameKey(name),
        is_default: 0,
        position: (await repo.maxPosition(trx)) + 1,
        settings: JSON.stringify(settings),
        created_at: now,
        updated_at: now,
      };
      await repo.insertPolicy(trx, row);
      await this.record(actor, name, trx, {
        policyId: row.id,
        action: 'created',
        position: row.position,
        settings,
      });
      return row.id;
    });
    return this.get(id);
  }

  /** Renames and/or changes settings; nested settings are merged field by field. */
  async update(actor: AuditActor, id: string, input: UpdatePolicy): Promise<Policy> {
    const name = input.name?.trim();
    if (name === '') throw invalid('/name', 'The name must not be blank.');
    await this.store.exclusive(LOCK, async (trx) => {
      const row = await this.find(trx, id);
      const changes: Parameters<typeof repo.updatePolicy>[2] = {};
      const details: Record<string, unknown> = { policyId: id, action: 'updated' };
      if (name !== undefined && name !== row.name) {
        await this.checkNameFree(trx, name, id);
        changes.name = name;
        changes.name_key = nameKey(name);
        details.name = { from: row.name, to: name };
      }
      const before = settingsOf(row);
      const after = mergeSettings(before, input.settings);
      checkSettings(after);
      const diff = settingsDiff(before, after);
      if (Object.keys(diff).length > 0) {
        changes.settings = JSON.stringify(after);
        details.settings = diff;
      }
      if (Object.keys(changes).length === 0) return;
      changes.updated_at = this.clock.now();
      await repo.updatePolicy(trx, id, changes);
      await this.record(actor, changes.name ?? row.name, trx, details);
    });
    return this.get(id);
  }

  /** Deletes a policy (never the Default Policy); its users and roles fall back. */
  async delete(actor: AuditActor, id: string): Promise<void> {
    await this.store.exclusive(LOCK, async (trx) => {
      const row = await this.find(trx, id);
      if (row.is_default === 1) {
        throw new AppError('not_allowed', 'The Default Policy cannot be deleted.');
      }
      const assigned = await repo.assignmentsByPolicy(trx);
      await repo.deletePolicy(trx, id);
      await this.record(actor, row.name, trx, {
        policyId: id,
        action: 'deleted',
        unassignedRoleIds: assigned.roles.get(id) ?? [],
        unassignedUsers: assigned.users.get(id) ?? 0,
      });
    });
  }

  /** Sets the order of the policies; `policyIds` lists every policy but the Default Policy once. */
  async reorder(actor: AuditActor, policyIds: readonly string[]): Promise<Policy[]> {
    return this.store.exclusive(LOCK, async (trx) => {
      const ordered = (await repo.listPolicies(trx))
        .filter((p) => p.is_default !== 1)
        .sort(byListOrder);
      const before = ordered.map((p) => p.id);
      const changed = checkNewOrder('/policyIds', policyIds, before, {
        notInList:
          'This is not the id of a policy that can be ordered (the Default Policy has no place in the order).',
        incomplete: 'List every policy but the Default Policy exactly once.',
      });
      if (changed) {
        const now = this.clock.now();
        for (const [i, id] of policyIds.entries()) {
          await repo.updatePolicy(trx, id, { position: i + 1, updated_at: now });
        }
        await this.record(actor, 'Policy order', trx, {
          action: 'reordered',
          from: before,
          to: [...policyIds],
        });
      }
      return this.list(trx);
    });
  }

  /** Gives a user their own policy (null: none; role policies or the default apply). */
  async setUserPolicy(
    actor: AuditActor,
    userId: string,
    policyId: string | null,
  ): Promise<EffectivePolicy> {
    await this.store.exclusive(LOCK, async (trx) => {
      const user = await repo.userPolicyId(trx, userId);
      if (!user) throw notFound('The user');
      const to = await this.assignable(trx, policyId);
      if (user.policy_id === policyId) return;
      const from = user.policy_id === null ? null : await repo.findPolicy(trx, user.policy_id);
      await repo.setUserPolicy(trx, userId, policyId);
      await this.record(actor, user.login_name, trx, {
        action: policyId === null ? 'user policy removed' : 'user policy set',
        userId,
        from: from ? { id: from.id, name: from.name } : null,
        to: to ? { id: to.id, name: to.name } : null,
      });
    });
    return this.effectiveForUser(userId);
  }

  /** Gives a role a policy (one per role; null: none). */
  async setRolePolicy(
    actor: AuditActor,
    roleId: string,
    policyId: string | null,
  ): Promise<{ policyId: string | null }> {
    await this.store.exclusive(LOCK, async (trx) => {
      const role = await repo.rolePolicyId(trx, roleId);
      if (!role) throw notFound('The role');
      const to = await this.assignable(trx, policyId);
      if (role.policy_id === policyId) return;
      const from = role.policy_id === null ? null : await repo.findPolicy(trx, role.policy_id);
      await repo.setRolePolicy(trx, roleId, policyId);
      await this.record(actor, role.name, trx, {
        action: policyId === null ? 'role policy removed' : 'role policy set',
        roleId,
        from: from ? { id: from.id, name: from.name } : null,
        to: to ? { id: to.id, name: to.name } : null,
      });
    });
    return { policyId };
  }

  /** The policy to assign (the Default Policy too: it can outrank a role's policy for a user). */
  private async assignable(trx: Db, policyId: string | null): Promise<repo.PolicyRow | null> {
    if (policyId === null) return null;
    const policy = await repo.findPolicy(trx, policyId);
    if (!policy) throw notFound('The policy');
    return policy;
  }

  private async find(db: Db, id: string): Promise<repo.PolicyRow> {
    const row = await repo.findPolicy(db, id);
    if (!row) throw notFound('The policy');
    return row;
  }

  private async checkNameFree(db: Db, name: string, selfId: string | null): Promise<void> {
    const existing = await repo.findPolicyByNameKey(db, nameKey(name));
    if (existing && existing.id !== selfId) {
      throw conflict(`A policy named "${existing.name}" already exists.`);
    }
  }

  private view(
    row: repo.PolicyRow,
    assigned: Awaited<ReturnType<typeof repo.assignmentsByPolicy>>,
  ): Policy {
    return {
      id: row.id,
      name: row.name,
      isDefault: row.is_default === 1,
      position: row.is_default === 1 ? null : row.position,
      settings: settingsOf(row),
      roleIds: assigned.roles.get(row.id) ?? [],
      userCount: assigned.users.get(row.id) ?? 0,
      createdAt: new Date(row.created_at).toISOString(),
      updatedAt: new Date(row.updated_at).toISOString(),
    };
  }

  private record(
    actor: AuditActor,
    target: string,
    trx: Db,
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.record(
      { event: 'Policy Changed', status: 'success', actor, target, details },
      trx,
    );
  }
}
