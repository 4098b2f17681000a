/**
 * The vault permission catalogue (spec §3). Each permission has an A flag (may do it) and a G flag
 * (may grant it). Names on the wire are these camelCase keys; Pleasant names are mapped elsewhere.
 */
export const VAULT_PERMISSIONS = [
  'viewFolders',
  'viewEntryNames',
  'viewEntryContents',
  'viewEntryPassword',
  'viewEntryOffline',
  'viewEntryHistory',
  'addEntries',
  'addFolders',
  'modifyEntries',
  'modifyFolders',
  'moveEntries',
  'moveFolders',
  'archiveEntries',
  'archiveFolders',
  'deleteEntries',
  'deleteFolders',
  'setBlockInheritance',
  'viewAccess',
] as const;

export type VaultPermission = (typeof VAULT_PERMISSIONS)[number];

export function isVaultPermission(value: string): value is VaultPermission {
  return (VAULT_PERMISSIONS as readonly string[]).includes(value);
}

/** Application permissions held by roles; they govern administration (spec §2). */
export const APP_PERMISSIONS = [
  'manageUsers',
  'setUserPasswords',
  'manageRoles',
  'manageAccessLevels',
  'managePolicies',
  'manageClientConfiguration',
  'viewAuditLog',
  'configureAuditLog',
  'manageOfflineCaches',
  'createPrivateFolders',
] as const;

export type AppPermission = (typeof APP_PERMISSIONS)[number];

export function isAppPermission(value: string): value is AppPermission {
  return (APP_PERMISSIONS as readonly string[]).includes(value);
}

export interface PermissionFlags {
  /** Permissions the holder may exercise (A flags). */
  allow: VaultPermission[];
  /** Permissions the holder may grant to others (G flags). */
  grant: VaultPermission[];
}

const ALL = [...VAULT_PERMISSIONS];
const without = (...names: VaultPermission[]): VaultPermission[] =>
  ALL.filter((p) => !names.includes(p));

/** Built-in access levels (spec §3). Full never includes View Entry Offline. */
export const BUILTIN_ACCESS_LEVELS: ReadonlyArray<{ key: string; name: string } & PermissionFlags> =
  [
    {
      key: 'read-only',
      name: 'Read-Only',
      allow: [
        'viewFolders',
        'viewEntryNames',
        'viewEntryContents',
        'viewEntryPassword',
        'viewEntryHistory',
        'viewAccess',
      ],
      grant: [],
    },
    {
      key: 'full',
      name: 'Full',
      allow: without('viewEntryOffline', 'setBlockInheritance'),
      grant: [],
    },
    {
      key: 'full-offline',
      name: 'Full + Offline',
      allow: without('setBlockInheritance'),
      grant: [],
    },
    {
      key: 'full-grant',
      name: 'Full + Grant',
      allow: without('viewEntryOffline', 'setBlockInheritance'),
      grant: without('viewEntryOffline'),
    },
    {
      key: 'full-grant-block',
      name: 'Full + Grant + Block',
      allow: without('viewEntryOffline'),
      grant: without('viewEntryOffline'),
    },
    {
      key: 'grant-only',
      name: 'Grant Only',
      allow: [],
      grant: [...ALL],
    },
  ];
