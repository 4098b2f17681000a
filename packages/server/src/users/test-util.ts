import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { App } from '../http/app.js';

/** A JSON request against the in-process app, optionally with a bearer token and client IP. */
export async function api(
  app: App,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  opts: { token?: string; body?: unknown; ip?: string } = {},
) {
  const res = await app.inject({
    method,
    url: `/api/v1${url}`,
    ...(opts.ip ? { remoteAddress: opts.ip } : {}),
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
    ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
  });
  let json: any = null;
  try {
    json = res.body ? JSON.parse(res.body) : null;
  } catch {
    json = null;
  }
  return { status: res.statusCode, json, body: res.body, headers: res.headers };
}

/** Audit records of an event, oldest first. */
export async function auditOf(db: Kysely<Database>, event: string) {
  return db.selectFrom('audit_log').selectAll().where('event', '=', event).orderBy('seq').execute();
}
