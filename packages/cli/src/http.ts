import type { Socket } from 'node:net';
import { CliError, type CliErrorCode } from './errors.js';

/**
 * The client's HTTP transport. It is built on `node:http`/`node:https` rather than `fetch` so
 * that "the server did not answer" is decided precisely: only a failure before the connection is
 * established (connection refused, DNS, TLS handshake, or no connection within the connect
 * timeout) is `Unreachable`, which lets a command fall back to the offline cache. An HTTP status,
 * whatever it is, is an answer: it is an `ApiError`, never a reason to go offline.
 */

type UnreachableReason = 'refused' | 'dns' | 'tls' | 'timeout' | 'network';

const REASON_TEXT: Record<UnreachableReason, string> = {
  refused: 'connection refused',
  dns: 'name not found',
  tls: 'TLS handshake failed',
  timeout: 'no connection within the connect timeout',
  network: 'network unreachable',
};

export class Unreachable extends Error {
  constructor(
    readonly serverUrl: string,
    readonly reason: UnreachableReason,
  ) {
    super(`the server at ${serverUrl} does not answer (${REASON_TEXT[reason]})`);
    this.name = 'Unreachable';
  }
  get reasonText(): string {
    return REASON_TEXT[this.reason];
  }
}

/** An error answer of the API: `{"error": {"code", "message", "field"?}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface TransportOptions {
  /** Milliseconds to establish the connection (TCP and TLS) before the server counts as gone. */
  connectTimeoutMs: number;
  /** Milliseconds without any data once connected before the request is abandoned. */
  idleTimeoutMs: number;
}

interface CallOptions {
  /** Called as the response body arrives (bytes so far, total if announced). */
  onDownload?: (received: number, total: number | null) => void;
}

const TLS_CODES =
  /^(ERR_SSL|ERR_TLS|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|EPROTO|HOSTNAME_MISMATCH)/;

function classify(err: NodeJS.ErrnoException, tcpConnected: boolean): UnreachableReason {
  const code = err.code ?? '';
  if (tcpConnected || TLS_CODES.test(code)) return 'tls';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ENOTFOUND' || code.startsWith('EAI_')) return 'dns';
  if (code === 'ETIMEDOUT') return 'timeout';
  return 'network';
}

/** The base URL as the user gave it, without a trailing slash or `/api/v1`. */
export function normaliseServerUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CliError('usage', `not a server URL: ${input} (for example https://vault.example)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('usage', `the server URL must start with https:// or http://: ${input}`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new CliError(
      'usage',
      'the server URL must not hold a user name, password, query or fragment',
    );
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

export class Api {
  constructor(
    readonly serverUrl: string,
    private readonly token: string | null,
    private readonly options: TransportOptions,
  ) {}

