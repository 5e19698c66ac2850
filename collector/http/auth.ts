import type { FastifyRequest } from 'fastify';
import type { Clock } from '../../shared/clock.js';
import type { Role } from '../auth/privileges.js';
import { hashSecret } from '../auth/hash-secret.js';
import type { Store } from '../store/store.js';
import type { UserRow } from '../store/users-repo.js';
import { SESSION_COOKIE, type SessionService } from '../users/session-service.js';
import { parseDepartments, parseRoles } from '../users/user-view.js';

/**
 * Who is calling the API. Every principal acts as a user with that user's roles and department
 * scope: a login session, or an API token owned by a user (the bootstrap token of the first start
 * belongs to the built-in `service` user, role officer).
 */
export type Principal =
  | {
      kind: 'user';
      userId: string;
      username: string;
      roles: Role[];
      departments: string[] | '*';
      /** sha256 of the session token. */
      sessionId?: string;
      /** Set only when the session came in the cookie: unsafe methods must echo it in x-csrf-token. */
      csrfToken?: string;
    }
  | { kind: 'api-token'; tokenId: number; userId: string; username: string; roles: Role[]; departments: string[] | '*' };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * The single authentication hook of /api/v1/**. It returns the caller or null; authorization
 * (role × action, CSRF) is `requireAction` in authorize.ts, on top of the principal it returns.
 */
export interface ApiAuthenticator {
  authenticate(req: FastifyRequest): Principal | null;
}

const BEARER_RE = /^Bearer ([A-Za-z0-9_.~+/=-]{16,256})$/;
const COOKIE_VALUE_RE = /^[A-Za-z0-9_-]{16,256}$/;
const TOUCH_EVERY_MS = 60_000;

/** The value of the session cookie in a Cookie header, or null (first one wins; malformed is none). */
export function sessionCookieValue(header: string | undefined): string | null {
  if (typeof header !== 'string' || header.length > 8192) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return COOKIE_VALUE_RE.test(value) ? value : null;
  }
  return null;
}

function scopeOf(user: UserRow) {
  return { userId: user.id, username: user.username, roles: parseRoles(user.roles), departments: parseDepartments(user.departments) };
}

/**
 * Bearer API tokens (sha256 lookup, owner must be enabled), bearer session tokens (the CLI form of
 * a login) and the `sg_session` cookie. A present but invalid Authorization header is a failure,
 * never a fall-back to the cookie.
 */
export function createApiAuthenticator(deps: { store: Store; clock: Clock; sessions: SessionService }): ApiAuthenticator {
  const { store, sessions } = deps;
  const lastTouch = new Map<number, number>();
  return {
    authenticate(req) {
      const h = req.headers.authorization;
      if (h !== undefined) {
        const m = typeof h === 'string' ? BEARER_RE.exec(h) : null;
        if (!m?.[1]) return null;
        // Looked up by sha256: the comparison never touches the plaintext, so no timing leak of it.
        const token = store.users.findApiToken(hashSecret(m[1]));
        if (token) {
          const owner = store.users.get(token.user_id);
          if (!owner || owner.disabled === 1) return null;
          const now = deps.clock.now();
          // last_used_at is informative; writing it on every request would cost an fsync each.
          if (now - (lastTouch.get(token.token_id) ?? -Infinity) >= TOUCH_EVERY_MS) {
            lastTouch.set(token.token_id, now);
            store.apiTokens.touch(token.token_id, new Date(now).toISOString());
          }
          return { kind: 'api-token', tokenId: token.token_id, ...scopeOf(owner) };
        }
        const s = sessions.resolve(m[1]);
        // A bearer session carries no ambient authority, so it needs no CSRF token.
        return s ? { kind: 'user', ...scopeOf(s.user), sessionId: s.idHash } : null;
      }
      const cookie = sessionCookieValue(req.headers.cookie);
      if (cookie === null) return null;
      const s = sessions.resolve(cookie);
      return s ? { kind: 'user', ...scopeOf(s.user), sessionId: s.idHash, csrfToken: sessions.csrfFor(cookie) } : null;
    },
  };
}
