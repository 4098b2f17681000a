import { Type, type Static } from 'typebox';
import { APP_PERMISSIONS, type AppPermission } from './permissions.js';
import { UUID_PATTERN } from './ids.js';
import { RecoveryCodeSchema, TotpCodeSchema } from './two-factor.js';

/** Wire schemas of the identity API: login, the caller, users and roles. */

/** Login names: no leading/trailing space and no control characters; a UPN keeps its case. */
export const LOGIN_NAME_PATTERN = '^[^\\s\\p{Cc}](?:[^\\p{Cc}]*[^\\s\\p{Cc}])?$';
export const LOGIN_NAME_MAX = 256;
export const DISPLAY_NAME_MAX = 200;
export const EMAIL_MAX = 254;
/** Empty (no address) or something@somewhere without spaces. */
/** Display names: any text without control characters. */
export const DISPLAY_NAME_PATTERN = '^[^\\p{Cc}]*$';
export const EMAIL_PATTERN = '^(?:[^\\s@]+@[^\\s@]+)?$';
export const ROLE_NAME_MAX = 100;
export const ROLE_DESCRIPTION_MAX = 1000;
export const PASSWORD_MAX = 1024;
/** Minimum length of a new login password until policies (spec §4) set their own rules. */
export const PASSWORD_MIN = 12;

export const IdSchema = Type.String({ pattern: UUID_PATTERN });
export const LoginNameSchema = Type.String({
  minLength: 1,
  maxLength: LOGIN_NAME_MAX,
  pattern: LOGIN_NAME_PATTERN,
});
export const NewPasswordSchema = Type.String({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX });
export const AppPermissionSchema = Type.Unsafe<AppPermission>(
  Type.String({ enum: [...APP_PERMISSIONS] }),
);
export const RoleNameSchema = Type.String({
  minLength: 1,
  maxLength: ROLE_NAME_MAX,
  pattern: LOGIN_NAME_PATTERN,
});

export const LoginRequest = Type.Object(
  {
    loginName: Type.String({ minLength: 1, maxLength: LOGIN_NAME_MAX }),
    password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX }),
    client: Type.Optional(Type.Union([Type.Literal('web'), Type.Literal('api')])),
    /** For an account with two-factor: the code from the authenticator app… */
    totpCode: Type.Optional(TotpCodeSchema),
    /** …or one of its unused recovery codes. */
    recoveryCode: Type.Optional(RecoveryCodeSchema),
  },
  { additionalProperties: false },
);
export type LoginRequest = Static<typeof LoginRequest>;

export const UserRef = Type.Object({
  id: Type.String(),
  loginName: Type.String(),
  displayName: Type.String(),
});
export type UserRef = Static<typeof UserRef>;

export const LoginResponse = Type.Object({
  token: Type.String(),
  /** ISO 8601. */
  expiresAt: Type.String(),
  mustChangePassword: Type.Boolean(),
  /**
   * The policy requires two-factor and the account has none: enrol (the `me/two-factor` routes)
   * before anything else.
   */
  mustEnrolTwoFactor: Type.Boolean(),
  user: UserRef,
});
export type LoginResponse = Static<typeof LoginResponse>;

export const RoleRef = Type.Object({
  id: Type.String(),
  name: Type.String(),
  builtin: Type.Union([Type.Literal('administrators'), Type.Literal('users'), Type.Null()]),
});
export type RoleRef = Static<typeof RoleRef>;

export const MeResponse = Type.Object({
  id: Type.String(),
  loginName: Type.String(),
  displayName: Type.String(),
  email: Type.String(),
  /** Every role the caller belongs to, directly or through sub-roles (Users included). */
  roles: Type.Array(RoleRef),
  appPermissions: Type.Array(AppPermissionSchema),
  isAdministrator: Type.Boolean(),
  mustChangePassword: Type.Boolean(),
  /** This session must enrol two-factor before anything else (the policy requires it). */
  mustEnrolTwoFactor: Type.Boolean(),
});
export type MeResponse = Static<typeof MeResponse>;

export const ChangePasswordRequest = Type.Object(
  {
    currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX }),
    newPassword: NewPasswordSchema,
  },
  { additionalProperties: false },
);
export type ChangePasswordRequest = Static<typeof ChangePasswordRequest>;