  get<T>(path: string, o?: CallOptions): Promise<T> {
    return this.call<T>('GET', path, undefined, o);
  }
  post<T>(path: string, body?: unknown, o?: CallOptions): Promise<T> {
    return this.call<T>('POST', path, body, o);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  call<T>(method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
    const url = new URL(`${this.serverUrl}/api/v1${path}`);
    const isHttps = url.protocol === 'https:';
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (this.token) headers.authorization = `Bearer ${this.token}`;

    return new Promise<T>((resolve, reject) => {
      let tcpConnected = false;
      let connected = false;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        reject(err);
      };
      // Loaded on the first request (Node caches it): a command that never goes online, such as
      // one working offline, does not pay for loading the HTTP and TLS modules.
      const transport = isHttps
        ? process.getBuiltinModule('node:https')
        : process.getBuiltinModule('node:http');
      const request = transport.request(url, { method, headers, agent: false });
      const connectTimer = setTimeout(() => {
        fail(new Unreachable(this.serverUrl, 'timeout'));
        request.destroy();
      }, this.options.connectTimeoutMs);

      request.on('socket', (socket: Socket) => {
        socket.once('connect', () => {
          tcpConnected = true;
          if (!isHttps) onConnected();
        });
        if (isHttps) socket.once('secureConnect', onConnected);
      });
      const onConnected = () => {
        connected = true;
        clearTimeout(connectTimer);
        request.setTimeout(this.options.idleTimeoutMs, () => {
          fail(
            new CliError(
              'server_timeout',
              `the server at ${this.serverUrl} accepted the connection but stopped answering`,
            ),
          );
          request.destroy();
        });
      };
      request.on('error', (err: NodeJS.ErrnoException) => {
        if (!connected) fail(new Unreachable(this.serverUrl, classify(err, tcpConnected)));
        else fail(connectionLost(this.serverUrl, method));
      });
      request.on('response', (res) => {
        const total = Number(res.headers['content-length']);
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          o.onDownload?.(received, Number.isFinite(total) ? total : null);
        });
        res.on('error', () => fail(connectionLost(this.serverUrl, method)));
        res.on('aborted', () => fail(connectionLost(this.serverUrl, method)));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(connectTimer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          if (status >= 200 && status < 300) {
            if (text === '') return resolve(undefined as T);
            try {
              resolve(JSON.parse(text) as T);
            } catch {
              reject(
                new CliError(
                  'server_error',
                  `the server at ${this.serverUrl} sent an unreadable answer`,
                ),
              );
            }
            return;
          }
          reject(apiErrorOf(status, text));
        });
      });
      request.end(payload);
    });
  }
}

function connectionLost(serverUrl: string, method: string): CliError {
  const maybe = method === 'GET' ? '' : '; the change may or may not have been made';
  return new CliError('connection_lost', `the connection to ${serverUrl} was lost${maybe}`);
}

function apiErrorOf(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; field?: unknown; retryAfterSeconds?: unknown };
    };
    const e = body.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      return new ApiError(
        status,
        e.code,
        e.message,
        typeof e.field === 'string' ? e.field : undefined,
        typeof e.retryAfterSeconds === 'number' ? e.retryAfterSeconds : undefined,
      );
    }
  } catch {
    // not JSON: a proxy or something else answered
  }
  return new ApiError(status, `http_${status}`, `the server answered HTTP ${status}`);
}

const API_TO_CLI: Record<string, CliErrorCode> = {
  invalid_credentials: 'invalid_credentials',
  unauthenticated: 'session_ended',
  two_factor_required: 'two_factor_required',
  invalid_two_factor_code: 'invalid_two_factor_code',
  account_locked: 'account_locked',
  account_disabled: 'invalid_credentials',
  password_change_required: 'password_change_required',
  two_factor_enrolment_required: 'two_factor_enrolment_required',
  forbidden: 'not_allowed',
  not_allowed: 'not_allowed',
  offline_not_allowed: 'offline_not_allowed',
  not_found: 'not_found',
  validation_failed: 'rejected',
  malformed_body: 'rejected',
  payload_too_large: 'rejected',
  unsupported_media_type: 'rejected',
  conflict: 'conflict',
  rate_limited: 'rate_limited',
};

/** The one mapping from an API error to the client's error: the server's public message. */
export function cliErrorOf(err: ApiError): CliError {
  const code: CliErrorCode =
    API_TO_CLI[err.code] ?? (err.status >= 500 ? 'server_error' : 'failed');
  let message = err.message.replace(/\.$/, '');
  if (code === 'session_ended') {
    message = 'your session has ended: log in again (strongroom login)';
  } else if (code === 'rejected' && err.field && err.field !== '/') {
    message = `${message} (${err.field})`;
  } else if (err.retryAfterSeconds !== undefined) {
    message = `${message} (try again in ${err.retryAfterSeconds} s)`;
  }
  return new CliError(code, lowerFirst(message));
}

export function lowerFirst(s: string): string {
  // "The password…" → "the password…", but keep acronyms such as "TOTP".
  return /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s;
}
