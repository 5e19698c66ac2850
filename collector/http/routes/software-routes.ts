import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import { isAppError, type AppError, type ErrorCode } from '../../../shared/errors.js';
import { inScope } from '../../auth/privileges.js';
import type { SoftwareRequestRow } from '../../store/software-request-repo.js';
import { allowRuleId } from '../../workflow/software-case.js';
import type { SoftwareService } from '../../workflow/software-service.js';
import type { UnlockState } from '../../workflow/unlock-machine.js';
import { trailView } from '../../workflow/unlock-views.js';
import { actorOf, requireAction } from '../authorize.js';
import { sendError } from '../errors.js';
import { workflowStatus } from './unlock-routes.js';

// --- schemas ------------------------------------------------------------------------------------

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
const AgentId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
const Reason = Type.String({ minLength: 1, maxLength: 1024 });
const STATES: readonly UnlockState[] = ['pending', 'approved', 'active', 'rejected', 'cancelled', 'lapsed', 'ended'];
const State = Type.String({ pattern: `^(${STATES.join('|')})$` });
const isState = (s: string): s is UnlockState => (STATES as readonly string[]).includes(s);

export const SoftwareListQuery = Type.Object(
  {
    state: Type.Optional(State),
    agent_id: Type.Optional(AgentId),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export const SoftwareIdParams = Type.Object({ id: Id }, { additionalProperties: false });

/** Exactly one of package or sha256 (checked by the workflow, which names the problem). */
export const CreateSoftwareBody = Type.Object(
  {
    agent_id: AgentId,
    package: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    versions: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 128 })])),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
    reason: Reason,
    /** Omitted or null: permanent (until revoked). */
    duration_ms: Type.Optional(Type.Union([Type.Null(), Type.Integer({ minimum: 1, maximum: 10 * 365 * 86_400_000 })])),
  },
  { additionalProperties: false },
);
export const SoftwareApproveBody = Type.Object({ note: Type.Optional(Type.String({ maxLength: 1024 })) }, { additionalProperties: false });
export const SoftwareReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });
const EmptyBody = Type.Object({}, { additionalProperties: false });

// --- view ---------------------------------------------------------------------------------------

/** The API form of a case (the console renders exactly this). */
export function softwareView(r: SoftwareRequestRow) {
  const approvals = JSON.parse(r.approvals) as Array<{ by: string; at: string; note: string }>;
  return {
    id: r.id,
    agent_id: r.agent_id,
    department: r.department,
    source: r.source,
    request_ref: r.request_ref,
    os_user: r.os_user,
    target: { package: r.package, versions: r.versions, sha256: r.sha256 },
    reason: r.reason,
    permanent: r.duration_ms === null,
    duration_ms: r.duration_ms,
    requested_by: r.requested_by,
    requested_at: r.requested_at,
    state: r.state,
    approvals_required: r.approvals_required,
    approvals,
    closed_by: r.closed_by,
    closed_reason: r.closed_reason,
    allow:
      r.grant_id === null
        ? null
        : { id: r.grant_id, rule_id: allowRuleId(r.id), executor: r.grant_executor, starts_at: r.grant_starts_at, expires_at: r.grant_expires_at },
    end_reason: r.end_reason,
    ended_at: r.ended_at,
    fulfilled_at: r.fulfilled_at,
    fulfilled_version: r.fulfilled_version,
    version: r.version,
    updated_at: r.updated_at,
  };
}

// --- errors -------------------------------------------------------------------------------------

const STATUS: Partial<Record<ErrorCode, number>> = {
  SOFTWARE_ERR_NOT_FOUND: 404,
  SOFTWARE_ERR_CONFLICT: 409,
  SOFTWARE_ERR_TARGET: 400,
  SOFTWARE_ERR_DURATION: 400,
};

/** Runs a workflow call; its coded errors (the machine's UNLOCK_ERR_* and SOFTWARE_ERR_*) become JSON errors. */
async function answer<T>(reply: FastifyReply, fn: () => T): Promise<T | FastifyReply> {
  try {
    return fn();
  } catch (err) {
    const status = isAppError(err) ? (STATUS[err.code] ?? workflowStatus(err.code)) : undefined;
    if (status === undefined) throw err;
    const e = err as AppError;
    return sendError(reply, status, e.code, e.message);
  }
}

const notFound = (reply: FastifyReply, id: string) => sendError(reply, 404, 'SOFTWARE_ERR_NOT_FOUND', `Software request ${id} not found`);

