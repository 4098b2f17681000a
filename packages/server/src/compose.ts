import { type SecretSealer } from '@strongroom/crypto';
import type { ServerConfig } from './config/config.js';
import { openStore, type Store } from './db/connect.js';
import { migrate } from './db/migrator.js';
import { loadSealer, loadWrappingKey } from './keys/keys.js';
import { AuditRecorder } from './audit/recorder.js';
import { AuditLogService } from './audit/service.js';
import { openFileSink, type AuditSink } from './audit/sink.js';
import { systemClock, type Clock } from './shared/clock.js';
import type { Authenticator } from './http/auth.js';
import { ensureServerIdentity } from './meta.js';
import { SessionAuthenticator } from './users/authenticator.js';
import { ensureBuiltinRoles } from './users/first-start.js';
import { AccessService, seedAccessLevels, startSweep } from './access/service.js';
import { VaultService } from './vault/service.js';
import { ensureVaultRoots } from './vault/roots.js';
import { ClientConfigService } from './clientconfig/service.js';
import { PolicyService } from './policies/service.js';
import { OfflineService } from './offline/service.js';
import { withAfterCommit } from './offline/after-commit.js';
import { PleasantApiSettingsService } from './pleasant/settings.js';

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
  /** Viewing, exporting, configuring and verifying the audit log. */
  auditLog: AuditLogService;
  authenticator: Authenticator;
  serverId: string;
  /** Access levels, grants, effective permissions, paths (spec §3). */
  access: AccessService;
  /** Folders, entries, attachments, history, tree, search, Archive, private folders (spec §1). */
  vault: VaultService;
  /** Client configuration rules and each user's effective client settings (spec §5). */
  clientConfig: ClientConfigService;
  /** Policies: account rules per user or role, and each user's effective policy (spec §4). */
  policies: PolicyService;
  /** Offline package, revision, cache inventory and journal (offline-mode §4). */
  offline: OfflineService;
  /** Administrator settings of the Pleasant-compatible API (docs/pleasant-api.md). */
  pleasantApi: PleasantApiSettingsService;
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
  const plainStore = openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    pgSchema: config.pgSchema,
  });
  // After every committed write, offline caches are re-checked when access may have shrunk
  // (a counter read otherwise; see offline/after-commit.ts). Wired once the service exists.
  let afterCommit = (): Promise<void> => Promise.resolve();
  const store = withAfterCommit(plainStore, () => afterCommit());
  const timers: NodeJS.Timeout[] = [];
  try {
    await migrate(store.db, store.dialect);
    const { key } = loadWrappingKey(config, opts.createKeyFile ?? true);
    const sealer = await loadSealer(store, key, config);
    const serverId = await ensureServerIdentity(store);
    const audit = new AuditRecorder(store, clock);
    await ensureBuiltinRoles(store, clock);
    await seedAccessLevels(store, clock);
    const access = new AccessService(store, clock, audit);
    const roots = await ensureVaultRoots(store, clock);
    const vault = new VaultService({
      store,
      clock,
      sealer,
      audit,
      roots,
      access,
      attachmentLimitBytes: config.attachmentLimitBytes,
    });
    // The SIEM sink: JSON lines appended to a file that a forwarder can tail.
    const auditSink: AuditSink | undefined = config.auditSinkFile
      ? openFileSink(config.auditSinkFile)
      : undefined;
    if (auditSink) audit.addSink((record) => auditSink.write(record));
    const auditLog = new AuditLogService(store, audit, clock);

    const services: Services = {
      config,
      clock,
      store,
      sealer,
      audit,
      auditLog,
      authenticator: new SessionAuthenticator({ store, clock, config }),
      serverId,
      access,
      vault,
      clientConfig: new ClientConfigService(store, clock, audit),
      policies: new PolicyService(store, clock, audit),
      offline: new OfflineService({
        store: plainStore,
        clock,
        audit,
        serverId,
        vault,
        clientConfig: { effectiveFor: (actor) => services.clientConfig.effectiveFor(actor) },
        passwordRequirements: async (userId, roleIds) =>
          (await services.policies.effectiveFor(userId, roleIds)).settings.passwordRequirements,
      }),
      pleasantApi: new PleasantApiSettingsService(store, audit),
      close: async () => {
        for (const t of timers) clearInterval(t);
        await audit.flushSinks();
        auditSink?.close();
        await sealer.close();
        await store.close();
      },
    };
    afterCommit = () => services.offline.afterCommit();
    if (opts.backgroundJobs !== false) {
      timers.push(startSweep(services));
      timers.push(services.offline.startRecheck(config.sweepIntervalMs));
    }
    return services;
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}
