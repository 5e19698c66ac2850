import type { FastifyInstance } from 'fastify';
import { Compile } from 'typebox/compile';
import { AGENT_CA_PATH } from '../../../shared/ca-fingerprint.js';
import { formatError, isAppError } from '../../../shared/errors.js';
import { AGENT_CHALLENGE_PATH, ENROLL_PATH } from '../../../shared/protocol/agent-auth.js';
import type { ChallengeIssuer } from '../../auth/agent-challenge.js';
import { hashSecret } from '../../auth/hash-secret.js';
import type { EnrollmentService } from '../../enrollment/enrollment-service.js';
import type { LoginLimiter } from '../../users/login-limiter.js';
import { sendError } from '../errors.js';
import { ChallengeQuery, EnrollBody } from '../schemas.js';

const checkEnroll = Compile(EnrollBody);

/**
 * Unauthenticated agent endpoints: enrollment (token-gated), upgrade challenges and the CA
 * certificate. The CA is public; an agent trusts it only after checking its fingerprint against the
 * pin the operator gave it, so serving it unauthenticated gives nothing away.
 */
export function agentRoutes(deps: { enrollment: EnrollmentService; challenges: ChallengeIssuer; caPem?: () => string | null; limiter?: LoginLimiter }) {
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
      // Throttled per token and per address like logins: each refusal of a used token is audited,
      // so unthrottled retries would let its holder grow the audit trail without bound.
      const tokenKey = `token:${hashSecret(body.token).slice(0, 16)}`;
      const limit = deps.limiter?.check(tokenKey, req.ip);
      if (limit?.locked) {
        const secs = Math.ceil(limit.retryAfterMs / 1000);
        reply.header('retry-after', String(secs));
        return sendError(reply, 429, 'ENROLL_ERR_LOCKED', formatError('ENROLL_ERR_LOCKED', secs));
      }
      try {
        const answer = deps.enrollment.enroll(body);
        deps.limiter?.recordSuccess(tokenKey);
        return answer;
      } catch (err) {
        if (isAppError(err) && (err.code === 'ENROLL_ERR_TOKEN' || err.code === 'API_ERR_VALIDATION')) {
          const locked = deps.limiter?.recordFailure(tokenKey, req.ip);
          if (locked && (locked.userLocked || locked.ipLocked)) req.log.warn({ ip: req.ip, by: locked.userLocked ? 'token' : 'ip' }, 'enrollment locked after repeated failures');
        }
        throw err;
      }
    });

    // Stateless: issuing a nonce stores nothing (see agent-challenge.ts), so it needs no auth.
    app.get<{ Querystring: ChallengeQuery }>(AGENT_CHALLENGE_PATH, { schema: { querystring: ChallengeQuery } }, async (req) =>
      deps.challenges.issue(req.query.agent_id),
    );
  };
}
