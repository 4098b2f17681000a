import type { Generated } from 'kysely';

/**
 * The database schema, shared by SQLite and PostgreSQL. Conventions that keep both dialects
 * identical: ids are lower-case GUID text; times are integer milliseconds since the epoch (UTC);
 * booleans are integers 0/1; structured values are JSON text; sealed secrets are binary envelopes.
 */
export interface Database {
  meta: MetaTable;
  data_keys: DataKeyTable;
  users: UserTable;
  roles: RoleTable;
  role_members: RoleMemberTable;
  role_children: RoleChildTable;
  role_permissions: RolePermissionTable;
  sessions: SessionTable;
  policies: PolicyTable;
  policy_roles: PolicyRoleTable;
  recovery_codes: RecoveryCodeTable;
  rate_limits: RateLimitTable;
  folders: FolderTable;
  entries: EntryTable;
  entry_versions: EntryVersionTable;
  attachments: AttachmentTable;
  access_levels: AccessLevelTable;
  grants: GrantTable;
  audit_log: AuditLogTable;
  schema_migrations: SchemaMigrationTable;
  revisions: RevisionTable;
  client_config_rules: ClientConfigRuleTable;
  offline_caches: OfflineCacheTable;
  offline_cache_entries: OfflineCacheEntryTable;
  offline_journal: OfflineJournalTable;
}

/** Caches the server packaged for offline use: the inventory (migration 0007). */
export interface OfflineCacheTable {
  id: string;
  /** The owner (no foreign key: the inventory outlives the user). */
  user_id: string;
  /** The owner's login name exactly as stored when the cache was made. */
  login_name: string;
  client_label: string | null;
  comment: string | null;
  created_at: number;
  /** Expire Cache After; null = never. */
  expires_at: number | null;
  /** Maximum offline lifetime; null = no cap. */
  max_offline_until: number | null;
  entry_count: number;
  /** The owner's revision when the cache was made. */
  revision: string;
  /** 'active' | 'revoked' | 'cleared'. */
  status: string;
  status_changed_at: number | null;
  status_reason: string | null;
  /** Login name of who changed the status ('strongroom' for the server). */
  status_by: string | null;
}

/** Which entries went into which cache (migration 0007). */
export interface OfflineCacheEntryTable {
  cache_id: string;
  entry_id: string;
}

/** Offline journal records already recorded, by the client's record id (migration 0007). */
export interface OfflineJournalTable {
  cache_id: string;
  record_id: string;
  entry_id: string;
  /** 'viewed' | 'copied'. */
  action: string;
  occurred_at: number;
  recorded_at: number;
}

/** Client configuration rules (migration 0005). */
export interface ClientConfigRuleTable {
  id: string;
  name: string;
  /** 'user' or 'role'; null for the Default Rule. */
  principal_type: string | null;
  principal_id: string | null;
  /** Order among role rules (1 = first); null otherwise. */
  position: number | null;
  /** ClientSettings as JSON text. */
  settings: string;
  created_at: number;
  updated_at: number;
}

/** Counters bumped by triggers when watched tables change (migration 0003). */
export interface RevisionTable {
  /** 'folders' | 'entries' | 'access_levels' | 'vault'; 'grants' | 'principals' (0007). */
  name: string;
  value: number;
}

