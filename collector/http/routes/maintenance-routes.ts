import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { isAppError, type ErrorCode } from '../../../shared/errors.js';
import { MAINTENANCE_MAX_TTL_MS } from '../../../shared/domain/maintenance-code.js';
import type { MaintenanceCodeService } from '../../workflow/maintenance-code-service.js';
import { MAINTENANCE_MIN_TTL_MS } from '../../workflow/maintenance-code-service.js';
import { actorOf, requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

const SeatParams = Type.Object({ agent_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }) }, { additionalProperties: false });
export const MaintenanceCodeBody = Type.Object(
  {
    purpose: Type.Union([Type.Literal('stop'), Type.Literal('uninstall'), Type.Literal('upgrade')]),
    ttl_ms: Type.Optional(Type.Integer({ minimum: MAINTENANCE_MIN_TTL_MS, maximum: MAINTENANCE_MAX_TTL_MS })),
    reason: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

const STATUS: Partial<Record<ErrorCode, number>> = { MAINT_ERR_SEAT: 404, MAINT_ERR_TTL: 400, API_ERR_VALIDATION: 400, AUTH_ERR_FORBIDDEN: 403 };

/**
 * POST /api/v1/seats/:agent_id/maintenance-codes: a single-use code to stop, uninstall or upgrade
 * that seat's agent (docs/self-protection.md §2). Maintainers and officers (`agent.maintenance_code`), seats in scope;
 * unknown and foreign seats both answer 404. Audited (the code itself is not).
 */
export function maintenanceRoutes(deps: { codes: MaintenanceCodeService }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Params: Static<typeof SeatParams>; Body: Static<typeof MaintenanceCodeBody> }>(
      '/seats/:agent_id/maintenance-codes',
      { schema: { params: SeatParams, body: MaintenanceCodeBody }, preHandler: requireAction('agent.maintenance_code') },
      async (req, reply) => {
        try {
          const issued = deps.codes.issue(actorOf(req), {
            agentId: req.params.agent_id,
            purpose: req.body.purpose,
            reason: req.body.reason,
            ...(req.body.ttl_ms === undefined ? {} : { ttlMs: req.body.ttl_ms }),
          });
          // SECURITY: the code opens the seat's agent to a stop; never cache it on the way.
          return await reply.code(201).header('cache-control', 'no-store').send({ maintenance_code: issued });
        } catch (err) {
          const status = isAppError(err) ? STATUS[err.code] : undefined;
          if (status === undefined || !isAppError(err)) throw err;
          return sendError(reply, status, err.code, err.message);
        }
      },
    );
  };
}
