import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { auditAccess } from '../../audit/access-audit.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { requireAction } from '../authorize.js';

const Dotted = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_.]*$' });
const IsoTime = Type.String({ minLength: 10, maxLength: 40, pattern: '^\\d{4}-\\d{2}-\\d{2}[T0-9:.Z+-]*$' });

const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    action: Type.Optional(Dotted),
    target_type: Type.Optional(Dotted),
    target_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    case_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    from: Type.Optional(IsoTime),
    to: Type.Optional(IsoTime),
    after_id: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    /** Cursor of a newest-first listing: records with a smaller id. */
    before_id: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
type AuditQuery = Static<typeof AuditQuery>;

/** GET /api/v1/audit (audit.read; reading it is itself audited) and POST /api/v1/audit/verify (audit.verify). */
export function auditRoutes(deps: { audit: AuditLog }) {
  const { audit } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: AuditQuery }>(
      '/audit',
      {
        schema: { querystring: AuditQuery },
        preHandler: [requireAction('audit.read'), auditAccess(audit, 'access.audit', () => ({ type: 'audit_log', id: '*' }))],
      },
      async (req) => {
        const q = req.query;
        const { records, nextAfterId, nextBeforeId } = audit.list(
          {
            ...(q.actor === undefined ? {} : { actor: q.actor }),
            ...(q.action === undefined ? {} : { action: q.action }),
            ...(q.target_type === undefined ? {} : { targetType: q.target_type }),
            ...(q.target_id === undefined ? {} : { targetId: q.target_id }),
            ...(q.case_id === undefined ? {} : { caseId: q.case_id }),
            ...(q.from === undefined ? {} : { from: q.from }),
            ...(q.to === undefined ? {} : { to: q.to }),
          },
          {
            afterId: q.after_id ?? 0,
            ...(q.before_id === undefined ? {} : { beforeId: q.before_id }),
            order: q.order ?? 'asc',
            limit: q.limit ?? 100,
          },
        );
        return { records, next_after_id: nextAfterId, next_before_id: nextBeforeId };
      },
    );

    app.post('/audit/verify', { preHandler: requireAction('audit.verify') }, async (req) => {
      const result = audit.verify();
      // Who checked, and what they saw, is part of the trail too.
      audit.append({
        actor: req.principal!.userId,
        action: 'audit.verify',
        targetType: 'audit_log',
        targetId: '*',
        detail: result.ok ? { ok: true, records: result.records, head_id: result.headId } : { ok: false, first_broken_id: result.firstBrokenId, table: result.table },
      });
      if (result.ok) {
        return { ok: true, records: result.records, checkpoints: result.checkpoints, events: result.events, head_id: result.headId, head_hash: result.headHash, unsigned_tail: result.unsignedTail };
      }
      return { ok: false, first_broken_id: result.firstBrokenId, table: result.table, reason: result.reason, checkpoint_id: result.checkpointId ?? null };
    });
  };
}
