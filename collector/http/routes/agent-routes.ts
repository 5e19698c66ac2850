import type { FastifyInstance } from 'fastify';
import { Compile } from 'typebox/compile';
import { formatError } from '../../../shared/errors.js';
import { AGENT_CHALLENGE_PATH, ENROLL_PATH } from '../../../shared/protocol/agent-auth.js';
import type { ChallengeIssuer } from '../../auth/agent-challenge.js';
import type { EnrollmentService } from '../../enrollment/enrollment-service.js';
import { sendError } from '../errors.js';
import { ChallengeQuery, EnrollBody } from '../schemas.js';

const checkEnroll = Compile(EnrollBody);

/** Unauthenticated agent endpoints: enrollment (token-gated) and upgrade challenges. */
export function agentRoutes(deps: { enrollment: EnrollmentService; challenges: ChallengeIssuer }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post(ENROLL_PATH, { bodyLimit: 4096 }, async (req, reply) => {
      const body: unknown = req.body;
      if (!checkEnroll.Check(body)) {
        const first = checkEnroll.Errors(body)[0];
        const where = first ? `${first.instancePath || '/'} ${first.message}` : 'invalid body';
        return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', where.slice(0, 200)));
      }
      return deps.enrollment.enroll(body);
    });

    // Stateless: issuing a nonce stores nothing (see agent-challenge.ts), so it needs no auth.
    app.get<{ Querystring: ChallengeQuery }>(AGENT_CHALLENGE_PATH, { schema: { querystring: ChallengeQuery } }, async (req) =>
      deps.challenges.issue(req.query.agent_id),
    );
  };
}
