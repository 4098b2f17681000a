import {
  DEFAULT_CLIENT_SETTINGS,
  type ClientConfigRule,
  type ClientSettings,
  type CreateClientConfigRule,
  type EffectiveClientConfig,
  type UpdateClientConfigRule,
} from '@strongroom/protocol';
import { newUuid } from '@strongroom/crypto';
import type { Kysely } from 'kysely';
import type { AuditRecorder } from '../audit/recorder.js';
import type { Database } from '../db/schema.js';
import type { Store } from '../db/connect.js';
import { DEFAULT_CLIENT_RULE_ID } from '../db/migrations/0005_client_configuration.js';
import { auditActor, type Actor } from '../http/auth.js';
import type { Clock } from '../shared/clock.js';
import { AppError, conflict, invalid, notFound } from '../shared/errors.js';
import {
  checkNewOrder,
  mergeSettings,
  settingsDiff,
  storedSettings as storedSettingsOf,
} from '../shared/settings.js';
import * as repo from './repository.js';

export { DEFAULT_CLIENT_RULE_ID };

/** Lock serialising rule writes across processes (positions, one rule per principal). */
const LOCK = 'client-config';

/** Who a rule is for: the rule's principal and where it sits among role rules. */
type PrincipalType = 'user' | 'role';

/** Stored settings, completed with the defaults should a stored value lack a newer setting. */
function storedSettings(row: repo.RuleRow): ClientSettings {
  return storedSettingsOf(row.settings, DEFAULT_CLIENT_SETTINGS);
}

