import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { COLLECTOR_VERSION } from '../../version.js';

/** Path of the generated OpenAPI document (public: it describes the API, it holds no data). */
export const OPENAPI_PATH = '/api/openapi.json';

/**
 * Registers @fastify/swagger on the ROOT app. Call it before any route is registered: it collects
 * routes through fastify's onRoute hook, so every area's route with a schema appears by itself.
 */
export function registerOpenApi(app: FastifyInstance): void {
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'seatguard collector API',
        version: COLLECTOR_VERSION,
        description: 'Errors are `{ "error": { "code", "message" } }` (docs/errors.md). Routes under /api/v1 need a session cookie or a bearer token.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'sg_session' },
        },
      },
    },
    // Marks the authenticated routes; the public ones (health, agent enrollment, login) carry none.
    transform: ({ schema, url, route }) => {
      const transformed: Record<string, unknown> = { ...(schema ?? {}) };
      const publicRoute = (route.config as { access?: string } | undefined)?.access === 'public';
      if (url.startsWith('/api/v1/') && !publicRoute) transformed.security = [{ bearer: [] }, { session: [] }];
      return { schema: transformed, url };
    },
  });
}

/** GET /api/openapi.json: the OpenAPI 3.1 document generated from the routes' own schemas. */
export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async (_req, reply) => reply.type('application/json').send(app.swagger()));
}
