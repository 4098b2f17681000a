import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../test-support/harness.js';
import { MAIN_JS, startServerProcess, type ServerProcess } from '../shared/server-process.js';

describe('transport', () => {
  let tdb: TestDatabase;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
  });
  afterAll(async () => {
    await server?.stop();
    await tdb.drop();
  });

  it('serves HTTPS when given a certificate and key', async () => {
    const cert = join(tdb.dataDir, 'cert.pem');
    const key = join(tdb.dataDir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = await startServerProcess({
      STRONGROOM_DATA_DIR: join(tdb.dataDir, 'server'),
      STRONGROOM_TLS_CERT: cert,
      STRONGROOM_TLS_KEY: key,
    });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(cert);
    const res = await new Promise<{ status: number; hsts: string | undefined; body: string }>(
      (resolve, reject) => {
        const req = request(`${server!.url}/api/v1/health`, { ca }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () =>
            resolve({
              status: r.statusCode ?? 0,
              hsts: r.headers['strict-transport-security'] as string | undefined,
              body,
            }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).status).toBe('ok');
    expect(res.hsts).toContain('max-age=');
  });

  it('refuses plain HTTP on a non-loopback address, with a message that says what to do', () => {
    const r = spawnSync(process.execPath, [MAIN_JS, '--host', '0.0.0.0', '--port', '0'], {
      env: { ...process.env, STRONGROOM_DATA_DIR: join(tdb.dataDir, 'plain') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('STRONGROOM_TLS_CERT');
    expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+/);
  });

  it('rejects a bad --port with a clear error and no stack trace', () => {
    const r = spawnSync(process.execPath, [MAIN_JS, '--port', 'eighty'], {
      env: { ...process.env, STRONGROOM_DATA_DIR: join(tdb.dataDir, 'badport') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid --port');
    expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+/);
  });
});
