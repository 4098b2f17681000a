import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Services } from '../compose.js';
import { AppError } from '../shared/errors.js';
import { mapError, sendError } from './error-handler.js';
import type { RouteAuth } from './auth.js';
import { registerRoutes } from '../routes.js';
import { loggableUrl, rewritePleasantUrl } from '../pleasant/url.js';

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export const API_PREFIX = '/api/v1';
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;

export interface RouteRecord {
  method: string;
  url: string;
  auth: RouteAuth | undefined;
  /** Whether the route takes a bare token as well as `Bearer` (Pleasant-compatible routes). */
  bareToken: boolean;
}

export interface BuildOptions {
  /** Pino logger options or a ready destination; tests pass a stream to capture every line. */
  logger?: FastifyServerOptions['logger'];
  https?: { key: Buffer; cert: Buffer } | undefined;
}

function bearerToken(header: string | undefined, allowBare: boolean): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (m) return m[1]!;
  if (!allowBare) return null;
  const bare = header.trim();
  return /^\S+$/.test(bare) ? bare : null;
}

/**
 * What a log line says about a request: no query string of the token endpoint (a client may put
 * credentials there), no headers.
 */
function requestForLog(req: {
  method: string;
  url: string;
  originalUrl?: string;
  ip?: string;
  socket?: { remotePort?: number };
}) {
  return {
    method: req.method,
    url: loggableUrl(req.originalUrl ?? req.url),
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** The logger options with the request serializer above (a ready stream stays as given). */
function withSafeRequestLog(
  logger: FastifyServerOptions['logger'],
): FastifyServerOptions['logger'] {
  if (typeof logger !== 'object' || logger === null) return logger;
  const given = logger as { serializers?: Record<string, unknown> };
  return { ...logger, serializers: { ...given.serializers, req: requestForLog } } as never;
}

/**
 * Builds the HTTP application without listening, so tests run it in-process with inject().
 * Authorization is declared per route (`config.auth`) and enforced here, in one hook.
 */
export async function buildApp(services: Services, opts: BuildOptions = {}): Promise<App> {
  const app = Fastify({
    logger: withSafeRequestLog(
      opts.logger ?? {
        level: services.config.logLevel,
        redact: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-pleasant-otp"]',
        ],
      },
    ),
    // Pleasant-compatible paths are matched case-insensitively and may end with a slash: they
    // reach the router normalised (pleasant/url.ts); every other URL is left as it is.
    rewriteUrl: (req) => rewritePleasantUrl(req.url ?? '/'),
    bodyLimit: services.config.bodyLimitBytes,
    trustProxy: false,
    disableRequestLogging: false,
    ...(opts.https ? { https: opts.https } : {}),
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
        allowUnionTypes: true,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  const routes: RouteRecord[] = [];
  app.decorate('routeTable', routes);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: r.url,
        auth: r.config?.auth,
        bareToken: r.config?.bareToken === true,
      });
    }
  });

  app.decorateRequest('actor', null);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Strongroom API',
        version: '1.0.0',
        description:
          'The native REST API of Strongroom. Authenticate with POST /api/v1/auth/login and send the token as `Authorization: Bearer <token>`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onSend', async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    reply.header('cross-origin-resource-policy', 'same-origin');
    if (req.url.startsWith('/api/')) {
      reply.header('cache-control', 'no-store');
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
    if (opts.https) reply.header('strict-transport-security', 'max-age=31536000');
  });

  // Central authorization: every route must declare what it needs; undeclared routes are denied.
  // It runs first (onRequest), so a caller without a session learns nothing from validation.
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.url === undefined) return; // no such route: the 404 handler answers
    const auth = req.routeOptions.config?.auth;
    if (auth === 'public') return;
    if (auth === undefined) {
      throw new AppError('forbidden', 'This route is not available.', {
        logDetail: `route ${req.method} ${req.routeOptions.url} declares no authorization`,
      });
    }
    const token = bearerToken(
      req.headers.authorization,
      req.routeOptions.config?.bareToken === true,
    );
    const actor = token ? await services.authenticator.authenticate(token, req.ip) : null;
    if (!actor) {
      throw new AppError('unauthenticated', 'Log in first: the session is missing or has expired.');
    }
    req.actor = actor;
    if (auth === 'session') return;
    if (actor.mustChangePassword) {
      throw new AppError(
        'password_change_required',
        'Change your password first (POST /api/v1/me/password).',
      );
    }
    if (actor.mustEnrolTwoFactor) {
      throw new AppError(
        'two_factor_enrolment_required',
        'Your policy requires two-factor authentication: set it up first (/api/v1/me/two-factor).',
      );
    }
    if (auth === 'user') return;
    if (!actor.isAdministrator && !actor.appPermissions.has(auth.app)) {
      throw new AppError('forbidden', `This needs the application permission ${auth.app}.`);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = mapError(err, req);
    return sendError(reply, status, body);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, {
      error: { code: 'not_found', message: `No route ${req.method} ${req.url.split('?')[0]}.` },
    }),
  );

  app.get(OPENAPI_PATH, { config: { auth: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  app.get(
    `${API_PREFIX}/health`,
    { config: { auth: 'public' }, schema: { summary: 'Liveness and server identity' } },
    async () => ({ status: 'ok', serverId: services.serverId }),
  );

  await registerRoutes(app, services);
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    routeTable: RouteRecord[];
  }
}
