import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type, type Static } from 'typebox';
import { DeviceString } from '../../../shared/domain/usb.js';
import { isAppError, type AppError, type ErrorCode } from '../../../shared/errors.js';
import { inScope } from '../../auth/privileges.js';
import type { OfflineCodeService } from '../../workflow/offline-code-service.js';
import type { UnlockState } from '../../workflow/unlock-machine.js';
import type { UnlockService } from '../../workflow/unlock-service.js';
import { offlineCodeView, personLookup, trailViewWith, unlockView as unlockViewOf, type PersonLookup } from '../../workflow/unlock-views.js';
import type { UnlockRow } from '../../store/unlock-repo.js';
import { actorOf, requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

// --- schemas ------------------------------------------------------------------------------------

const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
const AgentId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
// Accepts either case from people; stored lowercase like the agents report it.
const Hex4 = Type.String({ pattern: '^[0-9a-fA-F]{4}$' });
const Hash = Type.Union([Type.Null(), Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })]);
const Port = Type.Union([Type.Null(), Type.String({ pattern: '^[0-9]{1,3}-[0-9]{1,3}(\\.[0-9]{1,3}){0,6}$' })]);
const Reason = Type.String({ minLength: 1, maxLength: 1024 });
const STATES: readonly UnlockState[] = ['pending', 'approved', 'active', 'rejected', 'cancelled', 'lapsed', 'ended'];
const State = Type.String({ pattern: `^(${STATES.join('|')})$` });
const isState = (s: string): s is UnlockState => (STATES as readonly string[]).includes(s);

const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: 500 }));
const Offset = Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 }));

export const UnlockListQuery = Type.Object(
  { state: Type.Optional(State), agent_id: Type.Optional(AgentId), limit: Limit, offset: Offset },
  { additionalProperties: false },
);
export const GrantsQuery = Type.Object(
  { active: Type.Optional(Type.String({ pattern: '^(0|1|true|false)$' })), agent_id: Type.Optional(AgentId), limit: Limit, offset: Offset },
  { additionalProperties: false },
);
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });

