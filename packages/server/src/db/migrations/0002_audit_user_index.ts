import { sql, type Kysely } from 'kysely';
import type { Migration } from '../migrator.js';

/**
 * The audit view filters by login name without regard to case, newest first: an index on
 * (lower(login_name), seq) answers that from the index on both dialects, however long the log.
 */
export const m0002_audit_user_index: Migration = {
  name: '0002_audit_user_index',
  async up(db: Kysely<any>) {
    await sql`create index audit_log_login on audit_log (lower(login_name), seq)`.execute(db);
  },
};
