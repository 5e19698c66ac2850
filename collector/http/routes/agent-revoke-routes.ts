import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock } from '../../../shared/clock.js';
import { formatError } from '../../../shared/errors.js';
import { CLOSE_CODES } from '../../../shared/protocol/version.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { Store } from '../../store/store.js';
import { sendAppError } from '../../users/http-errors.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';
import { AgentParams } from '../schemas.js';

/** The part of the agent gateway revocation needs. */
export interface AgentDisconnector {
  /** Closes every open socket of the agent with `code`; returns how many there were. */
  disconnect(agentId: string, code: number, reason: string): number;
}

function visible(req: FastifyRequest, department: string | null): boolean {
  const d = req.principal?.departments ?? [];
  return d === '*' || (department !== null && d.includes(department));
}

/**
 * `POST /seats/:agent_id/revoke` (agent.revoke): the seat's key is no longer accepted. The revocation
 * and its audit record commit together; then the agent's live socket is closed with 4403 `revoked`,
 * so a stolen or retired seat stops talking at once instead of at its next reconnect. The upgrade
 * handler already refuses a revoked agent (403), so the agent cannot come back.
 */
export function agentRevokeRoutes(deps: { store: Store; audit: AuditLog; clock: Clock; gateway: AgentDisconnector }) {
  const { store, audit, clock, gateway } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Params: AgentParams }>(
      '/seats/:agent_id/revoke',
      { schema: { params: AgentParams }, preHandler: requireAction('agent.revoke') },
      async (req, reply) => {
        const agentId = req.params.agent_id;
        const row = store.agents.get(agentId);
        // Another department's seat answers like a missing one, as on the seat routes.
        if (!row || !visible(req, row.department)) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
        const at = new Date(clock.now()).toISOString();
        let revokedNow: boolean;
        try {
          revokedNow = store.transaction(() => {
            const changed = store.agents.revoke(agentId, at);
            if (changed) {
              audit.append({
                actor: req.principal!.userId,
                action: 'agent.revoke',
                targetType: 'agent',
                targetId: agentId,
                detail: { seat_name: row.seat_name, department: row.department },
              });
            }
            return changed;
          });
        } catch (err) {
          return sendAppError(reply, err);
        }
        // Also on a repeated call: a socket that slipped in must not outlive the revocation.
        const disconnected = gateway.disconnect(agentId, CLOSE_CODES.revoked, 'agent revoked');
        req.log.info({ agent_id: agentId, revoked_now: revokedNow, disconnected }, 'agent revoked');
        const revokedAt = revokedNow ? at : (store.agents.get(agentId)?.revoked_at ?? at);
        return { agent_id: agentId, revoked_at: revokedAt, already_revoked: !revokedNow, disconnected };
      },
    );
  };
}
