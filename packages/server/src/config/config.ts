import { resolve } from 'node:path';
import { DEFAULT_PASSWORD_HASH_PARAMS, type PasswordHashParams } from '@strongroom/crypto';

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL URL; absent = SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** PostgreSQL schema (tests). */
  pgSchema: string | undefined;
  /** Wrapping key given directly (base64 or hex); absent = key file in dataDir. */
  wrappingKey: string | undefined;
  /** Wrapping key file; default `<dataDir>/wrapping.key`. */
  wrappingKeyFile: string;
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  passwordHash: PasswordHashParams;
  /** Largest request body in bytes. */
  bodyLimitBytes: number;
  /** Largest single attachment in bytes. */
  attachmentLimitBytes: number;
  // Lockout, session and token lifetimes are not configured here: they are policy settings
  // (spec §4, policies/), so they can differ per user and role and change without a restart.
  /** Login rate limit: attempts per window per client IP and per login name. */
  loginRateLimit: { attempts: number; windowMs: number };
  /** Interval of the expired-grant sweep. */
  sweepIntervalMs: number;
  logLevel: string;
  /** Optional audit sink: JSON lines appended to this file. */
  auditSinkFile: string | undefined;
}

const num = (v: string | undefined, d: number): number => {
  if (v === undefined || v === '') return d;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`invalid number: ${v}`);
  return n;
};

export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<ServerConfig> = {},
): ServerConfig {
  const dataDir = resolve(overrides.dataDir ?? env.STRONGROOM_DATA_DIR ?? './data');
  const base: ServerConfig = {
    host: env.STRONGROOM_HOST ?? '127.0.0.1',
    port: num(env.STRONGROOM_PORT, 10001),
    dataDir,
    databaseUrl: env.STRONGROOM_DATABASE_URL || undefined,
    pgSchema: env.STRONGROOM_PG_SCHEMA || undefined,
    wrappingKey: env.STRONGROOM_WRAPPING_KEY || undefined,
    wrappingKeyFile: resolve(env.STRONGROOM_WRAPPING_KEY_FILE ?? resolve(dataDir, 'wrapping.key')),
    tlsCertFile: env.STRONGROOM_TLS_CERT || undefined,
    tlsKeyFile: env.STRONGROOM_TLS_KEY || undefined,
    passwordHash: {
      memoryCost: num(env.STRONGROOM_ARGON2_MEMORY_KIB, DEFAULT_PASSWORD_HASH_PARAMS.memoryCost),
      timeCost: num(env.STRONGROOM_ARGON2_ITERATIONS, DEFAULT_PASSWORD_HASH_PARAMS.timeCost),
      parallelism: num(env.STRONGROOM_ARGON2_PARALLELISM, DEFAULT_PASSWORD_HASH_PARAMS.parallelism),
    },
    bodyLimitBytes: num(env.STRONGROOM_BODY_LIMIT_BYTES, 16 * 1024 * 1024),
    attachmentLimitBytes: num(env.STRONGROOM_ATTACHMENT_LIMIT_BYTES, 5 * 1024 * 1024),
    loginRateLimit: { attempts: num(env.STRONGROOM_LOGIN_RATE_ATTEMPTS, 10), windowMs: 60_000 },
    sweepIntervalMs: 60_000,
    logLevel: env.STRONGROOM_LOG_LEVEL ?? 'info',
    auditSinkFile: env.STRONGROOM_AUDIT_SINK_FILE || undefined,
  };
  return { ...base, ...overrides };
}
