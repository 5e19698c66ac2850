import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Store } from '../store/store.js';
import type { LoginLimiter } from './login-limiter.js';
import { DEFAULT_SCRYPT, hashPassword, MAX_PASSWORD_BYTES, verifyPassword, type ScryptParams } from './password.js';
import type { NewSession, SessionService } from './session-service.js';
import { USERNAME_RE } from './user-service.js';
import { userView, type UserView } from './user-view.js';

export interface LoginService {
  /**
   * Checks the password and opens a session. Every failure (unknown user, wrong password, disabled
   * account, account without password) throws the same AUTH_ERR_LOGIN_FAILED after the same scrypt
   * work; AUTH_ERR_LOCKED when throttled, AUTH_ERR_BUSY when too many hashes are queued.
   */
  login(req: { username: string; password: string; ip: string }): Promise<{ user: UserView; session: NewSession }>;
  /** Ends the session `sessionId` (sha256 of its token); audited as `auth.logout` when it was live. */
  logout(sessionId: string, userId: string): boolean;
}

// scrypt is CPU- and memory-heavy: at most this many run at once, a few more may wait, the rest
// are refused, so a login flood cannot take the collector's memory or event loop.
const MAX_RUNNING = 2;
const MAX_WAITING = 16;

export function createLoginService(deps: {
  store: Store;
  audit: AuditLog;
  sessions: SessionService;
  limiter: LoginLimiter;
  clock: Clock;
  log: Logger;
  scrypt?: ScryptParams;
}): LoginService {
  const { store, audit, sessions, limiter } = deps;
  const log = deps.log.child({ component: 'login' });
  // Verified against when the user does not exist, so unknown names cost the same time.
  let dummy: Promise<string> | undefined;
  const dummyHash = () =>
    (dummy ??= hashPassword(randomBytes(16).toString('hex'), deps.scrypt ?? DEFAULT_SCRYPT).catch((err: unknown) => {
      dummy = undefined;
      throw err;
    }));

  let running = 0;
  const waiting: Array<() => void> = [];
  async function withSlot<T>(fn: () => Promise<T>): Promise<T> {
    if (running >= MAX_RUNNING) {
      if (waiting.length >= MAX_WAITING) throw new AppError('AUTH_ERR_BUSY');
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      running++;
    }
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  }

  return {
    async login({ username, password, ip }) {
      // Shown in audit records and logs: the attempted name is hostile input.
      const shownName = sanitizeText(username, 64);
      const limit = limiter.check(username, ip);
      if (limit.locked) {
        log.warn({ ip, by: limit.key }, 'login refused: locked');
        throw new AppError('AUTH_ERR_LOCKED', formatError('AUTH_ERR_LOCKED', Math.ceil(limit.retryAfterMs / 1000)), {
          details: { retryAfterMs: limit.retryAfterMs },
        });
      }
      const user = USERNAME_RE.test(username) ? store.users.getByUsername(username) : undefined;
      const passwordOk = await withSlot(async () => {
        // Awaited on every path (computed once, by the first login of any kind), so an unknown
        // name never costs an extra hash that a known one does not.
        const dummyStored = await dummyHash();
        const stored = user?.password_hash ?? dummyStored;
        const tooLong = Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES;
        const ok = await verifyPassword(tooLong ? '' : password, stored);
        return ok && !tooLong && user?.password_hash != null;
      });

      if (!user || !passwordOk || user.disabled === 1) {
        const reason = !user ? 'unknown_user' : user.password_hash === null ? 'no_password' : !passwordOk ? 'bad_password' : 'disabled';
        const locked = limiter.recordFailure(username, ip);
        store.transaction(() => {
          audit.append({
            actor: user?.id ?? 'anonymous',
            action: 'auth.login_failed',
            targetType: 'user',
            targetId: user?.id ?? shownName,
            detail: { username: shownName, ip, reason },
          });
          if (locked.userLocked || locked.ipLocked) {
            audit.append({
              actor: 'system',
              action: 'auth.lockout',
              targetType: locked.userLocked ? 'user' : 'address',
              targetId: locked.userLocked ? (user?.id ?? shownName) : ip,
              detail: { username: shownName, ip, user_locked: locked.userLocked, ip_locked: locked.ipLocked },
            });
          }
        });
        log.warn({ ip, reason }, 'login failed');
        throw new AppError('AUTH_ERR_LOGIN_FAILED');
      }

      limiter.recordSuccess(username);
      const session = store.transaction(() => {
        const s = sessions.create(user.id, ip);
        audit.append({ actor: user.id, action: 'auth.login', targetType: 'user', targetId: user.id, detail: { ip, expires_at: s.expiresAt } });
        return s;
      });
      log.info({ user_id: user.id, ip }, 'login');
      return { user: userView(user), session };
    },

    logout(sessionId, userId) {
      return store.transaction(() => {
        const ended = sessions.revoke(sessionId);
        if (ended) audit.append({ actor: userId, action: 'auth.logout', targetType: 'user', targetId: userId });
        return ended;
      });
    },
  };
}
