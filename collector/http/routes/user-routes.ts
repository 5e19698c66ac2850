import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Clock } from '../../../shared/clock.js';
import { AppError, formatError } from '../../../shared/errors.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { hashSecret } from '../../auth/hash-secret.js';
import type { EnrollmentService } from '../../enrollment/enrollment-service.js';
import type { Store } from '../../store/store.js';
import { sendAppError } from '../../users/http-errors.js';
import type { UserService } from '../../users/user-service.js';
import { requireAction } from '../authorize.js';
import { sendError } from '../errors.js';

const Name = Type.String({ minLength: 1, maxLength: 64 });

const NewUserBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    roles: Type.Array(Type.String({ maxLength: 32 }), { minItems: 1, maxItems: 6 }),
    departments: Type.Union([Type.Literal('*'), Type.Array(Name, { minItems: 1, maxItems: 100 })]),
    display_name: Type.Optional(Type.String({ maxLength: 128 })),
  },
  { additionalProperties: false },
);
const ApiTokenBody = Type.Object({ user_id: Type.String({ minLength: 1, maxLength: 64 }), name: Name }, { additionalProperties: false });
const EnrollmentTokenBody = Type.Object(
  {
    ttl_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    department: Type.Optional(Name),
    seat_pattern: Type.Optional(Name),
  },
  { additionalProperties: false },
);
const UserParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_]+$' }) }, { additionalProperties: false });
type UserParams = Static<typeof UserParams>;

const checkNewUser = Compile(NewUserBody);
const checkApiToken = Compile(ApiTokenBody);
const checkEnrollmentToken = Compile(EnrollmentTokenBody);

function firstProblem(errors: ReadonlyArray<{ instancePath: string; message: string }>): string {
  const first = errors[0];
  return (first ? `${first.instancePath || '/'} ${first.message}` : 'invalid body').slice(0, 200);
}

/** Account administration (user.manage) and token issuing (user.manage / enroll.manage). */
export function userRoutes(deps: { users: UserService; enrollment: EnrollmentService; store: Store; audit: AuditLog; clock: Clock }) {
  const { users, store, audit } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/users', { preHandler: requireAction('user.manage') }, async () => ({ users: users.list() }));

    app.post('/users', { preHandler: requireAction('user.manage') }, async (req, reply) => {
      const body: unknown = req.body;
      if (!checkNewUser.Check(body)) return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', firstProblem(checkNewUser.Errors(body))));
      try {
        const user = await users.create(
          {
            username: body.username,
            password: body.password,
            roles: body.roles,
            departments: body.departments,
            ...(body.display_name === undefined ? {} : { displayName: body.display_name }),
          },
          req.principal!.userId,
        );
        return reply.code(201).send({ user });
      } catch (err) {
        return sendAppError(reply, err);
      }
    });

    app.post<{ Params: UserParams }>('/users/:id/disable', { schema: { params: UserParams }, preHandler: requireAction('user.manage') }, async (req, reply) => {
      try {
        // Disabling yourself would lock the last administrator out; another admin must do it.
        if (req.params.id === req.principal!.userId) throw new AppError('USER_ERR_INVALID', formatError('USER_ERR_INVALID', 'you cannot disable your own account'));
        return { user: users.disable(req.params.id, req.principal!.userId) };
      } catch (err) {
        return sendAppError(reply, err);
      }
    });

    app.post('/tokens/api', { preHandler: requireAction('user.manage') }, async (req, reply) => {
      const body: unknown = req.body;
      if (!checkApiToken.Check(body)) return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', firstProblem(checkApiToken.Errors(body))));
      try {
        const { id, token } = users.createApiToken(body.user_id, body.name, req.principal!.userId);
        reply.header('cache-control', 'no-store');
        return reply.code(201).send({ id, user_id: body.user_id, token });
      } catch (err) {
        return sendAppError(reply, err);
      }
    });

    app.post('/tokens/enrollment', { preHandler: requireAction('enroll.manage') }, async (req, reply) => {
      const body: unknown = req.body;
      if (!checkEnrollmentToken.Check(body)) {
        return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', firstProblem(checkEnrollmentToken.Errors(body))));
      }
      try {
        const options = {
          ...(body.ttl_ms === undefined ? {} : { ttlMs: body.ttl_ms }),
          ...(body.department === undefined ? {} : { department: body.department }),
          ...(body.seat_pattern === undefined ? {} : { seatPattern: body.seat_pattern }),
        };
        const token = store.transaction(() => {
          const t = deps.enrollment.createToken(options);
          audit.append({
            actor: req.principal!.userId,
            action: 'token.enrollment_create',
            targetType: 'enrollment_token',
            // The stored sha256 (prefix) ties the record to its enrollment_tokens row without the secret.
            targetId: hashSecret(t).slice(0, 16),
            detail: { ttl_ms: body.ttl_ms ?? null, department: body.department ?? null, seat_pattern: body.seat_pattern ?? null },
          });
          return t;
        });
        reply.header('cache-control', 'no-store');
        return reply.code(201).send({ token });
      } catch (err) {
        return sendAppError(reply, err);
      }
    });
  };
}