function view(row: repo.RuleRow): ClientConfigRule {
  return {
    id: row.id,
    name: row.name,
    principalType: row.principal_type as PrincipalType | null,
    principalId: row.principal_id,
    position: row.position,
    settings: storedSettings(row),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Default Rule first, then role rules in order, then user rules by name. */
function byListOrder(a: repo.RuleRow, b: repo.RuleRow): number {
  const rank = (r: repo.RuleRow) =>
    r.principal_type === null ? 0 : r.principal_type === 'role' ? 1 : 2;
  return (
    rank(a) - rank(b) ||
    (a.position ?? 0) - (b.position ?? 0) ||
    a.name.localeCompare(b.name) ||
    a.id.localeCompare(b.id)
  );
}

/**
 * Client configuration (spec §5): rules attach client settings to a user or a role; the Default
 * Rule applies to everyone else. Exactly one rule applies to a user: their own rule, else the
 * first role rule (in the administrator's order) of a role they belong to directly or through
 * sub-roles, else the Default Rule. Every rule holds a full settings object. Rules of deleted
 * users and roles are ignored by the lookup and left out of the list (see `deleteRulesForPrincipal`
 * in repository.ts to remove them outright).
 */
export class ClientConfigService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly audit: AuditRecorder,
  ) {}

  /** The settings that apply to this user, and which rule they come from. */
  async effectiveFor(
    actor: Pick<Actor, 'userId' | 'roleIds'>,
    db: Kysely<Database> = this.store.db,
  ): Promise<EffectiveClientConfig> {
    const rules = await repo.rulesForActor(db, actor.userId, actor.roleIds);
    const own = rules.find((r) => r.principal_type === 'user');
    const role = rules
      .filter((r) => r.principal_type === 'role')
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))[0];
    const rule = own ?? role ?? rules.find((r) => r.principal_type === null);
    if (!rule) {
      // The migration creates the Default Rule and nothing deletes it; stay usable regardless.
      return {
        settings: DEFAULT_CLIENT_SETTINGS,
        ruleId: DEFAULT_CLIENT_RULE_ID,
        ruleName: 'Default Rule',
        source: 'default',
      };
    }
    return {
      settings: storedSettings(rule),
      ruleId: rule.id,
      ruleName: rule.name,
      source: own ? 'user' : role ? 'role' : 'default',
    };
  }

  async list(): Promise<ClientConfigRule[]> {
    return (await repo.listLiveRules(this.store.db)).sort(byListOrder).map(view);
  }

  async get(id: string): Promise<ClientConfigRule> {
    return view(await this.findLive(this.store.db, id));
  }

  async create(actor: Actor, input: CreateClientConfigRule): Promise<ClientConfigRule> {
    const name = input.name.trim();
    if (name === '') throw invalid('/name', 'The name must not be blank.');
    const settings = mergeSettings(DEFAULT_CLIENT_SETTINGS, input.settings);
    const now = this.clock.now();
    return this.store.exclusive(LOCK, async (trx) => {
      await this.checkPrincipal(trx, input.principalType, input.principalId, null);
      const row: repo.RuleRow = {
        id: newUuid(),
        name,
        principal_type: input.principalType,
        principal_id: input.principalId,
        position: input.principalType === 'role' ? (await repo.maxRolePosition(trx)) + 1 : null,
        settings: JSON.stringify(settings),
        created_at: now,
        updated_at: now,
      };
      await repo.insertRule(trx, row);
      await this.record(actor, name, trx, {
        ruleId: row.id,
        action: 'created',
        principalType: row.principal_type,
        principalId: row.principal_id,
        settings,
      });
      return view(row);
    });
  }

  async update(actor: Actor, id: string, input: UpdateClientConfigRule): Promise<ClientConfigRule> {
    const name = input.name?.trim();
    if (name === '') throw invalid('/name', 'The name must not be blank.');
    const movesPrincipal = input.principalType !== undefined || input.principalId !== undefined;
    return this.store.exclusive(LOCK, async (trx) => {
      const row = await this.findLive(trx, id);
      const isDefault = row.principal_type === null;
      if (movesPrincipal && isDefault) {
        throw invalid(
          '/principalType',
          'The Default Rule applies to everyone else; it has no principal.',
        );
      }
      if (movesPrincipal && input.principalType === undefined) {
        throw invalid('/principalType', 'Give principalType together with principalId.');
      }
      if (movesPrincipal && input.principalId === undefined) {
        throw invalid('/principalId', 'Give principalId together with principalType.');
      }
      const changes: Parameters<typeof repo.updateRule>[2] = {};
      const details: Record<string, unknown> = { ruleId: id, action: 'updated' };
      if (name !== undefined && name !== row.name) {
        changes.name = name;
        details.name = { from: row.name, to: name };
      }
      if (
        movesPrincipal &&
        (input.principalType !== row.principal_type || input.principalId !== row.principal_id)
      ) {
        const type = input.principalType!;
        await this.checkPrincipal(trx, type, input.principalId!, id);
        changes.principal_type = type;
        changes.principal_id = input.principalId!;
        if (type !== row.principal_type) {
          changes.position = type === 'role' ? (await repo.maxRolePosition(trx)) + 1 : null;
        }
        details.principal = {
          from: { type: row.principal_type, id: row.principal_id },
          to: { type, id: input.principalId },
        };
      }
      const before = storedSettings(row);
      const after = mergeSettings(before, input.settings);
      const diff = settingsDiff(before, after);
      if (Object.keys(diff).length > 0) {
        changes.settings = JSON.stringify(after);
        details.settings = diff;
      }
      if (Object.keys(changes).length === 0) return view(row);
      changes.updated_at = this.clock.now();
      await repo.updateRule(trx, id, changes);
      await this.record(actor, changes.name ?? row.name, trx, details);
      return view({ ...row, ...changes });
    });
  }

  async delete(actor: Actor, id: string): Promise<void> {
    await this.store.exclusive(LOCK, async (trx) => {
      const row = await this.findLive(trx, id);
      if (row.principal_type === null) {
        throw new AppError('not_allowed', 'The Default Rule cannot be deleted.');
      }
      await repo.deleteRule(trx, id);
      await this.record(actor, row.name, trx, {
        ruleId: id,
        action: 'deleted',
        principalType: row.principal_type,
        principalId: row.principal_id,
      });
    });
  }

  /** Sets the order of role rules; `ruleIds` must list every role rule exactly once. */
  async reorder(actor: Actor, ruleIds: readonly string[]): Promise<ClientConfigRule[]> {
    await this.store.exclusive(LOCK, async (trx) => {
      const roleRules = (await repo.listLiveRules(trx))
        .filter((r) => r.principal_type === 'role')
        .sort(byListOrder);
      const before = roleRules.map((r) => r.id);
      const changed = checkNewOrder('/ruleIds', ruleIds, before, {
        notInList: 'This is not the id of a role rule.',
        incomplete: 'List every role rule exactly once.',
      });
      if (!changed) return;
      const now = this.clock.now();
      for (const [i, id] of ruleIds.entries()) {
        await repo.updateRule(trx, id, { position: i + 1, updated_at: now });
      }
      await this.record(actor, 'Role rule order', trx, {
        action: 'reordered',
        from: before,
        to: [...ruleIds],
      });
    });
    return this.list();
  }

  private async findLive(db: Kysely<Database>, id: string): Promise<repo.RuleRow> {
    const row = await repo.findRule(db, id);
    const live =
      row &&
      (row.principal_type === null ||
        (await repo.principalExists(db, row.principal_type as PrincipalType, row.principal_id!)));
    if (!row || !live) throw notFound('The client configuration rule');
    return row;
  }

  /** The principal must exist and have no rule yet (other than `selfId`). */
  private async checkPrincipal(
    db: Kysely<Database>,
    type: PrincipalType,
    principalId: string,
    selfId: string | null,
  ): Promise<void> {
    if (!(await repo.principalExists(db, type, principalId))) {
      throw invalid('/principalId', `No ${type} has this id.`);
    }
    const existing = await repo.findRuleForPrincipal(db, type, principalId);
    if (existing && existing.id !== selfId) {
      throw conflict(`The ${type} already has a client configuration rule ("${existing.name}").`);
    }
  }

  private record(
    actor: Actor,
    target: string,
    trx: Kysely<Database>,
    details: Record<string, unknown>,
  ): Promise<void> {
    return this.audit.record(
      {
        event: 'Client Configuration Changed',
        status: 'success',
        actor: auditActor(actor, actor.ip),
        target,
        details,
      },
      trx,
    );
  }
}
