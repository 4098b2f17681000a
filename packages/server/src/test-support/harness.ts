import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { loadConfig, type ServerConfig } from '../config/config.js';
import { compose, type ComposeOptions, type Services } from '../compose.js';
import { buildApp, type App } from '../http/app.js';
import type { Dialect } from '../db/migrator.js';
import { ManualClock } from '../shared/clock.js';

export const PG_URL =
  process.env.STRONGROOM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Both storage dialects: every storage and API suite runs on each. */
export const DIALECTS: readonly Dialect[] = ['sqlite', 'postgres'];

/**
 * Every secret a test stores should come from here: the marker lets the suite-wide log check
 * (global teardown) prove that no secret reached a log line.
 */
export const SECRET_MARKER = 'TESTSECRET';
export function testSecret(label = 'x'): string {
  return `${SECRET_MARKER}-${label}-${randomBytes(4).toString('hex')}`;
}

/** Cheap Argon2id parameters for tests (the real defaults are checked in the crypto tests). */
export const TEST_HASH = { memoryCost: 64, timeCost: 1, parallelism: 1 };

export interface TestDatabase {
  dialect: Dialect;
  dataDir: string;
  databaseUrl: string | undefined;
  pgSchema: string | undefined;
  drop(): Promise<void>;
}

/** A fresh, empty database of the dialect: a temporary directory, or a new PostgreSQL schema. */
export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strongroom-test-'));
  if (dialect === 'sqlite') {
    return {
      dialect,
      dataDir,
      databaseUrl: undefined,
      pgSchema: undefined,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`create schema ${schema}`);
  await client.end();
  return {
    dialect,
    dataDir,
    databaseUrl: PG_URL,
    pgSchema: schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function testConfig(db: TestDatabase, overrides: Partial<ServerConfig> = {}): ServerConfig {
  return loadConfig(
    {},
    {
      dataDir: db.dataDir,
      databaseUrl: db.databaseUrl,
      pgSchema: db.pgSchema,
      wrappingKeyFile: join(db.dataDir, 'wrapping.key'),
      passwordHash: TEST_HASH,
      logLevel: 'info',
      ...overrides,
    },
  );
}

/** Log lines of every app built by tests are appended here and checked in global teardown. */
function logFile(): string | undefined {
  return process.env.STRONGROOM_TEST_LOG_DIR
    ? join(process.env.STRONGROOM_TEST_LOG_DIR, `${process.pid}.log`)
    : undefined;
}

export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    const text = chunk.toString('utf8');
    this.lines.push(text);
    const file = logFile();
    if (file) appendFileSync(file, text);
    cb();
  }
}

export interface TestContext {
  db: TestDatabase;
  services: Services;
  app: App;
  clock: ManualClock;
  logs: LogCapture;
  close(): Promise<void>;
}

export interface TestContextOptions extends ComposeOptions {
  config?: Partial<ServerConfig>;
}

/** A composed server on a fresh database of the dialect, with its app built (not listening). */
export async function createTestContext(
  dialect: Dialect,
  opts: TestContextOptions = {},
): Promise<TestContext> {
  const db = await createTestDatabase(dialect);
  const clock = (opts.clock as ManualClock | undefined) ?? new ManualClock(Date.now());
  const services = await compose(testConfig(db, opts.config), {
    backgroundJobs: false,
    ...opts,
    clock,
  });
  const logs = new LogCapture();
  const app = await buildApp(services, { logger: { level: 'info', stream: logs } as never });
  await app.ready();
  return {
    db,
    services,
    app,
    clock,
    logs,
    close: async () => {
      await app.close();
      await services.close();
      await db.drop();
    },
  };
}
