import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CliError } from './errors.js';
import { Api, ApiError, Unreachable, normaliseServerUrl } from './http.js';
import { freePort } from './test-support/e2e.js';

/**
 * "The server did not answer" is decided by the transport: only a failure to connect (refused,
 * DNS, TLS, connect timeout) is `Unreachable` — the one thing that makes the client go offline.
 * Any HTTP answer, whatever its status, is an answer.
 */
describe('the transport decides what "offline" means', () => {
  const opts = { connectTimeoutMs: 500, idleTimeoutMs: 500 };
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    while (cleanup.length) cleanup.pop()!();
  });

  function listen<T extends Server | TcpServer>(server: T): Promise<number> {
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    return new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
  }

  const reason = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    return err instanceof Unreachable ? err.reason : err;
  };

  it('connection refused is unreachable', async () => {
    const port = await freePort();
    expect(await reason(new Api(`http://127.0.0.1:${port}`, null, opts).get('/health'))).toBe(
      'refused',
    );
  });

  it('a name that does not resolve is unreachable', async () => {
    expect(await reason(new Api('http://strongroom-test.invalid', null, opts).get('/health'))).toBe(
      'dns',
    );
  });

  it('a TLS handshake that fails is unreachable', async () => {
    const port = await listen(createTcpServer((s) => s.end('HTTP/1.1 400 not tls\r\n\r\n')));
    expect(await reason(new Api(`https://127.0.0.1:${port}`, null, opts).get('/health'))).toBe(
      'tls',
    );
  });

  it('a TLS handshake that never completes is unreachable after the connect timeout', async () => {
    const port = await listen(createTcpServer(() => undefined));
    expect(await reason(new Api(`https://127.0.0.1:${port}`, null, opts).get('/health'))).toBe(
      'timeout',
    );
  });

  it('an HTTP error status is an answer, never unreachable', async () => {
    for (const status of [400, 401, 404, 500, 502, 503]) {
      const port = await listen(
        createHttpServer((_req, res) => {
          res.statusCode = status;
          res.end(
            status === 404
              ? '{"error":{"code":"not_found","message":"No such thing."}}'
              : '<html>down</html>',
          );
        }),
      );
      const err = await new Api(`http://127.0.0.1:${port}`, null, opts)
        .get('/x')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(status);
      if (status === 404) expect((err as ApiError).code).toBe('not_found');
    }
  });

  it('a server that accepts and then says nothing is a timeout error, not offline', async () => {
    const port = await listen(createHttpServer(() => undefined));
    const err = await new Api(`http://127.0.0.1:${port}`, null, opts)
      .get('/x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('server_timeout');
  });

  it('a connection cut after the request was sent is a lost connection, not offline', async () => {
    const port = await listen(createHttpServer((req) => req.socket.destroy()));
    const err = await new Api(`http://127.0.0.1:${port}`, null, opts)
      .post('/x', {})
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).code).toBe('connection_lost');
    expect((err as CliError).message).toMatch(/may or may not have been made/);
  });

  it('sends the token and JSON, and reads JSON answers', async () => {
    let seen: { auth?: string; type?: string; body: string } = { body: '' };
    const port = await listen(
      createHttpServer((req, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          seen = { auth: req.headers.authorization, type: req.headers['content-type'], body };
          res.setHeader('content-type', 'application/json');
          res.end('{"ok":true}');
        });
      }),
    );
    const r = await new Api(`http://127.0.0.1:${port}`, 'sr_token', opts).post('/x', { a: 1 });
    expect(r).toEqual({ ok: true });
    expect(seen).toEqual({ auth: 'Bearer sr_token', type: 'application/json', body: '{"a":1}' });
  });

  it('normalises server URLs and refuses what is not one', () => {
    expect(normaliseServerUrl('https://vault.example/')).toBe('https://vault.example');
    expect(normaliseServerUrl('https://vault.example/api/v1/')).toBe('https://vault.example');
    expect(normaliseServerUrl('http://127.0.0.1:10001/sub')).toBe('http://127.0.0.1:10001/sub');
    expect(() => normaliseServerUrl('vault.example')).toThrow(CliError);
    expect(() => normaliseServerUrl('ftp://vault.example')).toThrow(/https:\/\/ or http:\/\//);
    expect(() => normaliseServerUrl('https://user:pw@vault.example')).toThrow(/must not hold/);
  });
});
