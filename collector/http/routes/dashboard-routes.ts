import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Clock } from '../../../shared/clock.js';
import { formatError } from '../../../shared/errors.js';
import { buildDashboard } from '../../reports/dashboard.js';
import { DEFAULT_TZ, isValidTimeZone } from '../../reports/time-zone.js';
import type { StatsRepo } from '../../store/stats-repo.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

/** IANA zone name as a query parameter; checked against the runtime's zone list in the handler. */
export const TimeZoneParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_+/-]+$', description: 'IANA time zone, e.g. Asia/Shanghai' });

export const DashboardQuery = Type.Object(
  {
    tz: Type.Optional(TimeZoneParam),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 90, description: 'Days in the series (default 30)' })),
  },
  { additionalProperties: false },
);
export type DashboardQuery = Static<typeof DashboardQuery>;

const Count = Type.Integer({ minimum: 0 });
const NullableCount = Type.Union([Count, Type.Null()]);
const Severities = Type.Object({ low: Count, medium: Count, high: Count, critical: Count });

export const DashboardResponse = Type.Object({
  generated_at: Type.String(),
  tz: Type.String(),
  days: Count,
  seats: Type.Object({
    total: Count,
    online: Count,
    offline: Count,
    revoked: Count,
    lock: Type.Object({ locked: Count, degraded: Count, unknown: Count }),
  }),
  alerts: Type.Object({ available: Type.Boolean(), open: NullableCount, by_severity: Type.Union([Severities, Type.Null()]) }),
  unlock: Type.Object({ available: Type.Boolean(), pending: NullableCount, active_grants: NullableCount }),
  series: Type.Array(
    Type.Object({ date: Type.String(), start: Type.String(), end: Type.String(), blocked: Count, alerts_opened: NullableCount }),
  ),
});

/** GET /api/v1/dashboard: the console overview (seat.read). */
export function dashboardRoutes(deps: { stats: StatsRepo; clock: Clock }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: DashboardQuery }>(
      '/dashboard',
      {
        schema: { summary: 'Console overview: seat, alert and unlock counts and a daily series', querystring: DashboardQuery, response: { 200: DashboardResponse } },
        preHandler: requireAction('seat.read'),
      },
      async (req, reply) => {
        const tz = req.query.tz ?? DEFAULT_TZ;
        if (!isValidTimeZone(tz)) return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'unknown time zone'));
        const scope = req.principal?.departments ?? [];
        return buildDashboard(deps.stats, { now: deps.clock.now(), tz, days: req.query.days ?? 30, scope });
      },
    );
  };
}
