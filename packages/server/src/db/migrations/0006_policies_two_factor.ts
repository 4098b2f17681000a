import { sql, type Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/** Id of the Default Policy, created here so every process sees exactly one (spec §4). */
export const DEFAULT_POLICY_ID = '7d2e9b40-1c5a-4f83-9e06-3b8a1d4c5f21';

/** The documented defaults as stored when the Default Policy is created (see protocol). */
const DEFAULT_SETTINGS = {
  passwordRequirements: {
    minLength: 12,
    maxLength: 1024,
    minUppercase: 0,
    minLowercase: 0,
    minDigits: 0,
    minSymbols: 0,
    minClasses: 0,
  },
  lockout: { threshold: 5, durationMinutes: 15 },
  timeouts: { sessionIdleMinutes: 30, sessionLifetimeMinutes: 720, apiTokenLifetimeMinutes: 60 },
  twoFactor: 'optional',
};

/**
 * Policies and TOTP two-factor (spec §4).
 * - `policies`: name, settings (JSON text), `position` ordering the policies assigned to roles,
 *   `is_default` = 1 for the Default Policy (inserted here, never deleted). A user's own policy
 *   is `users.policy_id` (column of 0001); a role's is its row in `policy_roles` (one per role).
 * - `sessions.idle_timeout_ms` (null = no idle timeout, API tokens) and `sessions.two_factor_pending`
 *   (1 = the policy requires two-factor and the user must enrol before anything else): both fixed
 *   at login from the policy then in force, so a request needs no policy lookup.
 * - `users.totp_last_step`: the last TOTP time step accepted, so a code is never accepted twice;
 *   `users.totp_enrolled_at`. The secret is `users.totp_secret_sealed` (0001); while
 *   `totp_enabled` = 0 a sealed secret is an enrolment waiting for its first code.
 * - `recovery_codes`: hashed single-use codes; `used_at` set when spent.
 *
 * FROZEN: once landed, never edit this file; add a new migration instead.
 */
export const m0006_policies_two_factor: Migration = {
  name: '0006_policies_two_factor',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('policies')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('name_key', 'text', (c) => c.notNull().unique())
      .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('position', 'integer')
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('policy_roles')
      .addColumn('role_id', 'text', (c) =>
        c.primaryKey().references('roles.id').onDelete('cascade'),
      )
      .addColumn('policy_id', 'text', (c) =>
        c.notNull().references('policies.id').onDelete('cascade'),
      )
      .execute();
    await db.schema
      .createIndex('policy_roles_policy')
      .on('policy_roles')
      .column('policy_id')
      .execute();
    await db.schema.createIndex('users_policy').on('users').column('policy_id').execute();

    await db.schema.alterTable('sessions').addColumn('idle_timeout_ms', 'bigint').execute();
    await db.schema
      .alterTable('sessions')
      .addColumn('two_factor_pending', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('users').addColumn('totp_last_step', 'bigint').execute();
    await db.schema.alterTable('users').addColumn('totp_enrolled_at', 'bigint').execute();
    // Sessions made before this migration keep the idle timeout they had (web: 30 minutes).
    await sql`update sessions set idle_timeout_ms = 1800000 where kind = 'web'`.execute(db);

    await db.schema
      .createTable('recovery_codes')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('code_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addPrimaryKeyConstraint('recovery_codes_pk', ['user_id', 'code_hash'])
      .execute();

    const now = Date.now();
    await db
      .insertInto('policies')
      .values({
        id: DEFAULT_POLICY_ID,
        name: 'Default Policy',
        name_key: 'default policy',
        is_default: 1,
        position: null,
        settings: JSON.stringify(DEFAULT_SETTINGS),
        created_at: now,
        updated_at: now,
      })
      .execute();
  },
};
