import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from './ids.js';

/**
 * Wire schemas of the client configuration area (spec §5, offline-mode §1.13 and §2): rules that
 * attach client settings to a user or a role, and the Default Rule that applies to everyone else.
 * Every rule holds a full settings object; a rule created without some settings gets the
 * documented defaults below for them (not the Default Rule's current values).
 */

const Uuid = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });

export const PasswordGeneratorSettingsSchema = Type.Object(
  {
    /** Characters in a generated password, 8–128 (default 20). */
    length: Type.Integer({ minimum: 8, maximum: 128 }),
    uppercase: Type.Boolean(),
    lowercase: Type.Boolean(),
    digits: Type.Boolean(),
    symbols: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type PasswordGeneratorSettings = Static<typeof PasswordGeneratorSettingsSchema>;

export const ClientSettingsSchema = Type.Object(
  {
    /** Expire Cache After, in days (1–3650); null = never (the default). */
    expireCacheAfterDays: Type.Union([Type.Integer({ minimum: 1, maximum: 3650 }), Type.Null()]),
    /** Maximum offline lifetime in hours (1–87600); null = no cap (the default). */
    maxOfflineHours: Type.Union([Type.Integer({ minimum: 1, maximum: 87600 }), Type.Null()]),
    /** Seconds after which a copied secret is cleared from the clipboard, 0–3600 (default 30). */
    clipboardClearSeconds: Type.Integer({ minimum: 0, maximum: 3600 }),
    /** Minutes of inactivity after which the client locks, 0–1440; 0 = never (default 15). */
    lockAfterIdleMinutes: Type.Integer({ minimum: 0, maximum: 1440 }),
    passwordGenerator: PasswordGeneratorSettingsSchema,
    /** Whether the client may export entries (default false). */
    exportAllowed: Type.Boolean(),
    /** Whether taking entries offline needs a usage comment (default false). */
    offlineCommentRequired: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ClientSettings = Static<typeof ClientSettingsSchema>;

/** The documented defaults: what the Default Rule starts with and what a new rule is filled with. */
export const DEFAULT_CLIENT_SETTINGS: ClientSettings = {
  expireCacheAfterDays: null,
  maxOfflineHours: null,
  clipboardClearSeconds: 30,
  lockAfterIdleMinutes: 15,
  passwordGenerator: { length: 20, uppercase: true, lowercase: true, digits: true, symbols: true },
  exportAllowed: false,
  offlineCommentRequired: false,
};

/** Settings in a request: any subset; omitted ones keep their current (or default) value. */
export const ClientSettingsPatchSchema = Type.Object(
  {
    expireCacheAfterDays: Type.Optional(ClientSettingsSchema.properties.expireCacheAfterDays),
    maxOfflineHours: Type.Optional(ClientSettingsSchema.properties.maxOfflineHours),
    clipboardClearSeconds: Type.Optional(ClientSettingsSchema.properties.clipboardClearSeconds),
    lockAfterIdleMinutes: Type.Optional(ClientSettingsSchema.properties.lockAfterIdleMinutes),
    passwordGenerator: Type.Optional(
      Type.Object(
        {
          length: Type.Optional(PasswordGeneratorSettingsSchema.properties.length),
          uppercase: Type.Optional(Type.Boolean()),
          lowercase: Type.Optional(Type.Boolean()),
          digits: Type.Optional(Type.Boolean()),
          symbols: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    exportAllowed: Type.Optional(ClientSettingsSchema.properties.exportAllowed),
    offlineCommentRequired: Type.Optional(ClientSettingsSchema.properties.offlineCommentRequired),
  },
  { additionalProperties: false },
);
export type ClientSettingsPatch = Static<typeof ClientSettingsPatchSchema>;

export const ClientConfigPrincipalTypeSchema = Type.Union([
  Type.Literal('user'),
  Type.Literal('role'),
]);

export const ClientConfigRuleSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** 'user' or 'role'; null for the Default Rule. */
  principalType: Type.Union([ClientConfigPrincipalTypeSchema, Type.Null()]),
  principalId: Type.Union([Type.String(), Type.Null()]),
  /** Order among role rules (1 = first); null for user rules and the Default Rule. */
  position: Type.Union([Type.Integer(), Type.Null()]),
  settings: ClientSettingsSchema,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type ClientConfigRule = Static<typeof ClientConfigRuleSchema>;

/** Default Rule first, then role rules in order, then user rules by name. */
export const ClientConfigRuleListSchema = Type.Object({
  rules: Type.Array(ClientConfigRuleSchema),
});
export type ClientConfigRuleList = Static<typeof ClientConfigRuleListSchema>;

const RuleName = Type.String({ minLength: 1, maxLength: 100 });

export const CreateClientConfigRuleSchema = Type.Object(
  {
    name: RuleName,
    principalType: ClientConfigPrincipalTypeSchema,
    principalId: Uuid,
    settings: Type.Optional(ClientSettingsPatchSchema),
  },
  { additionalProperties: false },
);
export type CreateClientConfigRule = Static<typeof CreateClientConfigRuleSchema>;

/** Moving a rule to another principal needs both principal fields. */
export const UpdateClientConfigRuleSchema = Type.Object(
  {
    name: Type.Optional(RuleName),
    principalType: Type.Optional(ClientConfigPrincipalTypeSchema),
    principalId: Type.Optional(Uuid),
    settings: Type.Optional(ClientSettingsPatchSchema),
  },
  { additionalProperties: false },
);
export type UpdateClientConfigRule = Static<typeof UpdateClientConfigRuleSchema>;

/** The full ordered list of role rules' ids. */
export const ReorderClientConfigRulesSchema = Type.Object(
  { ruleIds: Type.Array(Uuid, { uniqueItems: true, maxItems: 10000 }) },
  { additionalProperties: false },
);
export type ReorderClientConfigRules = Static<typeof ReorderClientConfigRulesSchema>;

export const EffectiveClientConfigSchema = Type.Object({
  settings: ClientSettingsSchema,
  ruleId: Type.String(),
  ruleName: Type.String(),
  source: Type.Union([Type.Literal('user'), Type.Literal('role'), Type.Literal('default')]),
});
export type EffectiveClientConfig = Static<typeof EffectiveClientConfigSchema>;
