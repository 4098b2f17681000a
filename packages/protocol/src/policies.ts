import { Type, type Static } from 'typebox';
import { DEFAULT_PASSWORD_REQUIREMENTS, type PasswordRequirements } from './password-rules.js';

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
