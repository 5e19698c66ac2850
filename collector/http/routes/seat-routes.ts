import type { FastifyInstance, FastifyRequest } from 'fastify';
import { systemClock, type Clock } from '../../../shared/clock.js';
import { formatError } from '../../../shared/errors.js';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { SeatRow } from '../../store/agents-repo.js';
import type { Store } from '../../store/store.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';
import { AgentParams, SeatEventsQuery, SeatListQuery } from '../schemas.js';
import { eventView, seatView } from '../views.js';

/** A denial older than this no longer marks the seat's software as in violation. */
export const SOFTWARE_VIOLATION_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

/** The departments a caller may see, or undefined for all ('*'). No principal sees nothing. */
function scopeOf(req: FastifyRequest): readonly string[] | undefined {
  const d = req.principal?.departments ?? [];
  return d === '*' ? undefined : d;
}

function visible(req: FastifyRequest, department: string | null): boolean {
  const scope = scopeOf(req);
  return scope === undefined || (department !== null && scope.includes(department));
}

function seatWithCompliance(row: SeatRow) {
  return { ...seatView(row), bios_password: row.bios_password, software_compliance: row.software_compliance };
}

/** /api/v1/seats: the seat list, one seat, and its event timeline (by seq). */
export function seatRoutes(deps: { store: Store; audit: AuditLog; clock?: Clock }) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const denialsSince = () => new Date(clock.now() - SOFTWARE_VIOLATION_WINDOW_MS).toISOString();
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: SeatListQuery }>('/seats', { schema: { querystring: SeatListQuery }, preHandler: requireAction('seat.read') }, async (req) => {
      const limit = req.query.limit ?? 50;
      const offset = req.query.offset ?? 0;
      const scope = scopeOf(req);
      const { rows, total } = store.agents.listSeats({ q: req.query.q, limit, offset, ...(scope === undefined ? {} : { departments: scope }) }, denialsSince());
      return { seats: rows.map(seatWithCompliance), total, limit, offset };
    });

    app.get<{ Params: AgentParams }>('/seats/:agent_id', { schema: { params: AgentParams }, preHandler: requireAction('seat.read') }, async (req, reply) => {
      const row = store.agents.getSeat(req.params.agent_id, denialsSince());
      // Another department's seat answers like a missing one: its existence is not disclosed.
      if (!row || !visible(req, row.department)) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
      return seatWithCompliance(row);
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
        const seat = store.agents.get(req.params.agent_id);
        if (!seat || !visible(req, seat.department)) {
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
