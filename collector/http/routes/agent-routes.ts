import type { FastifyInstance } from 'fastify';
import { Compile } from 'typebox/compile';
import { AGENT_CA_PATH } from '../../../shared/ca-fingerprint.js';
import { formatError } from '../../../shared/errors.js';
import { AGENT_CHALLENGE_PATH, ENROLL_PATH } from '../../../shared/protocol/agent-auth.js';
import type { ChallengeIssuer } from '../../auth/agent-challenge.js';
import type { EnrollmentService } from '../../enrollment/enrollment-service.js';
import { sendError } from '../errors.js';
import { ChallengeQuery, EnrollBody } from '../schemas.js';

const checkEnroll = Compile(EnrollBody);

/**
 * Unauthenticated agent endpoints: enrollment (token-gated), upgrade challenges and the CA
 * certificate. The CA is public; an agent trusts it only after checking its fingerprint against the
 * pin the operator gave it, so serving it unauthenticated gives nothing away.
 */
export function agentRoutes(deps: { enrollment: EnrollmentService; challenges: ChallengeIssuer; caPem?: () => string | null }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(AGENT_CA_PATH, async (_req, reply) => {
      const pem = deps.caPem?.() ?? null;
      if (pem === null) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'no CA: the collector runs with --insecure-dev'));
      return reply.type('application/x-pem-file').header('cache-control', 'no-store').send(pem);
    });

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
