import type { FastifyRequest } from 'fastify';
import type { Clock } from '../../shared/clock.js';
import { hashSecret } from '../auth/hash-secret.js';
import type { Store } from '../store/store.js';

/** Who is calling the API. User accounts and sessions add more kinds later. */
export type Principal = { kind: 'api-token'; tokenId: number };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * The single authentication hook of /api/v1/**. It returns the caller or null; authorization
 * (role × action) will sit on top of the principal it returns.
 */
export interface ApiAuthenticator {
  authenticate(req: FastifyRequest): Principal | null;
}

const BEARER_RE = /^Bearer ([A-Za-z0-9_.~+/=-]{16,256})$/;
const TOUCH_EVERY_MS = 60_000;

/** Bearer API tokens, looked up by sha256; `last_used_at` is written at most once a minute. */
export function createApiAuthenticator(deps: { store: Store; clock: Clock }): ApiAuthenticator {
  const lastTouch = new Map<number, number>();
  return {
    authenticate(req) {
      const h = req.headers.authorization;
      if (typeof h !== 'string') return null;
      const m = BEARER_RE.exec(h);
      if (!m?.[1]) return null;
      // Looked up by sha256: the comparison never touches the plaintext, so no timing leak of it.
      const row = deps.store.apiTokens.findActive(hashSecret(m[1]));
      if (!row) return null;
      const now = deps.clock.now();
      // last_used_at is informative; writing it on every request would cost an fsync each.
      if (now - (lastTouch.get(row.id) ?? -Infinity) >= TOUCH_EVERY_MS) {
        lastTouch.set(row.id, now);
        deps.store.apiTokens.touch(row.id, new Date(now).toISOString());
      }
      return { kind: 'api-token', tokenId: row.id };
    },
  };
}
