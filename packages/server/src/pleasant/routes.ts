import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  PleasantApiSettingsSchema,
  UpdatePleasantApiSettingsSchema,
  type PleasantApiSettings,
} from '@strongroom/protocol';
import type { Services } from '../compose.js';
import { API_PREFIX, type App } from '../http/app.js';
import type { RouteAuth } from '../http/auth.js';
import { caller } from '../http/request.js';
import { mapError } from '../http/error-handler.js';
import { AppError, invalid } from '../shared/errors.js';
import { identityOf } from '../users/identity.js';
import { PleasantAdapter } from './adapter.js';
import { comment, searchText } from './input.js';
import { issueToken, tokenParameters } from './token.js';
import { PLEASANT_API_PREFIXES, PLEASANT_TOKEN_PATH, type PleasantApiVersion } from './url.js';
import { asObject, member, parseGuid, pleasantField, stringMember } from './wire.js';

/**
 * The Pleasant-compatible REST API (docs/pleasant-api.md): `/OAuth2/Token` at the root, and
 * every endpoint under `/api/v5/rest/` and `/api/v6/rest/` with the legacy aliases. Each prefix
 * is a Fastify plugin of its own, so its body parsing, error shapes and unknown-route answer are
 * Pleasant's without touching the native API. Paths reach the router lower-cased and without
 * trailing slashes (`url.ts`); every route declares its authorization like the native ones
 * (`config.auth`) and accepts a bare token as well as `Bearer` (`config.bareToken`).
 */
export async function registerPleasantRoutes(app: App, services: Services): Promise<void> {
  const adapter = new PleasantAdapter(services);
  await app.register(async (scope) => registerToken(scope as App, services));
  for (const prefix of PLEASANT_API_PREFIXES) {
    const version: PleasantApiVersion = prefix.includes('/v6/') ? 'v6' : 'v5';
    await app.register(async (scope) => registerApi(scope as App, adapter, version), { prefix });
  }
  registerSettingsRoutes(app, services);
}

// ---------------------------------------------------------------- errors

/** Errors of API routes: `{"error_message"}` (401: `{"Message"}`, as ASP.NET servers answer). */
function sendApiError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = mapError(err, req);
  const e = body.error;
  if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
  if (status === 401) {
    reply.header('www-authenticate', 'Bearer');
    return reply.code(401).send({ Message: 'Authorization has been denied for this request.' });
  }
  const field = e.field !== undefined && e.field !== '' && e.field !== '/' ? e.field : undefined;
  const message = field !== undefined ? `${pleasantField(field)}: ${e.message}` : e.message;
  return reply.code(status).send({ error_message: message });
}

/** Bodies of API routes: JSON whatever the Content-Type says (an empty body is no body). */
function parseJsonBody(body: string): unknown {
  const text = body.replace(/^\uFEFF/, '');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError('malformed_body', 'The request body is not valid JSON.');
  }
}

// ---------------------------------------------------------------- token

async function readRawBody(req: FastifyRequest, limit: number): Promise<string> {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) {
    return '';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.raw) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      throw new AppError(
        'payload_too_large',
        'The request body is larger than the server accepts.',
      );
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const firstHeader = (v: string | string[] | undefined): string | undefined =>
  Array.isArray(v) ? v[0] : v;

