import type { FastifyInstance } from 'fastify';
import { formatError } from '../../../shared/errors.js';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { Store } from '../../store/store.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';
import { AgentParams, SeatEventsQuery, SeatListQuery } from '../schemas.js';
import { eventView, seatView } from '../views.js';

/** /api/v1/seats: the seat list, one seat, and its event timeline (by seq). */
export function seatRoutes(deps: { store: Store; audit: AuditLog }) {
  const { store } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: SeatListQuery }>('/seats', { schema: { querystring: SeatListQuery }, preHandler: requireAction('seat.read') }, async (req) => {
      const limit = req.query.limit ?? 50;
      const offset = req.query.offset ?? 0;
      const { rows, total } = store.agents.list({ q: req.query.q, limit, offset });
      return { seats: rows.map(seatView), total, limit, offset };
    });

    app.get<{ Params: AgentParams }>('/seats/:agent_id', { schema: { params: AgentParams }, preHandler: requireAction('seat.read') }, async (req, reply) => {
      const row = store.agents.get(req.params.agent_id);
      if (!row) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
      return seatView(row);
    });

    app.get<{ Params: AgentParams; Querystring: SeatEventsQuery }>(
      '/seats/:agent_id/events',
      {
        schema: { params: AgentParams, querystring: SeatEventsQuery },
        // A seat timeline is monitoring data about a person's workplace: every read is audited.
        preHandler: [
          requireAction('event.read'),
          auditAccess(deps.audit, 'access.seat_events', (req) => ({ type: 'seat', id: (req.params as AgentParams).agent_id })),
        ],
      },
      async (req, reply) => {
        if (!store.agents.get(req.params.agent_id)) {
          return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
        }
        const limit = req.query.limit ?? 100;
        const rows = store.events.listForAgent({
          agentId: req.params.agent_id,
          after: req.query.after ?? 0,
          limit,
          ...(req.query.type === undefined ? {} : { type: req.query.type }),
        });
        const last = rows.at(-1);
        // next_after is null on a short page: nothing more right now.
        return { events: rows.map(eventView), next_after: rows.length === limit && last ? last.seq : null };
      },
    );
  };
}
