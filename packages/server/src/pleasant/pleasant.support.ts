import { randomBytesOf } from '@strongroom/crypto';
import { expect } from 'vitest';
import type { App } from '../http/app.js';
import type { TestContext } from '../test-support/harness.js';

/**
 * A client of the Pleasant-compatible API as tools write them: form-encoded token requests,
 * the bare token in `Authorization`, JSON bodies. Every token request comes from its own
 * loopback address, so a suite doesn't spend the per-address login rate limit by accident.
 */

export type Response = Awaited<ReturnType<App['inject']>>;
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export function randomAddress(): string {
  const b = randomBytesOf(3);
  return `127.${b[0]}.${b[1]}.${b[2]}`;
}

export const form = (fields: Record<string, string>): string =>
  new URLSearchParams(fields).toString();

export class PleasantClient {
  constructor(
    readonly ctx: Pick<TestContext, 'app'>,
    readonly prefix = '/api/v5/rest',
  ) {}

  /** A raw token request. */
  tokenRequest(opts: {
    method?: 'GET' | 'POST';
    url?: string;
    body?: string;
    contentType?: string | null;
    headers?: Record<string, string>;
    remoteAddress?: string;
  }): Promise<Response> {
    const contentType =
      opts.contentType === undefined ? 'application/x-www-form-urlencoded' : opts.contentType;
    return this.ctx.app.inject({
      method: opts.method ?? 'POST',
      url: opts.url ?? '/OAuth2/Token',
      remoteAddress: opts.remoteAddress ?? randomAddress(),
      headers: {
        ...(contentType !== null && opts.body !== undefined ? { 'content-type': contentType } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { payload: opts.body } : {}),
    });
  }

  /** A token for the user, by the password grant (fails the test otherwise). */
  async token(username: string, password: string): Promise<string> {
    const res = await this.tokenRequest({
      body: form({ grant_type: 'password', username, password }),
    });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { access_token: string }).access_token;
  }

  /**
   * A call under the prefix. Objects are sent as JSON; strings as they are (with the given
   * Content-Type, or none). The token goes bare unless `bearer` is set.
   */
  call(
    token: string | null,
    method: Method,
    path: string,
    opts: {
      payload?: unknown;
      contentType?: string;
      headers?: Record<string, string>;
      bearer?: boolean;
      prefix?: string;
    } = {},
  ): Promise<Response> {
    const raw = typeof opts.payload === 'string';
    const body =
      opts.payload === undefined
        ? undefined
        : raw
          ? (opts.payload as string)
          : JSON.stringify(opts.payload);
    const contentType =
      opts.contentType ?? (body !== undefined && !raw ? 'application/json' : undefined);
    return this.ctx.app.inject({
      method,
      url: `${opts.prefix ?? this.prefix}${path}`,
      headers: {
        ...(token !== null ? { authorization: opts.bearer ? `Bearer ${token}` : token } : {}),
        ...(contentType !== undefined ? { 'content-type': contentType } : {}),
        ...opts.headers,
      },
      ...(body !== undefined ? { payload: body } : {}),
    });
  }

  /** A call that must answer `status`; returns the parsed body (undefined when empty). */
  async ok<T = unknown>(
    token: string,
    method: Method,
    path: string,
    payload?: unknown,
    status = method === 'POST' || method === 'GET' ? 200 : 204,
  ): Promise<T> {
    const res = await this.call(token, method, path, payload === undefined ? {} : { payload });
    expect({
      call: `${method} ${path}`,
      status: res.statusCode,
      body: res.statusCode === status ? '' : res.body,
    }).toEqual({
      call: `${method} ${path}`,
      status,
      body: '',
    });
    return (res.body === '' ? undefined : res.json()) as T;
  }
}

/** Pleasant's error body: exactly `{"error_message": "…"}` with the status. */
export function expectErrorMessage(res: Response, status: number): string {
  const body = res.json() as Record<string, unknown>;
  expect({ status: res.statusCode, keys: Object.keys(body) }).toEqual({
    status,
    keys: ['error_message'],
  });
  expect(typeof body.error_message).toBe('string');
  return body.error_message as string;
}