function registerToken(scope: App, services: Services): void {
  const { auth } = identityOf(services);
  // A form whatever the Content-Type says: every body is read as text and parsed here.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  scope.setErrorHandler((err, req, reply) => {
    const { status, body } = mapError(err, req);
    const error =
      status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : 'invalid_request';
    return reply
      .code(status)
      .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
      .send({ error, error_description: body.error.message });
  });
  scope.route({
    method: ['GET', 'POST'],
    url: PLEASANT_TOKEN_PATH,
    config: { auth: 'public' },
    schema: { hide: true },
    handler: async (req, reply) => {
      const body =
        typeof req.body === 'string'
          ? req.body
          : req.method === 'GET'
            ? await readRawBody(req, services.config.bodyLimitBytes)
            : '';
      const q = req.url.indexOf('?');
      const params = tokenParameters(body, q < 0 ? '' : req.url.slice(q + 1));
      const answer = await issueToken(
        auth,
        services.clock,
        params,
        {
          otp: firstHeader(req.headers['x-pleasant-otp']),
          provider: firstHeader(req.headers['x-pleasant-otp-provider']),
        },
        req.ip,
      );
      return reply
        .code(answer.status)
        .headers({ ...answer.headers, 'cache-control': 'no-store', pragma: 'no-cache' })
        .send(answer.body);
    },
  });
}

// ---------------------------------------------------------------- API

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Call {
  req: FastifyRequest;
  reply: FastifyReply;
  /** A path parameter that must be a GUID. */
  id(name?: string): string;
  body: unknown;
}

/** Sends a bare JSON string as Pleasant does (compact, no BOM, non-ASCII as it is). */
function sendString(reply: FastifyReply, value: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(value));
}

const noContent = (reply: FastifyReply): FastifyReply => reply.code(204).send();

/** `recurseLevel` (any case): a level count; absent = the whole subtree. */
function recurseLevel(query: unknown): number | undefined {
  if (typeof query !== 'object' || query === null) return undefined;
  const value = member(query as Record<string, unknown>, 'recurseLevel');
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || !/^[0-9]{1,6}$/.test(text)) {
    throw invalid('recurseLevel', 'Expected a whole number of levels (0 = this folder only).');
  }
  return Number(text);
}

