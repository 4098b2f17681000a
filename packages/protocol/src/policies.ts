import { Type, type Static } from 'typebox';
import { DEFAULT_PASSWORD_REQUIREMENTS, type PasswordRequirements } from './password-rules.js';
import { UUID_PATTERN } from './ids.js';
import { LOGIN_NAME_PATTERN } from './users.js';

/**
 * Wire schemas of policies (spec §4): account rules assigned to users directly or to roles, with
 * one Default Policy for everyone else. Precedence: the user's own policy, else the first policy
 * (in the administrator's order) assigned to a role the user belongs to directly or through
 * sub-roles, else the Default Policy. Every policy holds full settings.
 */

export const PasswordRequirementsSchema = Type.Object(
  {
    minLength: Type.Integer({ minimum: 12, maximum: 1024 }),
    maxLength: Type.Integer({ minimum: 12, maximum: 1024 }),
    minUppercase: Type.Integer({ minimum: 0, maximum: 64 }),
    minLowercase: Type.Integer({ minimum: 0, maximum: 64 }),
    minDigits: Type.Integer({ minimum: 0, maximum: 64 }),
    minSymbols: Type.Integer({ minimum: 0, maximum: 64 }),
    minClasses: Type.Integer({ minimum: 0, maximum: 4 }),
  },
  { additionalProperties: false },
);

export const PolicySettingsSchema = Type.Object(
  {
    passwordRequirements: PasswordRequirementsSchema,
    lockout: Type.Object(
      {
        /** Consecutive failed logins (passwords or two-factor codes) before locking; 0 = never. */
        threshold: Type.Integer({ minimum: 0, maximum: 1000 }),
        /** Minutes the account stays locked; null = until an administrator unlocks it. */
        durationMinutes: Type.Union([Type.Integer({ minimum: 1, maximum: 525600 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    timeouts: Type.Object(
      {
        /** Web session: minutes without a request before it ends (1–1440). */
        sessionIdleMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
        /** Web session: absolute lifetime in minutes (5–43200). */
        sessionLifetimeMinutes: Type.Integer({ minimum: 5, maximum: 43200 }),
        /** API and client tokens: lifetime in minutes (5–43200). */
        apiTokenLifetimeMinutes: Type.Integer({ minimum: 5, maximum: 43200 }),
      },
      { additionalProperties: false },
    ),
    /** 'required': users must enrol TOTP (at their next login if not yet enrolled). */
    twoFactor: Type.Union([Type.Literal('optional'), Type.Literal('required')]),
  },
  { additionalProperties: false },
);
export type PolicySettings = Static<typeof PolicySettingsSchema>;

/** The documented defaults: what the Default Policy starts with and what a new policy is filled with. */
export const DEFAULT_POLICY_SETTINGS: PolicySettings = {
  passwordRequirements: { ...DEFAULT_PASSWORD_REQUIREMENTS } satisfies PasswordRequirements,
  lockout: { threshold: 5, durationMinutes: 15 },
  timeouts: { sessionIdleMinutes: 30, sessionLifetimeMinutes: 720, apiTokenLifetimeMinutes: 60 },
  twoFactor: 'optional',
};

const PolicyUuid = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });

/** Policy names: 1–100 characters, no control characters, no surrounding spaces; unique in any case. */
export const POLICY_NAME_MAX = 100;
export const PolicyNameSchema = Type.String({
  minLength: 1,
  maxLength: POLICY_NAME_MAX,
  pattern: LOGIN_NAME_PATTERN,
});

const { passwordRequirements, lockout, timeouts, twoFactor } = PolicySettingsSchema.properties;

/**
 * Settings in a request: any subset, nested objects too; what is left out keeps its current value
 * (on create: the documented default).
 */
export const PolicySettingsPatchSchema = Type.Object(
  {
    passwordRequirements: Type.Optional(
      Type.Partial(passwordRequirements, { additionalProperties: false }),
    ),
    lockout: Type.Optional(Type.Partial(lockout, { additionalProperties: false })),
    timeouts: Type.Optional(Type.Partial(timeouts, { additionalProperties: false })),
    twoFactor: Type.Optional(twoFactor),
  },
  { additionalProperties: false },
);
export type PolicySettingsPatch = Static<typeof PolicySettingsPatchSchema>;

export const PolicySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The Default Policy applies to everyone without another policy; it cannot be deleted. */
  isDefault: Type.Boolean(),
  /** Order among the other policies (1 = first; decides between role policies); null for the Default Policy. */
  position: Type.Union([Type.Integer(), Type.Null()]),
  settings: PolicySettingsSchema,
  /** Roles this policy is assigned to. */
  roleIds: Type.Array(Type.String()),
  /** How many users have this policy assigned directly. */
  userCount: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type Policy = Static<typeof PolicySchema>;

/** The Default Policy first, then the others in order. */
export const PolicyListSchema = Type.Object({ policies: Type.Array(PolicySchema) });
export type PolicyList = Static<typeof PolicyListSchema>;

export const CreatePolicySchema = Type.Object(
  { name: PolicyNameSchema, settings: Type.Optional(PolicySettingsPatchSchema) },
  { additionalProperties: false },
);
export type CreatePolicy = Static<typeof CreatePolicySchema>;

export const UpdatePolicySchema = Type.Object(
  {
    name: Type.Optional(PolicyNameSchema),
    settings: Type.Optional(PolicySettingsPatchSchema),
  },
  { additionalProperties: false },
);
export type UpdatePolicy = Static<typeof UpdatePolicySchema>;

/** Every policy but the Default Policy, each exactly once, first to last. */
export const ReorderPoliciesSchema = Type.Object(
  { policyIds: Type.Array(PolicyUuid, { uniqueItems: true, maxItems: 10000 }) },
  { additionalProperties: false },
);
export type ReorderPolicies = Static<typeof ReorderPoliciesSchema>;

/** Assigns a policy to a user or a role; null removes the assignment. */
export const PolicyAssignmentSchema = Type.Object(
  { policyId: Type.Union([PolicyUuid, Type.Null()]) },
  { additionalProperties: false },
);
export type PolicyAssignment = Static<typeof PolicyAssignmentSchema>;

/** The policy in force for a user and where it comes from. */
export const EffectivePolicySchema = Type.Object({
  settings: PolicySettingsSchema,
  policyId: Type.String(),
  policyName: Type.String(),
  source: Type.Union([Type.Literal('user'), Type.Literal('role'), Type.Literal('default')]),
});
export type EffectivePolicy = Static<typeof EffectivePolicySchema>;