export const UserView = Type.Object({
  id: Type.String(),
  loginName: Type.String(),
  displayName: Type.String(),
  email: Type.String(),
  enabled: Type.Boolean(),
  /** Locked after too many failed logins (until `lockedUntil`, or until unlocked when null). */
  locked: Type.Boolean(),
  lockedUntil: Type.Union([Type.String(), Type.Null()]),
  mustChangePassword: Type.Boolean(),
  twoFactorEnabled: Type.Boolean(),
  /** Roles the user was made a direct member of (not Users, not through sub-roles). */
  roles: Type.Array(RoleRef),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  lastLoginAt: Type.Union([Type.String(), Type.Null()]),
});
export type UserView = Static<typeof UserView>;

export const UserList = Type.Object({
  items: Type.Array(UserView),
  total: Type.Integer(),
  limit: Type.Integer(),
  offset: Type.Integer(),
});
export type UserList = Static<typeof UserList>;

export const UserListQuery = Type.Object(
  {
    /** Page size, 1 to 500 (default 100). Query values are strings. */
    limit: Type.Optional(Type.String({ pattern: '^(?:[1-9][0-9]?|[1-4][0-9]{2}|500)$' })),
    /** Rows to skip (default 0). */
    offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$' })),
    /** Matches login names and display names (case-insensitive substring). */
    q: Type.Optional(Type.String({ maxLength: LOGIN_NAME_MAX })),
  },
  { additionalProperties: false },
);
export type UserListQuery = Static<typeof UserListQuery>;

export const CreateUserRequest = Type.Object(
  {
    loginName: LoginNameSchema,
    password: NewPasswordSchema,
    displayName: Type.Optional(
      Type.String({ maxLength: DISPLAY_NAME_MAX, pattern: DISPLAY_NAME_PATTERN }),
    ),
    email: Type.Optional(Type.String({ maxLength: EMAIL_MAX, pattern: EMAIL_PATTERN })),
    /** Ids of roles to make the user a direct member of. */
    roles: Type.Optional(Type.Array(IdSchema, { maxItems: 100, uniqueItems: true })),
    /** Default true: the user must change the password the administrator chose. */
    mustChangePassword: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateUserRequest = Static<typeof CreateUserRequest>;

export const UpdateUserRequest = Type.Object(
  {
    displayName: Type.Optional(
      Type.String({ maxLength: DISPLAY_NAME_MAX, pattern: DISPLAY_NAME_PATTERN }),
    ),
    email: Type.Optional(Type.String({ maxLength: EMAIL_MAX, pattern: EMAIL_PATTERN })),
  },
  { additionalProperties: false },
);
export type UpdateUserRequest = Static<typeof UpdateUserRequest>;

export const ResetPasswordRequest = Type.Object(
  { newPassword: NewPasswordSchema },
  { additionalProperties: false },
);
export type ResetPasswordRequest = Static<typeof ResetPasswordRequest>;

export const RoleSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  builtin: Type.Union([Type.Literal('administrators'), Type.Literal('users'), Type.Null()]),
  /** Application permissions held by the role (Administrators: all of them). */
  permissions: Type.Array(AppPermissionSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type RoleSummary = Static<typeof RoleSummary>;

export const RoleView = Type.Object({
  ...RoleSummary.properties,
  /** Direct members (empty for Users: every user is implicitly a member). */
  members: Type.Array(UserRef),
  /** Sub-roles: their members count as members of this role. */
  subRoles: Type.Array(RoleRef),
});
export type RoleView = Static<typeof RoleView>;

export const RoleList = Type.Object({ items: Type.Array(RoleSummary) });
export type RoleList = Static<typeof RoleList>;

export const CreateRoleRequest = Type.Object(
  {
    name: RoleNameSchema,
    description: Type.Optional(Type.String({ maxLength: ROLE_DESCRIPTION_MAX })),
    permissions: Type.Optional(
      Type.Array(AppPermissionSchema, { maxItems: APP_PERMISSIONS.length, uniqueItems: true }),
    ),
  },
  { additionalProperties: false },
);
export type CreateRoleRequest = Static<typeof CreateRoleRequest>;

export const UpdateRoleRequest = Type.Object(
  {
    name: Type.Optional(RoleNameSchema),
    description: Type.Optional(Type.String({ maxLength: ROLE_DESCRIPTION_MAX })),
  },
  { additionalProperties: false },
);
export type UpdateRoleRequest = Static<typeof UpdateRoleRequest>;

export const SetRolePermissionsRequest = Type.Object(
  {
    permissions: Type.Array(AppPermissionSchema, {
      maxItems: APP_PERMISSIONS.length,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);
export type SetRolePermissionsRequest = Static<typeof SetRolePermissionsRequest>;
