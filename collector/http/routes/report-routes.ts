import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Clock } from '../../../shared/clock.js';
import { formatError } from '../../../shared/errors.js';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { renderMonthlyHtml } from '../../reports/monthly-html.js';
import { buildMonthlyReport } from '../../reports/monthly-report.js';
import { DEFAULT_TZ, isValidTimeZone } from '../../reports/time-zone.js';
import type { ReportRepo } from '../../store/report-repo.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';
import { TimeZoneParam } from './dashboard-routes.js';

export const MonthlyReportQuery = Type.Object(
  {
    month: Type.String({ pattern: '^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$', description: 'YYYY-MM' }),
    department: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    tz: Type.Optional(TimeZoneParam),
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('html')])),
  },
  { additionalProperties: false },
);
export type MonthlyReportQuery = Static<typeof MonthlyReportQuery>;

/** GET /api/v1/reports/monthly: per-department unlocks, violations and non-compliant seats (report.read; audited). */
export function reportRoutes(deps: { reports: ReportRepo; audit: AuditLog; clock: Clock }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: MonthlyReportQuery }>(
      '/reports/monthly',
      {
        schema: { summary: 'Monthly compliance report (JSON or printable HTML)', querystring: MonthlyReportQuery },
        preHandler: [
          requireAction('report.read'),
          auditAccess(deps.audit, 'access.report', (req) => ({ type: 'report', id: `monthly:${(req.query as MonthlyReportQuery).month}` })),
        ],
      },
      async (req, reply) => {
        const tz = req.query.tz ?? DEFAULT_TZ;
        if (!isValidTimeZone(tz)) return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'unknown time zone'));
        const report = buildMonthlyReport(deps.reports, {
          month: req.query.month,
          tz,
          ...(req.query.department === undefined ? {} : { department: req.query.department }),
          scope: req.principal?.departments ?? [],
          now: deps.clock.now(),
          generatedBy: req.principal?.username ?? 'unknown',
        });
        if (req.query.format !== 'html') return report;
        return reply
          .type('text/html; charset=utf-8')
          // A standalone page: no script at all, inline style only.
          .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
          .header('x-content-type-options', 'nosniff')
          .send(renderMonthlyHtml(report));
      },
    );
  };
}
