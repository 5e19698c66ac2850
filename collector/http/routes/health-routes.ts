import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../../shared/clock.js';
import type { Store } from '../../store/store.js';

/** GET /api/health: liveness for load balancers. No auth, so it carries no data. */
export function healthRoutes(deps: { store: Store; clock: Clock; version: string; startedAt: number; agentsConnected(): number }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/api/health', async (_req, reply) => {
      const dbOk = deps.store.ping();
      return reply.code(dbOk ? 200 : 503).send({
        status: dbOk ? 'ok' : 'degraded',
        version: deps.version,
        uptime_s: Math.max(0, Math.floor((deps.clock.monotonic() - deps.startedAt) / 1000)),
        agents_connected: deps.agentsConnected(),
        db: dbOk ? 'ok' : 'error',
      });
    });
  };
}
