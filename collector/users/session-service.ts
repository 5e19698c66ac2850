import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { hashSecret } from '../auth/hash-secret.js';
import type { UserRow } from '../store/users-repo.js';
import type { Store } from '../store/store.js';

/** Name of the browser session cookie. */
export const SESSION_COOKIE = 'sg_session';
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
export const DEFAULT_SESSION_ABSOLUTE_MS = 12 * 3_600_000;
// last_seen_at is written at most this often: idle expiry is accurate to about a minute, and a
// busy console does not cost an fsync per request.
const TOUCH_EVERY_MS = 60_000;

export interface NewSession {
  /** The bearer secret (cookie value). Shown once; only its sha256 is stored. */
  token: string;
  csrfToken: string;
  expiresAt: string;
}

export interface SessionService {
  /** Creates a session for an enabled user; call inside the transaction that audits the login. */
  create(userId: string, ip: string | null): NewSession;
  /** The live session of `token` and its enabled user, or null (unknown, revoked, idle, expired, disabled). */
  resolve(token: string): { idHash: string; user: UserRow } | null;
  /** Ends the session whose token hashes to `idHash` (Principal.sessionId); false when it was not live. */
  revoke(idHash: string): boolean;
  /** The CSRF token bound to a session token (derived, so nothing extra is stored). */
  csrfFor(token: string): string;
}

/** Server-side sessions with an idle timeout and an absolute lifetime (wall clock from `clock`). */
export function createSessionService(deps: { store: Store; clock: Clock; idleMs?: number; absoluteMs?: number }): SessionService {
  const { store, clock } = deps;
  const idleMs = deps.idleMs ?? DEFAULT_SESSION_IDLE_MS;
  const absoluteMs = deps.absoluteMs ?? DEFAULT_SESSION_ABSOLUTE_MS;
  const iso = (ms: number) => new Date(ms).toISOString();
  let lastPurge = -Infinity;
  // Domain-separated hash of the 256-bit session secret: only a holder of the cookie value can
  // compute it, and a page on another origin cannot read the cookie.
  const csrfFor = (token: string) => createHash('sha256').update(`seatguard-csrf-v1:${token}`, 'utf8').digest('base64url');

  return {
    create(userId, ip) {
      const token = `sgs_${randomBytes(32).toString('base64url')}`;
      const now = clock.now();
      if (now - lastPurge > 3_600_000) {
        lastPurge = now;
        store.users.purgeSessions(iso(now - absoluteMs));
      }
      const expiresAt = iso(now + absoluteMs);
      store.users.insertSession({ id_hash: hashSecret(token), user_id: userId, created_at: iso(now), last_seen_at: iso(now), expires_at: expiresAt, ip });
      return { token, csrfToken: csrfFor(token), expiresAt };
    },

    resolve(token) {
      const idHash = hashSecret(token);
      const s = store.users.getSession(idHash);
      if (!s || s.revoked_at !== null) return null;
      const now = clock.now();
      const lastSeen = Date.parse(s.last_seen_at);
      // A clock rolled back past creation is not trusted to extend a session either.
      if (now >= Date.parse(s.expires_at) || now - lastSeen >= idleMs || now < Date.parse(s.created_at) - 60_000) return null;
      const user = store.users.get(s.user_id);
      if (!user || user.disabled === 1) return null;
      if (now - lastSeen >= TOUCH_EVERY_MS) store.users.touchSession(idHash, iso(now));
      return { idHash, user };
    },

    revoke(idHash) {
      return store.users.revokeSession(idHash, iso(clock.now()));
    },

    csrfFor,
  };
}
