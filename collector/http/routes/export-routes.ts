import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Clock } from '../../../shared/clock.js';
import { formatError } from '../../../shared/errors.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { csvStream } from '../../reports/csv.js';
import { EXPORT_KINDS, planExport, type ExportFilter, type ExportKind } from '../../reports/exports.js';
import { DEVICE_SORTS, type DevicesRepo } from '../../store/devices-repo.js';
import type { ReportRepo } from '../../store/report-repo.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

const AgentIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
const IsoTime = Type.String({ maxLength: 32, pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z$', description: 'ISO-8601 UTC' });
const Text = (max: number) => Type.String({ maxLength: max });

/** The filters each export accepts: the same as its list route (unknown parameters are refused). */
const QUERIES: Record<ExportKind, ReturnType<typeof Type.Object>> = {
  seats: Type.Object({ q: Type.Optional(Text(64)), department: Type.Optional(Text(64)) }, { additionalProperties: false }),
  events: Type.Object(
    {
      type: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_.]*$' })),
      agent_id: Type.Optional(AgentIdParam),
      since: Type.Optional(IsoTime),
      until: Type.Optional(IsoTime),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    },
    { additionalProperties: false },
  ),
  devices: Type.Object(
    { q: Type.Optional(Text(128)), agent_id: Type.Optional(AgentIdParam), sort: Type.Optional(Type.Union(DEVICE_SORTS.map((s) => Type.Literal(s)))) },
    { additionalProperties: false },
  ),
  'unlock-requests': Type.Object(
    {
      state: Type.Optional(Type.Union(['pending', 'approved', 'active', 'rejected', 'cancelled', 'lapsed', 'ended'].map((s) => Type.Literal(s)))),
      agent_id: Type.Optional(AgentIdParam),
      since: Type.Optional(IsoTime),
      until: Type.Optional(IsoTime),
    },
    { additionalProperties: false },
  ),
  alerts: Type.Object(
    {
      state: Type.Optional(Type.Union(['open', 'acknowledged', 'resolved'].map((s) => Type.Literal(s)))),
      severity: Type.Optional(Type.Union(['low', 'medium', 'high', 'critical'].map((s) => Type.Literal(s)))),
      agent_id: Type.Optional(AgentIdParam),
      since: Type.Optional(IsoTime),
      until: Type.Optional(IsoTime),
    },
    { additionalProperties: false },
  ),
};

/** `Content-Disposition` file name: ASCII only, so no header injection whatever the input. */
function fileName(kind: ExportKind, now: number): string {
  return `seatguard-${kind}-${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.csv`;
}

/** GET /api/v1/export/<kind>.csv: streamed CSV of a list with its filters (action 'export'; every export is audited). */
export function exportRoutes(deps: { reports: ReportRepo; devices: DevicesRepo; audit: AuditLog; clock: Clock }) {
  return async (app: FastifyInstance): Promise<void> => {
    for (const kind of EXPORT_KINDS) {
      const Query = QUERIES[kind];
      app.get<{ Querystring: Static<typeof Query> }>(
        `/export/${kind}.csv`,
        {
          schema: { summary: `CSV export of ${kind} (UTF-8 with BOM, formula-safe)`, querystring: Query, produces: ['text/csv'] },
          preHandler: requireAction('export'),
        },
        async (req, reply) => {
          const filter = req.query as ExportFilter;
          const scope = req.principal?.departments ?? [];
          const plan = planExport(kind, filter, scope, deps);
          if (plan === null) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', kind));
          // Committed before the first byte leaves: an export that cannot be audited does not happen.
          deps.audit.append({
            actor: req.principal?.userId ?? 'anonymous',
            action: 'export.csv',
            targetType: 'export',
            targetId: kind,
            detail: { filter: { ...filter }, via: req.principal?.kind ?? null },
          });
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', `attachment; filename="${fileName(kind, deps.clock.now())}"`)
            .header('cache-control', 'no-store')
            .header('x-content-type-options', 'nosniff')
            .send(csvStream(plan.header, plan.pages));
        },
      );
    }
  };
}