// --- routes -------------------------------------------------------------------------------------

/**
 * /api/v1/software-requests: the software install cases. The same privileges as USB unlocks (the
 * same roles decide both); department scope and separation of duties are enforced by the workflow.
 */
export function softwareRoutes(deps: { software: SoftwareService }) {
  const { software } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: Static<typeof SoftwareListQuery> }>(
      '/software-requests',
      { schema: { querystring: SoftwareListQuery }, preHandler: requireAction('unlock.read') },
      async (req) => {
        const limit = req.query.limit ?? 50;
        const offset = req.query.offset ?? 0;
        const { rows, total } = software.list({
          limit,
          offset,
          departments: actorOf(req).departments,
          ...(req.query.state !== undefined && isState(req.query.state) ? { state: req.query.state } : {}),
          ...(req.query.agent_id === undefined ? {} : { agentId: req.query.agent_id }),
        });
        return { requests: rows.map(softwareView), total, limit, offset };
      },
    );

    app.post<{ Body: Static<typeof CreateSoftwareBody> }>(
      '/software-requests',
      { schema: { body: CreateSoftwareBody }, preHandler: requireAction('unlock.request') },
      async (req, reply) => {
        const b = req.body;
        return answer(reply, () => {
          const row = software.createRequest(actorOf(req), {
            agentId: b.agent_id,
            target: { package: b.package ?? null, versions: b.versions ?? null, sha256: b.sha256 ?? null },
            reason: b.reason,
            durationMs: b.duration_ms ?? null,
          });
          void reply.code(201);
          return softwareView(row);
        });
      },
    );

    app.get<{ Params: Static<typeof SoftwareIdParams> }>(
      '/software-requests/:id',
      { schema: { params: SoftwareIdParams }, preHandler: requireAction('unlock.read') },
      async (req, reply) => {
        const row = software.get(req.params.id);
        // Out of scope answers like unknown: the caller learns nothing about other departments.
        if (!row || !inScope(actorOf(req).departments, row.department)) return notFound(reply, req.params.id);
        return { request: softwareView(row), trail: software.trail(row.id).map(trailView) };
      },
    );

    app.post<{ Params: Static<typeof SoftwareIdParams>; Body: Static<typeof SoftwareApproveBody> }>(
      '/software-requests/:id/approve',
      { schema: { params: SoftwareIdParams, body: SoftwareApproveBody }, preHandler: requireAction('unlock.approve') },
      async (req, reply) => answer(reply, () => softwareView(software.approve(req.params.id, actorOf(req), req.body?.note ?? ''))),
    );

    app.post<{ Params: Static<typeof SoftwareIdParams>; Body: Static<typeof SoftwareReasonBody> }>(
      '/software-requests/:id/reject',
      { schema: { params: SoftwareIdParams, body: SoftwareReasonBody }, preHandler: requireAction('unlock.reject') },
      async (req, reply) => answer(reply, () => softwareView(software.reject(req.params.id, actorOf(req), req.body.reason))),
    );

    app.post<{ Params: Static<typeof SoftwareIdParams>; Body: Static<typeof EmptyBody> }>(
      '/software-requests/:id/execute',
      { schema: { params: SoftwareIdParams, body: EmptyBody }, preHandler: requireAction('unlock.execute') },
      async (req, reply) => answer(reply, () => softwareView(software.execute(req.params.id, actorOf(req)))),
    );

    app.post<{ Params: Static<typeof SoftwareIdParams>; Body: Static<typeof SoftwareReasonBody> }>(
      '/software-requests/:id/revoke',
      { schema: { params: SoftwareIdParams, body: SoftwareReasonBody }, preHandler: requireAction('unlock.revoke') },
      async (req, reply) => answer(reply, () => softwareView(software.revoke(req.params.id, actorOf(req), req.body.reason))),
    );

    // The requester may cancel their own request; anyone else needs unlock.reject (checked by the workflow).
    app.post<{ Params: Static<typeof SoftwareIdParams>; Body: Static<typeof SoftwareReasonBody> }>(
      '/software-requests/:id/cancel',
      { schema: { params: SoftwareIdParams, body: SoftwareReasonBody }, preHandler: requireAction('unlock.request') },
      async (req, reply) => answer(reply, () => softwareView(software.cancel(req.params.id, actorOf(req), req.body.reason))),
    );
  };
}