function registerApi(scope: App, adapter: PleasantAdapter, version: PleasantApiVersion): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  scope.setErrorHandler((err, req, reply) => sendApiError(err, req, reply));
  scope.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      Message: `No resource matches ${req.method} ${(req.originalUrl ?? req.url).split('?')[0]}.`,
    }),
  );

  const USER: RouteAuth = 'user';
  const route = (method: Method, paths: string[], handler: (c: Call) => Promise<unknown>) => {
    for (const url of paths) {
      scope.route({
        method,
        url,
        config: { auth: USER, bareToken: true },
        schema: { hide: true },
        handler: async (req, reply) => {
          const params = req.params as Record<string, string | undefined>;
          const call: Call = {
            req,
            reply,
            id: (name = 'id') => parseGuid(params[name], name === 'id' ? 'Id' : name),
            body: req.body,
          };
          return handler(call);
        },
      });
    }
  };
  const actor = (c: Call) => caller(c.req);
  const both = (a: string, b: string) => (path: string) => [`/${a}${path}`, `/${b}${path}`];
  const folders = both('folders', 'credentialgroup');
  const entries = both('entries', 'credential');

  // ------------------------------------------------------------ folders (credential groups)

  route('GET', folders('/root'), async (c) => sendString(c.reply, adapter.rootId));
  route('GET', folders(''), async (c) =>
    adapter.folder(actor(c), adapter.rootId, version, recurseLevel(c.req.query)),
  );
  route('GET', folders('/:id'), async (c) =>
    adapter.folder(actor(c), c.id(), version, recurseLevel(c.req.query)),
  );
  route('POST', folders(''), async (c) =>
    sendString(c.reply, await adapter.createFolder(actor(c), c.body)),
  );
  for (const method of ['PATCH', 'PUT'] as const) {
    route(method, folders('/:id'), async (c) => {
      await adapter.updateFolder(actor(c), c.id(), c.body);
      return noContent(c.reply);
    });
  }
  route('DELETE', folders('/:id'), async (c) => {
    await adapter.deleteFolder(actor(c), c.id(), c.body);
    return noContent(c.reply);
  });

  // ------------------------------------------------------------ entries (credentials)

  route('GET', entries('/:id'), async (c) => adapter.entry(actor(c), c.id(), version));
  route('POST', entries(''), async (c) =>
    sendString(c.reply, await adapter.createEntry(actor(c), c.body)),
  );
  for (const method of ['PATCH', 'PUT'] as const) {
    route(method, entries('/:id'), async (c) => {
      await adapter.updateEntry(actor(c), c.id(), c.body);
      return noContent(c.reply);
    });
  }
  route('DELETE', entries('/:id'), async (c) => {
    await adapter.deleteEntry(actor(c), c.id(), c.body);
    return noContent(c.reply);
  });
  // The password: GET, and the legacy POST (its body, a usage comment, is not needed).
  for (const method of ['GET', 'POST'] as const) {
    route(method, entries('/:id/password'), async (c) => {
      if (method === 'POST') comment(c.body); // refuses a body that is not an object
      return sendString(c.reply, await adapter.password(actor(c), c.id()));
    });
  }
  route('GET', entries('/:id/attachments'), async (c) => adapter.attachments(actor(c), c.id()));
  route('GET', entries('/:id/attachments/:attachmentId'), async (c) =>
    adapter.attachment(actor(c), c.id(), c.id('attachmentId')),
  );

  // ------------------------------------------------------------ user access

  for (const [paths, nodeType] of [
    [folders, 'folder'],
    [entries, 'entry'],
  ] as const) {
    route('GET', paths('/:id/useraccess'), async (c) =>
      adapter.userAccess(actor(c), { nodeType, nodeId: c.id() }),
    );
    route('POST', paths('/:id/useraccess'), async (c) =>
      adapter.addUserAccess(actor(c), { nodeType, nodeId: c.id() }, c.body),
    );
    route('DELETE', paths('/:id/useraccess/:rowId'), async (c) => {
      if (c.body !== undefined && c.body !== null) asObject(c.body, '');
      await adapter.removeUserAccess(actor(c), { nodeType, nodeId: c.id() }, c.id('rowId'));
      return noContent(c.reply);
    });
  }

  // ------------------------------------------------------------ the rest

  route('GET', ['/accesslevels'], async () => adapter.accessLevels());
  route('POST', ['/search'], async (c) => adapter.search(actor(c), searchText(c.body)));
  route('GET', ['/getserverinfo'], async () => adapter.serverInfo());
  route('POST', ['/passwordstrength'], async (c) => {
    const password = stringMember(asObject(c.body, ''), 'Password');
    if (password === undefined || password === null) {
      throw invalid('Password', 'The password to rate is required.');
    }
    return adapter.passwordStrength(password);
  });
  route('POST', ['/offlinepackage'], async (c) =>
    adapter.offlinePackage(actor(c), comment(c.body), version),
  );
}

// ---------------------------------------------------------------- native settings routes

/**
 * `GET|PATCH /api/v1/settings/pleasant-api`: the administrator's settings of this API. They
 * govern who may change access through automation, so they need Manage Access Levels.
 */
function registerSettingsRoutes(app: App, services: Services): void {
  const MANAGE = { app: 'manageAccessLevels' } as const;
  const url = `${API_PREFIX}/settings/pleasant-api`;
  app.get(
    url,
    {
      config: { auth: MANAGE },
      schema: {
        summary: 'Settings of the Pleasant-compatible API',
        tags: ['settings'],
        response: { 200: PleasantApiSettingsSchema },
      },
    },
    async (): Promise<PleasantApiSettings> => services.pleasantApi.get(),
  );
  app.patch(
    url,
    {
      config: { auth: MANAGE },
      schema: {
        summary:
          'Change settings of the Pleasant-compatible API (userAccessEnabled: user access rows readable and writable through it; off by default)',
        tags: ['settings'],
        body: UpdatePleasantApiSettingsSchema,
        response: { 200: PleasantApiSettingsSchema },
      },
    },
    async (req) => services.pleasantApi.update(caller(req), req.body),
  );
}
