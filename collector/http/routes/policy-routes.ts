import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { PolicyService } from '../../workflow/policy-service.js';
import { policyView } from '../../workflow/unlock-views.js';
import { actorOf, requireAction } from '../authorize.js';
import { sendError } from '../errors.js';
import { answer } from './unlock-routes.js';

export const PolicyListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })) },
  { additionalProperties: false },
);
export const PolicyVersionParams = Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) }, { additionalProperties: false });
export const PublishPolicyBody = Type.Object(
  {
    // The service checks the byte size against the protocol frame; this only bounds the parse.
    rules: Type.String({ minLength: 1, maxLength: 64 * 1024 }),
    comment: Type.String({ minLength: 1, maxLength: 512 }),
  },
  { additionalProperties: false },
);

/** /api/v1/policies: the USB policy version history, the current version, and publishing a new one. */
export function policyRoutes(deps: { policy: PolicyService }) {
  const { policy } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: Static<typeof PolicyListQuery> }>(
      '/policies',
      { schema: { querystring: PolicyListQuery }, preHandler: requireAction('policy.read') },
      async (req) => {
        const limit = req.query.limit ?? 20;
        const offset = req.query.offset ?? 0;
        const { rows, total } = policy.list({ limit, offset });
        return { policies: rows.map((p) => policyView(p)), total, limit, offset };
      },
    );

    app.get('/policies/current', { preHandler: requireAction('policy.read') }, async (_req, reply) =>
      answer(reply, () => {
        const p = policy.current();
        return policyView(p, policy.rollout(p));
      }),
    );

    app.get<{ Params: Static<typeof PolicyVersionParams> }>(
      '/policies/:version',
      { schema: { params: PolicyVersionParams }, preHandler: requireAction('policy.read') },
      async (req, reply) => {
        const p = policy.get(req.params.version);
        if (!p) return sendError(reply, 404, 'POLICY_ERR_NOT_FOUND', `Policy version ${req.params.version} not found`);
        return policyView(p, policy.rollout(p));
      },
    );

    app.post<{ Body: Static<typeof PublishPolicyBody> }>(
      '/policies',
      // JSON escaping can double the size of a ruleset; the rules themselves are capped by the service.
      { schema: { body: PublishPolicyBody }, bodyLimit: 160 * 1024, preHandler: requireAction('policy.manage') },
      async (req, reply) =>
        answer(reply, () => {
          const p = policy.publish(actorOf(req).id, req.body.rules, req.body.comment);
          void reply.code(201);
          return policyView(p, policy.rollout(p));
        }),
    );
  };
}
