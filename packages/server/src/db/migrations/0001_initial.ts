import type { Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * Initial schema. FROZEN: once landed, never edit this file; add a new migration instead.
 */
export const m0001_initial: Migration = {
  name: '0001_initial',
  async up(db: Kysely<any>, dialect) {
    const blob = dialect === 'postgres' ? 'bytea' : 'blob';
    const big = 'bigint';

    await db.schema
      .createTable('meta')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('data_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('wrapped', blob, (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('active', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('login_name', 'text', (c) => c.notNull())
      .addColumn('login_key', 'text', (c) => c.notNull().unique())
      .addColumn('display_name', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('email', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('must_change_password', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('password_changed_at', big, (c) => c.notNull())
      .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', big)
      .addColumn('locked_indefinitely', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('policy_id', 'text')
      .addColumn('totp_secret_sealed', blob)
      .addColumn('totp_enabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .addColumn('last_login_at', big)
      .execute();

    await db.schema
      .createTable('roles')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('builtin', 'text', (c) => c.unique())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('role_members')
      .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('role_members_pk', ['role_id', 'user_id'])
      .execute();
    await db.schema.createIndex('role_members_user').on('role_members').column('user_id').execute();

    await db.schema
      .createTable('role_children')
      .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addColumn('child_role_id', 'text', (c) =>
        c.notNull().references('roles.id').onDelete('cascade'),
      )
      .addPrimaryKeyConstraint('role_children_pk', ['role_id', 'child_role_id'])
      .execute();

    await db.schema
      .createTable('role_permissions')
      .addColumn('role_id', 'text', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addColumn('permission', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('role_permissions_pk', ['role_id', 'permission'])
      .execute();

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('last_used_at', big, (c) => c.notNull())
      .addColumn('expires_at', big, (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

    await db.schema
      .createTable('rate_limits')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('window_start', big, (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('folders')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('parent_id', 'text', (c) => c.references('folders.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('notes', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('custom_fields', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('client_meta', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('block_inheritance', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('owner_user_id', 'text')
      .addColumn('expires_at', big)
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('modified_at', big, (c) => c.notNull())
      .addColumn('archived_at', big)
      .execute();
    await db.schema.createIndex('folders_parent').on('folders').column('parent_id').execute();

    await db.schema
      .createTable('entries')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('folder_id', 'text', (c) => c.notNull().references('folders.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('url', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('notes_sealed', blob)
      .addColumn('password_sealed', blob)
      .addColumn('custom_fields_sealed', blob)
      .addColumn('client_meta', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('expires_at', big)
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('modified_at', big, (c) => c.notNull())
      .addColumn('modified_by', 'text')
      .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('archived_at', big)
      .execute();
    await db.schema.createIndex('entries_folder').on('entries').column('folder_id').execute();

    await db.schema
      .createTable('entry_versions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('entry_id', 'text', (c) =>
        c.notNull().references('entries.id').onDelete('cascade'),
      )
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('snapshot_sealed', blob, (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addUniqueConstraint('entry_versions_entry_version', ['entry_id', 'version'])
      .execute();

    await db.schema
      .createTable('attachments')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('entry_id', 'text', (c) =>
        c.notNull().references('entries.id').onDelete('cascade'),
      )
      .addColumn('file_name', 'text', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('data_sealed', blob, (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('removed_at', big)
      .execute();
    await db.schema.createIndex('attachments_entry').on('attachments').column('entry_id').execute();

    await db.schema
      .createTable('access_levels')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull().unique())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('builtin_key', 'text', (c) => c.unique())
      .addColumn('allow', 'text', (c) => c.notNull())
      .addColumn('grant_flags', 'text', (c) => c.notNull())
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('updated_at', big, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('grants')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('node_type', 'text', (c) => c.notNull())
      .addColumn('node_id', 'text', (c) => c.notNull())
      .addColumn('principal_type', 'text', (c) => c.notNull())
      .addColumn('principal_id', 'text', (c) => c.notNull())
      .addColumn('access_level_id', 'text', (c) => c.notNull().references('access_levels.id'))
      .addColumn('expires_at', big)
      .addColumn('created_at', big, (c) => c.notNull())
      .addColumn('created_by', 'text')
      .execute();
    await db.schema.createIndex('grants_node').on('grants').column('node_id').execute();
    await db.schema.createIndex('grants_principal').on('grants').column('principal_id').execute();
    await db.schema.createIndex('grants_expires').on('grants').column('expires_at').execute();

    const audit = db.schema.createTable('audit_log');
    await (
      dialect === 'postgres'
        ? audit.addColumn('seq', 'bigserial', (c) => c.primaryKey())
        : audit.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
    )
      .addColumn('id', 'text', (c) => c.notNull().unique())
      .addColumn('at', big, (c) => c.notNull())
      .addColumn('user_id', 'text')
      .addColumn('login_name', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('ip', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('event', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('offline', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('occurred_at', big)
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
    await db.schema.createIndex('audit_log_event').on('audit_log').column('event').execute();
    await db.schema.createIndex('audit_log_user').on('audit_log').column('user_id').execute();
  },
};
