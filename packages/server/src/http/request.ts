import { AppError, invalid } from '../shared/errors.js';
import type { Actor } from './auth.js';

/**
 * The caller of a route that is not public. The central auth hook sets it before any handler
 * runs; a route reaching here without one is answered 401, never with a crash.
 */
export function caller(req: { actor: Actor | null }): Actor {
  if (!req.actor) throw new AppError('unauthenticated', 'Log in first.');
  return req.actor;
}

/**
 * For actions that take no body: none at all, or `{}`. Anything else (an array, null, a string,
 * an object with members) is refused with 400 before the action runs. (A schema can't tell an
 * absent body from a JSON `null`: Fastify validates both as null.) Use as a `preValidation` hook.
 */
export async function noBody(req: { body: unknown }): Promise<void> {
  const body = req.body;
  const empty =
    body === undefined ||
    (typeof body === 'object' &&
      body !== null &&
      !Array.isArray(body) &&
      Object.keys(body).length === 0);
  if (!empty) throw invalid('/', 'This action takes no request body.');
}
