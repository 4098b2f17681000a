import { type SecretSealer } from '@strongroom/crypto';
import type { ServerConfig } from './config/config.js';
import { openStore, type Store } from './db/connect.js';
import { migrate } from './db/migrator.js';
import { loadSealer, loadWrappingKey } from './keys/keys.js';
import { AuditRecorder } from './audit/recorder.js';
import { systemClock, type Clock } from './shared/clock.js';
import type { Authenticator } from './http/auth.js';
import { ensureServerIdentity } from './meta.js';

/**
 * Everything the HTTP layer and the command-line tools use, wired once. Services receive their
 * dependencies here; nothing else constructs them.
 */
export interface Services {
  config: ServerConfig;
  clock: Clock;
  store: Store;
  sealer: SecretSealer;
  audit: AuditRecorder;
  authenticator: Authenticator;
  serverId: string;
  /** Stops timers and closes the database. */
  close(): Promise<void>;
}

export interface ComposeOptions {
  clock?: Clock;
  /** Create the wrapping key file if missing (server start: yes; admin tools: no). */
  createKeyFile?: boolean;
  /** Run background jobs (expired-grant sweep). Tests turn this off and call the sweep. */
  backgroundJobs?: boolean;
}

export async function compose(config: ServerConfig, opts: ComposeOptions = {}): Promise<Services> {
  const clock = opts.clock ?? systemClock;
  const store = openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pgSchema: config.pgSchema,
  });
  const timers: NodeJS.Timeout[] = [];
  try {
    await migrate(store.db, store.dialect);
    const { key } = loadWrappingKey(config, opts.createKeyFile ?? true);
    const sealer = await loadSealer(store, key);
    const serverId = await ensureServerIdentity(store);
    const audit = new AuditRecorder(store, clock);

    const services: Services = {
      config,
      clock,
      store,
      sealer,
      audit,
      authenticator: { authenticate: async () => null },
      serverId,
      close: async () => {
        for (const t of timers) clearInterval(t);
        await store.close();
      },
    };
    return services;
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}
