import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../../shared/errors.js';
import { AUTH_HEADERS, parseAgentPublicKey, verifyChallenge } from '../../shared/protocol/agent-auth.js';
import type { Store } from '../store/store.js';
import type { ChallengeIssuer } from './agent-challenge.js';

const AGENT_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export type AgentAuthResult =
  | { ok: true; agentId: string }
  | { ok: false; status: 401 | 403; code: ErrorCode; reason: string; agentId?: string };

/**
 * Decides whether an upgrade request speaks for an enrolled agent. A hook on purpose: TLS client
 * certificates can be checked here later without touching the gateway.
 */
export interface AgentAuthenticator {
  authenticate(req: IncomingMessage): AgentAuthResult;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined;
}

/** Signed-challenge authentication: Ed25519 signature over the nonce with the enrolled key. */
export function createSignedChallengeAuthenticator(deps: { store: Store; challenges: ChallengeIssuer }): AgentAuthenticator {
  const { store, challenges } = deps;
  return {
    authenticate(req) {
      const agentId = header(req, AUTH_HEADERS.agentId);
      const nonce = header(req, AUTH_HEADERS.nonce);
      const signature = header(req, AUTH_HEADERS.signature);
      if (!agentId || !nonce || !signature) {
        return { ok: false, status: 401, code: 'AUTH_ERR_UNAUTHENTICATED', reason: 'missing auth headers' };
      }
      if (!AGENT_ID_RE.test(agentId)) {
        return { ok: false, status: 401, code: 'AUTH_ERR_UNKNOWN_AGENT', reason: 'malformed agent id' };
      }
      const agent = store.agents.get(agentId);
      if (!agent) return { ok: false, status: 401, code: 'AUTH_ERR_UNKNOWN_AGENT', reason: 'unknown agent', agentId };
      if (agent.revoked_at !== null) {
        return { ok: false, status: 403, code: 'AUTH_ERR_UNKNOWN_AGENT', reason: 'revoked agent', agentId };
      }
      const c = challenges.check(agentId, nonce);
      if (!c.ok) return { ok: false, status: 401, code: 'AUTH_ERR_CHALLENGE', reason: `nonce ${c.reason}`, agentId };
      const key = parseAgentPublicKey(agent.public_key);
      if (!key || !verifyChallenge(key, agentId, nonce, signature)) {
        return { ok: false, status: 401, code: 'AUTH_ERR_BAD_SIGNATURE', reason: 'bad signature', agentId };
      }
      // Burned only after a valid signature, so a forged attempt cannot spend the agent's nonce.
      challenges.burn(nonce);
      return { ok: true, agentId };
    },
  };
}
