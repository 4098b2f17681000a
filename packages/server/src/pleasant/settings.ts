import type { Kysely } from 'kysely';
import {
  DEFAULT_PLEASANT_API_SETTINGS,
  type PleasantApiSettings,
  type UpdatePleasantApiSettings,
} from '@strongroom/protocol';
import type { Database } from '../db/schema.js';
import type { Store } from '../db/connect.js';
import type { AuditRecorder } from '../audit/recorder.js';
import { auditActor, type Actor } from '../http/auth.js';
import { mergeSettings, settingsDiff, storedSettings } from '../shared/settings.js';

/** Where the settings live: one row of the `meta` table, JSON. */
const META_KEY = 'pleasant_api_settings';
/** Changes are serialised across processes (the row may not exist yet). */
const SETTINGS_LOCK = 'settings.pleasant-api';

/**
 * The administrator's settings of the Pleasant-compatible API (docs/pleasant-api.md). Read from the
 * database on every use (one indexed read, only by the routes they govern), so a change applies
 * at once on every server process. Every change is audited as `Server Settings Changed`.
 */
export class PleasantApiSettingsService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditRecorder,
  ) {}

  async get(db: Kysely<Database> = this.store.db): Promise<PleasantApiSettings> {
    const row = await db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', META_KEY)
      .executeTakeFirst();
    return row
      ? storedSettings(row.value, DEFAULT_PLEASANT_API_SETTINGS)
      : DEFAULT_PLEASANT_API_SETTINGS;
  }

  async update(actor: Actor, patch: UpdatePleasantApiSettings): Promise<PleasantApiSettings> {
    return this.store.exclusive(SETTINGS_LOCK, async (trx) => {
      const before = await this.get(trx);
      const after = mergeSettings(before, patch);
      const changes = settingsDiff(before, after);
      if (Object.keys(changes).length === 0) return after;
      const value = JSON.stringify(after);
      await trx
        .insertInto('meta')
        .values({ key: META_KEY, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
      await this.audit.record(
        {
          event: 'Server Settings Changed',
          status: 'success',
          actor: auditActor(actor, actor.ip),
          target: 'Pleasant-compatible API',
          details: { changes },
        },
        trx,
      );
      return after;
    });
  }
}
