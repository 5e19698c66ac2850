import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../../shared/logger.js';
import { formatError } from '../../shared/errors.js';
import type { ApiAuthenticator } from './auth.js';
import { installErrorHandlers, sendError } from './errors.js';
import { registerOpenApi } from './routes/openapi-routes.js';

export interface HttpAppDeps {
  log: Logger;
  /** The single auth hook for /api/v1/**. */
  authenticator: ApiAuthenticator;
  /** Routes outside /api/v1 (health, agent enrollment/challenge): no API auth. */
  publicRoutes: FastifyPluginAsync[];
  /** Routes mounted under /api/v1, all behind the auth hook. Later areas append theirs here. */
  apiV1Routes: FastifyPluginAsync[];
  /**
   * Serve HTTPS. The certificate is installed later with `server.setSecureContext()` (it may have to
   * be generated, which is async); until then every handshake fails.
   */
  https?: boolean;
}

/** Builds the (unstarted) fastify app: error shape, public routes, authenticated /api/v1. */
export function buildHttpApp(deps: HttpAppDeps): FastifyInstance {
  const app = Fastify({
    // Typed as plain http so routes keep fastify's default instance type; the raw server is an
    // https.Server at run time when asked (same request/upgrade events).
    ...(deps.https ? ({ https: {} } as object) : {}),
    // Widened so the app keeps fastify's default instance type (routes are typed against it).
    loggerInstance: deps.log.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would be noise at info; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    requestTimeout: 30_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    // Device keys in paths carry URL-encoded serials (up to 256 UTF-16 units, ~9 chars each encoded).
    routerOptions: { maxParamLength: 3072 },
  });
  // Before any route: the OpenAPI generator collects routes through fastify's onRoute hook.
  registerOpenApi(app);
  app.decorateRequest('principal', null);
  installErrorHandlers(app, deps.log);

  for (const routes of deps.publicRoutes) void app.register(routes);

  void app.register(
    async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        const principal = deps.authenticator.authenticate(req);
        if (!principal) {
          // Same answer for missing, malformed and wrong tokens.
          return sendError(reply.header('www-authenticate', 'Bearer'), 401, 'AUTH_ERR_UNAUTHENTICATED');
        }
        req.principal = principal;
      });
      // Scoped 404 so unknown /api/v1 paths also pass the auth hook first.
      api.setNotFoundHandler((_req, reply) => sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'route')));
      for (const routes of deps.apiV1Routes) await api.register(routes);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