export interface SchemaMigrationTable {
  name: string;
  applied_at: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface DataKeyTable {
  id: string;
  wrapped: Buffer;
  created_at: number;
  active: number;
}

export interface UserTable {
  id: string;
  /** Exactly as the administrator typed it (a UPN keeps its case). */
  login_name: string;
  /** Lower-case login name: unique, used to look users up. */
  login_key: string;
  display_name: string;
  email: string;
  enabled: number;
  password_hash: string;
  must_change_password: number;
  password_changed_at: number;
  failed_logins: number;
  locked_until: number | null;
  /** 1 when locked until an administrator unlocks. */
  locked_indefinitely: number;
  policy_id: string | null;
  totp_secret_sealed: Buffer | null;
  totp_enabled: number;
  /** The last TOTP time step accepted (a code is never accepted twice). */
  totp_last_step: number | null;
  totp_enrolled_at: number | null;
  created_at: number;
  updated_at: number;
  last_login_at: number | null;
}

export interface PolicyTable {
  id: string;
  name: string;
  /** Lower-case name: unique. */
  name_key: string;
  /** 1 for the Default Policy. */
  is_default: number;
  /** Order among policies assigned to roles (lower first); null for the Default Policy. */
  position: number | null;
  /** PolicySettings as JSON text. */
  settings: string;
  created_at: number;
  updated_at: number;
}

/** The policy of a role (at most one per role). A user's own policy is `users.policy_id`. */
export interface PolicyRoleTable {
  role_id: string;
  policy_id: string;
}

export interface RecoveryCodeTable {
  user_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface RoleTable {
  id: string;
  name: string;
  name_key: string;
  description: string;
  /** 'administrators' or 'users' for the built-in roles, else null. */
  builtin: string | null;
  created_at: number;
  updated_at: number;
}

export interface RoleMemberTable {
  role_id: string;
  user_id: string;
}

export interface RoleChildTable {
  /** The outer role. */
  role_id: string;
  /** The sub-role whose members count as members of the outer role. */
  child_role_id: string;
}

export interface RolePermissionTable {
  role_id: string;
  permission: string;
}

export interface SessionTable {
  id: string;
  user_id: string;
  token_hash: string;
  /** 'web' or 'api'. */
  kind: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  ip: string;
  /** Idle timeout fixed at login from the policy; null = none (API tokens). */
  idle_timeout_ms: number | null;
  /** 1 = the policy requires two-factor and the user must enrol before anything else. */
  two_factor_pending: number;
}

export interface RateLimitTable {
  key: string;
  window_start: number;
  count: number;
}

export interface FolderTable {
  id: string;
  parent_id: string | null;
  name: string;
  /** 'root' | 'private-root' | 'private' | 'folder'. */
  kind: string;
  notes: string;
  tags: string;
  custom_fields: string;
  client_meta: string;
  block_inheritance: number;
  owner_user_id: string | null;
  expires_at: number | null;
  created_at: number;
  modified_at: number;
  /** Set while the folder is in the Archive; it keeps its parent so it can be restored. */
  archived_at: number | null;
}

export interface EntryTable {
  id: string;
  folder_id: string;
  name: string;
  username: string;
  url: string;
  tags: string;
  notes_sealed: Buffer | null;
  password_sealed: Buffer | null;
  /** Custom fields (names, values, protected flags), sealed as one JSON document. */
  custom_fields_sealed: Buffer | null;
  client_meta: string;
  expires_at: number | null;
  created_at: number;
  modified_at: number;
  modified_by: string | null;
  version: number;
  archived_at: number | null;
  /** The `entries` revision at the row's last insert or update, set by triggers (migration 0004). */
  change_seq: Generated<number>;
}

export interface EntryVersionTable {
  id: string;
  entry_id: string;
  version: number;
  /** The whole entry as it was (fields and secrets), sealed. */
  snapshot_sealed: Buffer;
  created_at: number;
  created_by: string | null;
}

export interface AttachmentTable {
  id: string;
  entry_id: string;
  file_name: string;
  size: number;
  data_sealed: Buffer;
  created_at: number;
  /** Removed from the current version; kept so an older version can be restored. */
  removed_at: number | null;
}

export interface AccessLevelTable {
  id: string;
  name: string;
  name_key: string;
  description: string;
  /** Key of a built-in level ('full', 'read-only'…), else null. */
  builtin_key: string | null;
  /** JSON array of permissions with the A flag. */
  allow: string;
  /** JSON array of permissions with the G flag. */
  grant_flags: string;
  created_at: number;
  updated_at: number;
}

export interface GrantTable {
  id: string;
  /** 'folder' | 'entry'. */
  node_type: string;
  node_id: string;
  /** 'user' | 'role'. */
  principal_type: string;
  principal_id: string;
  access_level_id: string;
  /** Remove-access-after time; null = permanent. */
  expires_at: number | null;
  created_at: number;
  created_by: string | null;
}

export interface AuditLogTable {
  seq: Generated<number>;
  id: string;
  at: number;
  user_id: string | null;
  login_name: string;
  ip: string;
  event: string;
  /** 'success' | 'denied'. */
  status: string;
  target: string;
  /** JSON object. */
  details: string;
  /** 1 when the action happened on an offline client and was reported later. */
  offline: number;
  /** For offline reports: when the action happened on the client. */
  occurred_at: number | null;
  prev_hash: string;
  hash: string;
}
