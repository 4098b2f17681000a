#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type ServerConfig } from './config/config.js';
import { compose } from './compose.js';
import { buildApp } from './http/app.js';
import { ensureFirstAdministrator } from './users/first-start.js';
import { seedDemo, DEMO_PASSWORD } from './demo/seed.js';

const USAGE = `Usage: npm start -- [--port N] [--host ADDRESS] [--data-dir DIR] [--demo]

  --port N        port to listen on (default 10001, or STRONGROOM_PORT)
  --host ADDRESS  address to bind (default 127.0.0.1; any other address needs HTTPS:
                  STRONGROOM_TLS_CERT and STRONGROOM_TLS_KEY)
  --data-dir DIR  data directory for SQLite and the key file (default ./data, or STRONGROOM_DATA_DIR)
  --demo          seed the demo organisation (empty data directory only)

Storage: SQLite in the data directory, or PostgreSQL when STRONGROOM_DATABASE_URL is set.`;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function fail(message: string): never {
  process.stderr.write(`strongroom: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        demo: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const overrides: Partial<ServerConfig> = {};
  if (args.port !== undefined) {
    const port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`invalid --port ${args.port}`);
    overrides.port = port;
  }
  if (args.host !== undefined) overrides.host = args.host;
  let config: ServerConfig;
  try {
    config = loadConfig(process.env, {
      ...overrides,
      ...(args['data-dir'] ? { dataDir: args['data-dir'] } : {}),
    });
  } catch (err) {
    fail((err as Error).message);
  }

  let https: { key: Buffer; cert: Buffer } | undefined;
  if (config.tlsCertFile || config.tlsKeyFile) {
    if (!config.tlsCertFile || !config.tlsKeyFile) {
      fail('HTTPS needs both STRONGROOM_TLS_CERT and STRONGROOM_TLS_KEY');
    }
    try {
      https = { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) };
    } catch (err) {
      fail(`cannot read the TLS certificate or key: ${(err as Error).message}`);
    }
  } else if (!LOOPBACK.has(config.host)) {
    fail(
      `refusing to serve plain HTTP on ${config.host}: set STRONGROOM_TLS_CERT and STRONGROOM_TLS_KEY, or bind to 127.0.0.1`,
    );
  }

  let services;
  try {
    services = await compose(config, { createKeyFile: true, backgroundJobs: true });
  } catch (err) {
    fail(`cannot open the data store: ${(err as Error).message}`);
  }

  const lines: string[] = [];
  if (args.demo) {
    try {
      await seedDemo(services);
    } catch (err) {
      await services.close();
      fail((err as Error).message);
    }
    lines.push(
      'Demo organisation seeded (DEMO DATA). Log in as admin, alice@corp.example, bob or carol',
      `with the password ${DEMO_PASSWORD}.`,
    );
  } else {
    const first = await ensureFirstAdministrator(services);
    if (first) {
      lines.push(
        'First start: an administrator was created. This password is shown only once:',
        `  login name: ${first.loginName}`,
        `  password:   ${first.oneTimePassword}`,
        'You must change it at first login (POST /api/v1/me/password).',
      );
    }
  }

  const app = await buildApp(services, { https });
  const shutdown = async () => {
    await app.close();
    await services.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await services.close();
    fail(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const scheme = https ? 'https' : 'http';
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const store = config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`;
  process.stdout.write(
    [
      `Strongroom is listening on ${scheme}://${host}:${port} (${store}).`,
      ...(https ? [] : ['Plain HTTP on loopback only; give a certificate and key to serve HTTPS.']),
      `API: ${scheme}://${host}:${port}/api/v1 — OpenAPI document at /api/v1/openapi.json`,
      ...lines,
      '',
    ].join('\n'),
  );
}

void main();
