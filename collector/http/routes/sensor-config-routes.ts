import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError, ERRORS, formatError, isAppError, type ErrorCode } from '../../../shared/errors.js';
import { inScope } from '../../auth/privileges.js';
import { parseSensorScope, type SensorScope } from '../../sensors/scope.js';
import { MAX_SENSOR_CONFIG_FRAME_BYTES, type SensorConfigService } from '../../sensors/sensor-config-service.js';
import { actorOf, requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

const ScopeParam = Type.String({ minLength: 1, maxLength: 80 });

const ListQuery = Type.Object(
  {
    scope: Type.Optional(ScopeParam),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
type ListQuery = Static<typeof ListQuery>;

const EffectiveParams = Type.Object({ agent_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }) }, { additionalProperties: false });
type EffectiveParams = Static<typeof EffectiveParams>;

// The configuration itself is checked by checkSensorConfigInput (every error listed); this only
// shapes the envelope of the request.
const SaveBody = Type.Object(
  {
    scope: ScopeParam,
    config: Type.Union([Type.Null(), Type.Object({})]),
    comment: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
const checkSaveBody = Compile(SaveBody);

const STATUS: Partial<Record<ErrorCode, number>> = {
  SENSOR_ERR_CONFIG: 400,
  SENSOR_ERR_SCOPE: 400,
  API_ERR_NOT_FOUND: 404,
};

function errorsOf(err: AppError): string[] {
  const e = err.details?.errors;
  return Array.isArray(e) ? e.filter((x): x is string => typeof x === 'string') : [err.message];
}

function badScope(reply: FastifyReply, raw: string): FastifyReply {
  return sendError(reply, 400, 'SENSOR_ERR_SCOPE', formatError('SENSOR_ERR_SCOPE', `${JSON.stringify(raw.slice(0, 80))} is not default, department:<name> or agent:<agent_id>`));
}

/** A caller with a department list may only see and change its own departments' seats; the default is '*' only. */
function mayTouch(req: FastifyRequest, scope: SensorScope, service: SensorConfigService, write: boolean): boolean | 'no-seat' {
  const departments = req.principal?.departments ?? [];
  switch (scope.kind) {
    case 'default':
      // The default reaches every seat: reading it is harmless, changing it needs every department.
      return write ? departments === '*' : true;
    case 'department':
      return inScope(departments, scope.department);
    case 'agent': {
      const dept = service.seatDepartment(scope.agentId);
      if (dept === undefined) return 'no-seat';
      return inScope(departments, dept);
    }
  }
}

/**
 * /api/v1/sensor-config: per-seat compliance sensor configuration. Read with policy.read, change
 * with policy.manage; every change is audited and pushed to the connected seats of its scope.
 */
export function sensorConfigRoutes(deps: { service: SensorConfigService }) {
  const { service } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: ListQuery }>(
      '/sensor-config',
      { schema: { querystring: ListQuery }, preHandler: requireAction('policy.read') },
      async (req, reply) => {
        if (req.query.scope === undefined) {
          const configs = service.list().filter((v) => {
            const scope = parseSensorScope(v.scope);
            return scope !== null && mayTouch(req, scope, service, false) === true;
          });
          return { configs };
        }
        const scope = parseSensorScope(req.query.scope);
        if (!scope) return badScope(reply, req.query.scope);
        const allowed = mayTouch(req, scope, service, false);
        if (allowed === 'no-seat') return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
        if (!allowed) return sendError(reply, 403, 'AUTH_ERR_FORBIDDEN', formatError('AUTH_ERR_FORBIDDEN', 'scope outside your departments'));
        const limit = req.query.limit ?? 50;
        const offset = req.query.offset ?? 0;
        const { rows, total } = service.history(scope, { limit, offset });
        return { scope: req.query.scope, current: service.current(scope), history: rows, total, limit, offset };
      },
    );

    app.get<{ Params: EffectiveParams }>(
      '/sensor-config/effective/:agent_id',
      { schema: { params: EffectiveParams }, preHandler: requireAction('policy.read') },
      async (req, reply) => {
        const allowed = mayTouch(req, { kind: 'agent', agentId: req.params.agent_id }, service, false);
        if (allowed === 'no-seat') return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
        if (!allowed) return sendError(reply, 403, 'AUTH_ERR_FORBIDDEN', formatError('AUTH_ERR_FORBIDDEN', 'seat outside your departments'));
        const eff = service.effective(req.params.agent_id);
        return { agent_id: req.params.agent_id, source: eff.source, config: eff.body };
      },
    );

    app.post(
      '/sensor-config',
      // A full policy is larger than the API's default body limit; the agent's frame limit is the bound.
      { bodyLimit: MAX_SENSOR_CONFIG_FRAME_BYTES + 4096, preHandler: requireAction('policy.manage') },
      async (req, reply) => {
        const body: unknown = req.body;
        if (!checkSaveBody.Check(body)) {
          const errors = checkSaveBody.Errors(body).slice(0, 20).map((e) => `${e.instancePath || '/'} ${e.message}`);
          return reply.code(400).send({ error: { code: 'API_ERR_VALIDATION', message: formatError('API_ERR_VALIDATION', errors[0] ?? 'invalid body'), errors } });
        }
        const scope = parseSensorScope(body.scope);
        if (!scope) return badScope(reply, body.scope);
        const allowed = mayTouch(req, scope, service, true);
        if (allowed === 'no-seat') return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'seat'));
        if (!allowed) return sendError(reply, 403, 'AUTH_ERR_FORBIDDEN', formatError('AUTH_ERR_FORBIDDEN', 'scope outside your departments'));
        try {
          const r = service.save({ scope, config: body.config, actor: actorOf(req).id, comment: body.comment ?? '' });
          return reply.code(201).send({ ...r.view, pushed: r.pushed });
        } catch (err) {
          if (!isAppError(err) || STATUS[err.code] === undefined) throw err;
          const status = STATUS[err.code] ?? 400;
          // Every problem at once, so the console can show them all next to the editor.
          const extra = err.code === 'SENSOR_ERR_CONFIG' ? { errors: errorsOf(err) } : {};
          return reply.code(status).send({ error: { code: err.code, message: err.message || ERRORS[err.code], ...extra } });
        }
      },
    );
  };
}
