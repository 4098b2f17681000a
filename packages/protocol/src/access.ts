import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from './ids.js';
import { VAULT_PERMISSIONS } from './permissions.js';

/**
 * Wire schemas of the access area: access levels, grants (user access) and block inheritance
 * (spec §3). Times on the wire are ISO 8601 strings.
 */

const Uuid = Type.String({ pattern: UUID_PATTERN, maxLength: 36 });

/** One vault permission by its catalogue key. */
export const VaultPermissionSchema = Type.Enum([...VAULT_PERMISSIONS]);

/** A list of vault permissions: each at most once. */
export const PermissionListSchema = Type.Array(VaultPermissionSchema, {
  uniqueItems: true,
  maxItems: VAULT_PERMISSIONS.length,
});

export const AccessLevelSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  /** True for the built-in levels, which can't be edited or deleted. */
  builtin: Type.Boolean(),
  /** Stable key of a built-in level ('read-only', 'full'…), else null. */
  builtinKey: Type.Union([Type.String(), Type.Null()]),
  /** Permissions with the A flag (the holder may do it). */
  allow: PermissionListSchema,
  /** Permissions with the G flag (the holder may grant it). */
  grant: PermissionListSchema,
  /** Number of grants that use the level. */
  grantCount: Type.Integer(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export type AccessLevel = Static<typeof AccessLevelSchema>;

export const AccessLevelListSchema = Type.Object({ levels: Type.Array(AccessLevelSchema) });
export type AccessLevelList = Static<typeof AccessLevelListSchema>;

const LevelName = Type.String({ minLength: 1, maxLength: 100 });
const LevelDescription = Type.String({ maxLength: 1000 });

export const CreateAccessLevelSchema = Type.Object(
  {
    name: LevelName,
    description: Type.Optional(LevelDescription),
    allow: PermissionListSchema,
    grant: PermissionListSchema,
  },
  { additionalProperties: false },
);
export type CreateAccessLevel = Static<typeof CreateAccessLevelSchema>;

export const UpdateAccessLevelSchema = Type.Object(
  {
    name: Type.Optional(LevelName),
    description: Type.Optional(LevelDescription),
    allow: Type.Optional(PermissionListSchema),
    grant: Type.Optional(PermissionListSchema),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateAccessLevel = Static<typeof UpdateAccessLevelSchema>;

export const DeleteAccessLevelQuerySchema = Type.Object(
  {
    /** Level that takes over every grant of the deleted one (needed when it is in use). */
    replaceWith: Type.Optional(Uuid),
  },
  { additionalProperties: false },
);
export type DeleteAccessLevelQuery = Static<typeof DeleteAccessLevelQuerySchema>;

export const GrantPrincipalTypeSchema = Type.Enum(['user', 'role']);
export type GrantPrincipalType = 'user' | 'role';

export const GrantPrincipalSchema = Type.Object({
  type: GrantPrincipalTypeSchema,
  id: Type.String(),
  /** Display name of a user (login name when it has none), or the role's name. */
  name: Type.String(),
  /** Login name of a user; null for a role. */
  loginName: Type.Union([Type.String(), Type.Null()]),
});

export const AccessGrantSchema = Type.Object({
  id: Type.String(),
  nodeType: Type.Enum(['folder', 'entry']),
  /** The node the grant was made on (for an inherited grant: the ancestor folder). */
  nodeId: Type.String(),
  /** False when the grant was made on this node; true when it comes from an ancestor folder. */
  inherited: Type.Boolean(),
  /** The folder the grant was made on; null when it was made on the entry itself. */
  fromFolderId: Type.Union([Type.String(), Type.Null()]),
  /** Full path of the node the grant was made on. */
  fromPath: Type.String(),
  principal: GrantPrincipalSchema,
  accessLevel: Type.Object({ id: Type.String(), name: Type.String() }),
  /** Remove-access-after time; null = permanent. */
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});
export type AccessGrant = Static<typeof AccessGrantSchema>;

export const NodeAccessSchema = Type.Object({
  nodeType: Type.Enum(['folder', 'entry']),
  nodeId: Type.String(),
  path: Type.String(),
  /** For a folder: whether it blocks access inherited from above (always false for an entry). */
  blockInheritance: Type.Boolean(),
  /** Grants made on the node, then those inherited from its ancestors (nearest first). */
  grants: Type.Array(AccessGrantSchema),
});
export type NodeAccess = Static<typeof NodeAccessSchema>;

export const CreateGrantSchema = Type.Object(
  {
    principalType: GrantPrincipalTypeSchema,
    principalId: Uuid,
    accessLevelId: Uuid,
    /** Remove access after this time (must be in the future); null or absent = permanent. */
    expiresAt: Type.Optional(
      Type.Union([Type.String({ format: 'date-time', maxLength: 64 }), Type.Null()]),
    ),
  },
  { additionalProperties: false },
);
export type CreateGrant = Static<typeof CreateGrantSchema>;

export const BlockInheritanceSchema = Type.Object(
  { block: Type.Boolean() },
  { additionalProperties: false },
);
export type BlockInheritance = Static<typeof BlockInheritanceSchema>;

export const BlockInheritanceResultSchema = Type.Object({
  folderId: Type.String(),
  blockInheritance: Type.Boolean(),
});
export type BlockInheritanceResult = Static<typeof BlockInheritanceResultSchema>;
