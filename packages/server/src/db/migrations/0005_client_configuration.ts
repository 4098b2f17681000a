import type { Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/** Id of the Default Rule, created here so every process sees exactly one (spec §5). */
export const DEFAULT_CLIENT_RULE_ID = '5a4c1f0e-9d3b-4e2a-8f61-0a7d3c2b1e10';

/** The documented defaults as stored when the Default Rule is created (see protocol). */
const DEFAULT_SETTINGS = {
  expireCacheAfterDays: null,
  maxOfflineHours: null,
  clipboardClearSeconds: 30,
  lockAfterIdleMinutes: 15,
  passwordGenerator: { length: 20, uppercase: true, lowercase: true, digits: true, symbols: true },
  exportAllowed: false,
};

/**
 * `client_config_rules`: client settings attached to a user or a role, plus the Default Rule
 * (principal_type and principal_id null). One rule per principal (unique index; the Default
 * Rule's nulls never collide). `position` orders role rules; settings are JSON text. The
 * Default Rule is inserted here: migrations run once under an exclusive lock, so two processes
 * starting together never create two.
 *
 * FROZEN: once landed, never edit this file; add a new migration instead.
 */
export const m0005_client_configuration: Migration = {
  name: '0005_client_configuration',
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('client_config_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('principal_type', 'text')
      .addColumn('principal_id', 'text')
      .addColumn('position', 'integer')
      .addColumn('settings', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('client_config_rules_principal')
      .on('client_config_rules')
      .columns(['principal_type', 'principal_id'])
      .unique()
      .execute();
    const now = Date.now();
    await db
      .insertInto('client_config_rules')
      .values({
        id: DEFAULT_CLIENT_RULE_ID,
        name: 'Default Rule',
        principal_type: null,
        principal_id: null,
        position: null,
        settings: JSON.stringify(DEFAULT_SETTINGS),
        created_at: now,
        updated_at: now,
      })
      .execute();
  },
};