export const CreateUnlockBody = Type.Object(
  {
    agent_id: AgentId,
    device: Type.Object(
      {
        vendor_id: Hex4,
        product_id: Hex4,
        serial: Type.Optional(DeviceString),
        hash: Type.Optional(Hash),
        port: Type.Optional(Port),
      },
      { additionalProperties: false },
    ),
    reason: Reason,
    duration_ms: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3_600_000 }),
  },
  { additionalProperties: false },
);
export const ApproveBody = Type.Object(
  {
    note: Type.Optional(Type.String({ maxLength: 1024 })),
    allow_reinsert: Type.Optional(Type.Boolean()),
    any_port: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const ExecuteBody = Type.Object(
  { allow_reinsert: Type.Optional(Type.Boolean()), any_port: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });

export const OfflineCodeBody = Type.Object(
  {
    agent_id: AgentId,
    challenge: Type.String({ minLength: 1, maxLength: 40 }),
    minutes: Type.Integer({ minimum: 1, maximum: 0xffff }),
    device: Type.Optional(
      Type.Object({ vendor_id: Hex4, product_id: Hex4, serial: DeviceString, hash: Hash }, { additionalProperties: false }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export const OfflineListQuery = Type.Object({ agent_id: Type.Optional(AgentId), limit: Limit, offset: Offset }, { additionalProperties: false });

// --- errors -------------------------------------------------------------------------------------

const STATUS: Partial<Record<ErrorCode, number>> = {
  UNLOCK_ERR_NOT_FOUND: 404,
  UNLOCK_ERR_SEAT: 404,
  UNLOCK_ERR_NOT_PENDING: 409,
  UNLOCK_ERR_NOT_APPROVED: 409,
  UNLOCK_ERR_NOT_ACTIVE: 409,
  UNLOCK_ERR_LAPSED: 409,
  UNLOCK_ERR_DUPLICATE_APPROVAL: 409,
  UNLOCK_ERR_CONFLICT: 409,
  UNLOCK_ERR_SELF_APPROVAL: 403,
  UNLOCK_ERR_FORBIDDEN: 403,
  UNLOCK_ERR_SCOPE: 403,
  UNLOCK_ERR_EXECUTOR: 403,
  UNLOCK_ERR_REASON: 400,
  UNLOCK_ERR_DURATION: 400,
  UNLOCK_ERR_DEVICE: 400,
  OFFLINE_ERR_CHALLENGE: 400,
  OFFLINE_ERR_MINUTES: 400,
  POLICY_ERR_INVALID: 400,
  POLICY_ERR_NOT_FOUND: 404,
};

/** HTTP status of a workflow error code, or undefined when it is not one. */
export function workflowStatus(code: ErrorCode): number | undefined {
  return STATUS[code];
}

/** Runs a workflow call; its coded errors become `{ error: { code, message } }` with the right status. */
export async function answer<T>(reply: FastifyReply, fn: () => T): Promise<T | FastifyReply> {
  try {
    return fn();
  } catch (err) {
    const status = isAppError(err) ? workflowStatus(err.code) : undefined;
    if (status === undefined) throw err;
    const e = err as AppError;
    const errors = e.details?.errors;
    if (errors !== undefined) {
      // Validation errors carry the full list (e.g. every bad policy line with line and column).
      return reply.code(status).type('application/json').send({ error: { code: e.code, message: e.message, details: { errors } } });
    }
    return sendError(reply, status, e.code, e.message);
  }
}

// --- routes -------------------------------------------------------------------------------------

const notFound = (reply: FastifyReply, id: string) => sendError(reply, 404, 'UNLOCK_ERR_NOT_FOUND', `Unlock request ${id} not found`);

/**
 * /api/v1/unlock-requests (cases and their steps), /api/v1/grants and /api/v1/offline-codes.
 * Each route names its privilege; department scope and separation of duties are enforced by the
 * workflow. Lists show only seats in the caller's departments.
 */
export function unlockRoutes(deps: { unlock: UnlockService; offline: OfflineCodeService; users?: Parameters<typeof personLookup>[0] }) {
  const { unlock, offline } = deps;
  // Names next to the actor ids (requester, approvers, executor). A fresh cache per answer: one
  // kept across requests would show a renamed user's old name.
  const people = (): PersonLookup => (deps.users ? personLookup(deps.users) : () => null);
  const unlockView = (r: UnlockRow, lookup: PersonLookup = people()) => unlockViewOf(r, lookup);
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: Static<typeof UnlockListQuery> }>(
      '/unlock-requests',
      { schema: { querystring: UnlockListQuery }, preHandler: requireAction('unlock.read') },
      async (req) => {
        const limit = req.query.limit ?? 50;
        const offset = req.query.offset ?? 0;
        const { rows, total } = unlock.list({
          limit,
          offset,
          departments: actorOf(req).departments,
          ...(req.query.state !== undefined && isState(req.query.state) ? { state: req.query.state } : {}),
          ...(req.query.agent_id === undefined ? {} : { agentId: req.query.agent_id }),
        });
        const lookup = people();
        return { requests: rows.map((r) => unlockView(r, lookup)), total, limit, offset };
      },
    );

    app.post<{ Body: Static<typeof CreateUnlockBody> }>(
      '/unlock-requests',
      { schema: { body: CreateUnlockBody }, preHandler: requireAction('unlock.request') },
      async (req, reply) => {
        const b = req.body;
        return answer(reply, () => {
          const row = unlock.createRequest(actorOf(req), {
            agentId: b.agent_id,
            device: {
              vendor_id: b.device.vendor_id.toLowerCase(),
              product_id: b.device.product_id.toLowerCase(),
              serial: b.device.serial ?? null,
              hash: b.device.hash ?? null,
              port: b.device.port ?? null,
            },
            reason: b.reason,
            durationMs: b.duration_ms,
          });
          void reply.code(201);
          return unlockView(row);
        });
      },
    );

    app.get<{ Params: Static<typeof IdParams> }>(
      '/unlock-requests/:id',
      { schema: { params: IdParams }, preHandler: requireAction('unlock.read') },
      async (req, reply) => {
        const row = unlock.get(req.params.id);
        // Out of scope answers like unknown: the caller learns nothing about other departments.
        if (!row || !inScope(actorOf(req).departments, row.department)) return notFound(reply, req.params.id);
        const lookup = people();
        return { request: unlockView(row, lookup), trail: unlock.trail(row.id).map(trailViewWith(lookup)) };
      },
    );

    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ApproveBody> }>(
      '/unlock-requests/:id/approve',
      { schema: { params: IdParams, body: ApproveBody }, preHandler: requireAction('unlock.approve') },
      async (req, reply) =>
        answer(reply, () => {
          const b = req.body ?? {};
          return unlockView(
            unlock.approve(req.params.id, actorOf(req), {
              note: b.note ?? '',
              ...(b.allow_reinsert === undefined ? {} : { allowReinsert: b.allow_reinsert }),
              ...(b.any_port === undefined ? {} : { anyPort: b.any_port }),
            }),
          );
        }),
    );

    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReasonBody> }>(
      '/unlock-requests/:id/reject',
      { schema: { params: IdParams, body: ReasonBody }, preHandler: requireAction('unlock.reject') },
      async (req, reply) => answer(reply, () => unlockView(unlock.reject(req.params.id, actorOf(req), req.body.reason))),
    );

    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ExecuteBody> }>(
      '/unlock-requests/:id/execute',
      { schema: { params: IdParams, body: ExecuteBody }, preHandler: requireAction('unlock.execute') },
      async (req, reply) =>
        answer(reply, () => {
          const b = req.body ?? {};
          return unlockView(
            unlock.execute(req.params.id, actorOf(req), {
              ...(b.allow_reinsert === undefined ? {} : { allowReinsert: b.allow_reinsert }),
              ...(b.any_port === undefined ? {} : { anyPort: b.any_port }),
            }),
          );
        }),
    );

    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReasonBody> }>(
      '/unlock-requests/:id/revoke',
      { schema: { params: IdParams, body: ReasonBody }, preHandler: requireAction('unlock.revoke') },
      async (req, reply) => answer(reply, () => unlockView(unlock.revoke(req.params.id, actorOf(req), req.body.reason))),
    );

    // The requester may cancel their own request; anyone else needs unlock.reject (checked by the workflow).
    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReasonBody> }>(
      '/unlock-requests/:id/cancel',
      { schema: { params: IdParams, body: ReasonBody }, preHandler: requireAction('unlock.request') },
      async (req, reply) => answer(reply, () => unlockView(unlock.cancel(req.params.id, actorOf(req), req.body.reason))),
    );

    app.get<{ Querystring: Static<typeof GrantsQuery> }>(
      '/grants',
      { schema: { querystring: GrantsQuery }, preHandler: requireAction('unlock.read') },
      async (req) => {
        const limit = req.query.limit ?? 50;
        const offset = req.query.offset ?? 0;
        const active = req.query.active === undefined || req.query.active === '1' || req.query.active === 'true';
        const { rows, total } = unlock.grants({
          active,
          limit,
          offset,
          departments: actorOf(req).departments,
          ...(req.query.agent_id === undefined ? {} : { agentId: req.query.agent_id }),
        });
        const lookup = people();
        return { grants: rows.map((r) => unlockView(r, lookup)), total, limit, offset, active };
      },
    );

    app.post<{ Body: Static<typeof OfflineCodeBody> }>(
      '/offline-codes',
      { schema: { body: OfflineCodeBody }, preHandler: requireAction('unlock.offline_code') },
      async (req, reply) =>
        answer(reply, () => {
          const b = req.body;
          const issued = offline.issue(actorOf(req), {
            agentId: b.agent_id,
            challenge: b.challenge,
            minutes: b.minutes,
            ...(b.reason === undefined ? {} : { reason: b.reason }),
            ...(b.device === undefined
              ? {}
              : {
                  device: {
                    vendor_id: b.device.vendor_id.toLowerCase(),
                    product_id: b.device.product_id.toLowerCase(),
                    serial: b.device.serial,
                    hash: b.device.hash,
                  },
                }),
          });
          // SECURITY: the response code unlocks the seat; never cache it anywhere on the way.
          void reply.code(201).header('cache-control', 'no-store');
          return issued;
        }),
    );

    app.get<{ Querystring: Static<typeof OfflineListQuery> }>(
      '/offline-codes',
      { schema: { querystring: OfflineListQuery }, preHandler: requireAction('unlock.read') },
      async (req) => {
        const limit = req.query.limit ?? 50;
        const offset = req.query.offset ?? 0;
        const { rows, total } = offline.list({
          limit,
          offset,
          departments: actorOf(req).departments,
          ...(req.query.agent_id === undefined ? {} : { agentId: req.query.agent_id }),
        });
        const lookup = people();
        return { codes: rows.map((c) => offlineCodeView(c, undefined, lookup)), total, limit, offset };
      },
    );

    app.get<{ Params: Static<typeof IdParams> }>(
      '/offline-codes/:id',
      { schema: { params: IdParams }, preHandler: requireAction('unlock.read') },
      async (req, reply) => {
        const found = offline.get(req.params.id);
        if (!found || !inScope(actorOf(req).departments, found.department)) return sendError(reply, 404, 'API_ERR_NOT_FOUND', 'Not found: offline code');
        return offlineCodeView(found.code, found.uses, people());
      },
    );
  };
}
