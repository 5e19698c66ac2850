import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { AppError, formatError } from '../../../shared/errors.js';
import { renderHandoverMarkdown, type AlertEngine } from '../../alerts/index.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { Store } from '../../store/store.js';
import { actorOf, requireAction } from '../authorize.js';
import { resolveUser, sendAlertError, withAudit } from './alert-routes.js';

const HandoverQuery = Type.Object(
  {
    /** `md` returns the zh-CN Markdown text instead of JSON. */
    format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('md')])),
    /** Count from here (epoch ms or ISO) instead of the last confirmed handover. */
    since: Type.Optional(Type.String({ minLength: 1, maxLength: 40, pattern: '^[0-9A-Za-z:.+-]+$' })),
  },
  { additionalProperties: false },
);
type HandoverQuery = Static<typeof HandoverQuery>;

const ConfirmBody = Type.Object({ incoming: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
type ConfirmBody = Static<typeof ConfirmBody>;

function sinceMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^[0-9]{1,16}$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw new AppError('ALERT_ERR_INVALID_INPUT', formatError('ALERT_ERR_INVALID_INPUT', 'since must be epoch milliseconds or an ISO time'));
  return ms;
}

/**
 * /api/v1/handover: the pre-filled shift handover (WF-7) as JSON or Markdown, and its confirmation.
 * The report is desk-wide (every seat), like the duty desk it serves.
 */
export function handoverRoutes(deps: { alerts: AlertEngine; store: Store; audit?: AuditLog | undefined }) {
  const { alerts, store } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: HandoverQuery }>('/handover', { schema: { querystring: HandoverQuery }, preHandler: requireAction('handover.read') }, async (req, reply) => {
      try {
        const since = sinceMs(req.query.since);
        const report = alerts.handoverReport(undefined, since === undefined ? {} : { since });
        if (req.query.format !== 'md') return report;
        // Markdown escapes hostile text for Markdown, not HTML: never let a browser sniff it as HTML.
        return reply.type('text/markdown; charset=utf-8').header('x-content-type-options', 'nosniff').send(renderHandoverMarkdown(report));
      } catch (err) {
        return sendAlertError(reply, err);
      }
    });

    // Handing over passes the ownership of the open alerts (WF-7: the outgoing person stays the
    // owner until then), which is the authority `alert.ack` stands for; the incoming person must
    // hold it too.
    app.post<{ Body: ConfirmBody }>('/handover/confirm', { schema: { body: ConfirmBody }, preHandler: requireAction('alert.ack') }, async (req, reply) => {
      try {
        const outgoing = actorOf(req).id;
        const incoming = resolveUser(store, req.body.incoming, 'incoming', 'alert.ack');
        const r = withAudit(deps, { actor: outgoing, action: 'handover.confirm', targetType: 'user', targetId: incoming, detail: { outgoing, incoming } }, () =>
          alerts.confirmHandover({ outgoing, incoming }),
        );
        return reply.code(201).send({ handover: { id: r.id, at: r.at, outgoing, incoming }, report: r.report });
      } catch (err) {
        return sendAlertError(reply, err);
      }
    });
  };
}
