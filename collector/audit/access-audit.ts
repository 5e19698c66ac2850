import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from './audit-log.js';

/** What an access record names: e.g. { type: 'seat', id: agent_id }. */
export interface AccessTarget {
  type: string;
  id: string;
}

/**
 * preHandler that records who looked at what (regulations: monitoring data is itself monitored).
 * Attach AFTER `requireAction(...)` so only authorized reads are recorded. The record is committed
 * before the handler runs; if it cannot be written the request fails (AUDIT_ERR_*), so no data
 * leaves the collector unrecorded.
 */
export function auditAccess(audit: AuditLog, action: string, target: (req: FastifyRequest) => AccessTarget) {
  return async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const t = target(req);
    const query = req.query !== null && typeof req.query === 'object' ? (req.query as Record<string, unknown>) : {};
    audit.append({
      actor: req.principal?.userId ?? 'anonymous',
      action,
      targetType: t.type,
      targetId: t.id,
      detail: { method: req.method, route: req.routeOptions.url ?? null, query, via: req.principal?.kind ?? null },
    });
  };
}
