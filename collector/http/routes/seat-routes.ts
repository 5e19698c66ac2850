import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import { systemClock, type Clock } from '../../../shared/clock.js';
import { formatError } from '../../../shared/errors.js';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { SeatRow } from '../../store/agents-repo.js';
import { codeDrift, createCodeDriftRepo, type CodeBaseline } from '../../store/code-drift.js';
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

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A seat as the API shows it (GET /seats and /seats/:agent_id); the OpenAPI document shows this. */
export const SeatResponse = Type.Object({
  agent_id: Type.String(),
  seat_name: Type.String(),
  hostname: Type.String(),
  platform: Type.String(),
  department: Nullable(Type.String()),
  agent_version: Nullable(Type.String()),
  online: Type.Boolean(),
  last_seen: Nullable(Type.String()),
  lock_state: Type.String({ description: 'locked | degraded | unknown' }),
  outbox_depth: Nullable(Type.Integer()),
  last_seq: Type.Integer(),
  enrolled_at: Type.String(),
  revoked_at: Nullable(Type.String()),
  bios_password: Nullable(Type.String({ description: 'set | not_set | not_implemented | unknown; null = never reported' })),
  software_compliance: Nullable(Type.String({ description: 'compliant | violation; null = never reported' })),
  code: Nullable(
    Type.Object(
      {
        agent_version: Nullable(Type.String({ description: 'from the latest agent.started' })),
        sha256: Nullable(Type.String({ description: "hash of the agent's code tree; null = the agent sends none" })),
        reported_at: Type.String({ description: 'when the collector received that agent.started' }),
        baseline_sha256: Nullable(Type.String({ description: 'the hash most non-revoked seats of this version report; null = no single majority' })),
        drift: Nullable(Type.Boolean({ description: 'sha256 differs from baseline_sha256; null = cannot tell' })),
      },
      { description: "The seat's code report and fleet drift (docs/self-protection.md); null = no agent.started yet" },
    ),
  ),
});

const SeatListResponse = Type.Object({ seats: Type.Array(SeatResponse), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });

function seatWithCompliance(row: SeatRow, baseline: CodeBaseline) {
  const code = row.code === null ? null : { ...row.code, baseline_sha256: row.code.agent_version === null ? null : (baseline.get(row.code.agent_version)?.sha256 ?? null), drift: codeDrift(row.code, baseline) };
  return { ...seatView(row), bios_password: row.bios_password, software_compliance: row.software_compliance, code };
}

/** /api/v1/seats: the seat list, one seat, and its event timeline (by seq). */
export function seatRoutes(deps: { store: Store; audit: AuditLog; clock?: Clock }) {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const denialsSince = () => new Date(clock.now() - SOFTWARE_VIOLATION_WINDOW_MS).toISOString();
  const drift = createCodeDriftRepo(store.db);
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: SeatListQuery }>('/seats', { schema: { querystring: SeatListQuery, response: { 200: SeatListResponse } }, preHandler: requireAction('seat.read') }, async (req) => {
      const limit = req.query.limit ?? 50;
      const offset = req.query.offset ?? 0;
      const scope = scopeOf(req);
      const { rows, total } = store.agents.listSeats({ q: req.query.q, limit, offset, ...(scope === undefined ? {} : { departments: scope }) }, denialsSince());
      // Fleet-wide on purpose: a department's seats are compared with every seat of their version.
      const baseline = drift.baseline();
      return { seats: rows.map((r) => seatWithCompliance(r, baseline)), total, limit, offset };
    });

    app.get<{ Params: AgentParams }>('/seats/:agent_id', { schema: { params: AgentParams, response: { 200: SeatResponse } }, preHandler: requireAction('seat.read') }, async (req, reply) => {
      const row = store.agents.getSeat(req.params.agent_id, denialsSince());
      // Another department's seat answers like a missing one: its existence is not disclosed.
      if (!row || !visible(req, row.department)) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
      return seatWithCompliance(row, drift.baseline());
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
