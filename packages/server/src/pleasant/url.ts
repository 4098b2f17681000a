/**
 * Routing rules of the Pleasant-compatible API that Fastify's router can't express per prefix:
 * paths are matched case-insensitively and may end with a slash. Requests under the Pleasant
 * prefixes get their path lower-cased and their trailing slashes removed before routing (the
 * routes are registered in lower case); every other URL is left exactly as it is, so the native
 * API stays case-sensitive. Ids are GUIDs, which compare case-insensitively anyway.
 */

export const PLEASANT_API_PREFIXES = ['/api/v5/rest', '/api/v6/rest'] as const;
export type PleasantApiVersion = 'v5' | 'v6';

/** The token endpoint, at the server root. */
export const PLEASANT_TOKEN_PATH = '/oauth2/token';

function isPleasantPath(lowerPath: string): boolean {
  if (lowerPath === PLEASANT_TOKEN_PATH || lowerPath.startsWith(`${PLEASANT_TOKEN_PATH}/`)) {
    return true;
  }
  return PLEASANT_API_PREFIXES.some((p) => lowerPath === p || lowerPath.startsWith(`${p}/`));
}

/** The URL the router sees (Fastify's `rewriteUrl`). The query string is never changed. */
export function rewritePleasantUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const lower = path.toLowerCase();
  if (!isPleasantPath(lower)) return url;
  const trimmed = lower.replace(/\/+$/, '');
  return q < 0 ? trimmed : `${trimmed}${url.slice(q)}`;
}

/**
 * The URL as it may be written to a log: the token endpoint's query string is left out, since
 * a client may send its credentials there.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const lower = url.slice(0, q).toLowerCase().replace(/\/+$/, '');
  return lower === PLEASANT_TOKEN_PATH ? `${url.slice(0, q)}?…` : url;
}
