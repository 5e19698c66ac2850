import type { FastifyInstance } from 'fastify';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { Store } from '../../store/store.js';
import { requireAction } from '../authorize.js';
import { EventsQuery } from '../schemas.js';
import { eventView } from '../views.js';

/** /api/v1/events: every seat's events in the order the collector stored them (by id). */
export function eventRoutes(deps: { store: Store; audit: AuditLog }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: EventsQuery }>(
      '/events',
      {
        schema: { querystring: EventsQuery },
        // Event history of the seats: every read is audited (one seat, or '*' for all of them).
        preHandler: [
          requireAction('event.read'),
          auditAccess(deps.audit, 'access.events', (req) => ({ type: 'seat', id: (req.query as EventsQuery).agent_id ?? '*' })),
        ],
      },
      async (req) => {
        const limit = req.query.limit ?? 100;
        // A user limited to some departments sees only their seats' events.
        const d = req.principal?.departments ?? [];
        const scope = d === '*' ? undefined : d;
        if (scope !== undefined && req.query.agent_id !== undefined) {
          const seat = deps.store.agents.get(req.query.agent_id);
          if (!seat || seat.department === null || !scope.includes(seat.department)) return { events: [], next_after_id: null };
        }
        const rows = deps.store.events.listGlobal({
          ...(scope === undefined ? {} : { departments: scope }),
          afterId: req.query.after_id ?? 0,
          limit,
          ...(req.query.type === undefined ? {} : { type: req.query.type }),
          ...(req.query.agent_id === undefined ? {} : { agentId: req.query.agent_id }),
        });
        const last = rows.at(-1);
        return { events: rows.map(eventView), next_after_id: rows.length === limit && last ? last.id : null };
      },
    );
  };
}
