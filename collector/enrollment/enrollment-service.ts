import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { isSafeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { parseAgentPublicKey } from '../../shared/protocol/agent-auth.js';
import { hashSecret } from '../auth/hash-secret.js';
import type { Store } from '../store/store.js';
import { SEAT_NAME_RE, SEAT_PATTERN_RE, matchSeatPattern } from './seat-pattern.js';

export interface EnrollmentTokenOptions {
  /** Lifetime in ms. Default 24 h, at most 366 days. */
  ttlMs?: number;
  /** Department recorded on the seats enrolled with this token. */
  department?: string;
  /** Glob the seat name must match (`*`, `?`), case-insensitive. */
  seatPattern?: string;
}

/** Body of POST /agent/v1/enroll after schema validation. */
export interface EnrollRequest {
  token: string;
  public_key: string;
  hostname: string;
  platform: 'linux' | 'windows' | 'fake';
  seat_name?: string;
}

export interface EnrollmentService {
  /** Creates a single-use enrollment token and returns its plaintext (stored only as sha256). */
  createToken(o?: EnrollmentTokenOptions): string;
  /**
   * Consumes a token and registers the agent's public key; throws ENROLL_ERR_* / API_ERR_VALIDATION.
   * `offline_secret` (base64) is the seat's key for offline unlock codes, when the collector has one.
   */
  enroll(req: EnrollRequest): { agent_id: string; seat_name: string; offline_secret?: string };
}

export const DEFAULT_ENROLLMENT_TTL_MS = 24 * 3_600_000;
const MAX_TTL_MS = 366 * 24 * 3_600_000;

/** Validates token options; returns every problem (empty when fine). */
export function enrollmentOptionProblems(o: EnrollmentTokenOptions): string[] {
  const problems: string[] = [];
  if (o.ttlMs !== undefined && (!Number.isInteger(o.ttlMs) || o.ttlMs < 1 || o.ttlMs > MAX_TTL_MS)) {
    problems.push(`ttl must be an integer between 1 ms and ${MAX_TTL_MS} ms`);
  }
  if (o.department !== undefined && (o.department.trim() === '' || !isSafeText(o.department, 64))) {
    problems.push('department must be 1-64 printable characters');
  }
  if (o.seatPattern !== undefined && !SEAT_PATTERN_RE.test(o.seatPattern)) {
    problems.push('seat pattern must be 1-64 characters of A-Z a-z 0-9 . _ - * ?');
  }
  return problems;
}

/** Token issuing and agent enrollment over the store; times come from `clock`. */
export function createEnrollmentService(deps: {
  store: Store;
  clock: Clock;
  log: Logger;
  /** The seat's offline-code secret (derived from the collector's master key), sent once at enrollment. */
  offlineSecret?: (agentId: string) => Buffer;
}): EnrollmentService {
  const { store, clock } = deps;
  const log = deps.log.child({ component: 'enrollment' });
  const iso = (ms: number) => new Date(ms).toISOString();

  return {
    createToken(o = {}) {
      const problems = enrollmentOptionProblems(o);
      if (problems.length > 0) {
        throw new AppError('ENROLL_ERR_OPTIONS', formatError('ENROLL_ERR_OPTIONS', problems.join('; ')), { details: { problems } });
      }
      const token = `sgt_${randomBytes(32).toString('base64url')}`;
      const now = clock.now();
      store.enrollment.insert({
        token_hash: hashSecret(token),
        created_at: iso(now),
        expires_at: iso(now + (o.ttlMs ?? DEFAULT_ENROLLMENT_TTL_MS)),
        department: o.department ?? null,
        seat_pattern: o.seatPattern ?? null,
      });
      log.info({ department: o.department ?? null, seat_pattern: o.seatPattern ?? null }, 'enrollment token created');
      return token;
    },

    enroll(req) {
      if (parseAgentPublicKey(req.public_key) === null) {
        throw new AppError('API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'public_key is not a base64 SPKI Ed25519 key'));
      }
      const tokenHash = hashSecret(req.token);
      const row = store.enrollment.get(tokenHash);
      const nowIso = iso(clock.now());
      // One answer for unknown, used and expired tokens: the caller learns nothing about which.
      if (!row || row.used_at !== null || row.expires_at <= nowIso) {
        log.warn({ reason: !row ? 'unknown' : row.used_at !== null ? 'used' : 'expired' }, 'enrollment refused');
        throw new AppError('ENROLL_ERR_TOKEN');
      }
      const seatName = req.seat_name ?? req.hostname;
      if (!SEAT_NAME_RE.test(seatName) || (row.seat_pattern !== null && !matchSeatPattern(row.seat_pattern, seatName))) {
        log.warn({ reason: 'seat_name', seat_pattern: row.seat_pattern }, 'enrollment refused');
        // The seat name is echoed only when it is in the safe alphabet.
        const shown = SEAT_NAME_RE.test(seatName) ? seatName : '(invalid)';
        throw new AppError('ENROLL_ERR_SEAT_NAME', formatError('ENROLL_ERR_SEAT_NAME', shown));
      }
      const agentId = `agt_${randomBytes(12).toString('hex')}`;
      store.transaction(() => {
        store.agents.insert({
          agent_id: agentId,
          seat_name: seatName,
          hostname: req.hostname,
          platform: req.platform,
          department: row.department,
          public_key: req.public_key,
          enrolled_at: nowIso,
        });
        // Re-checked inside the write transaction: two concurrent enrollments cannot both win.
        if (!store.enrollment.consume(tokenHash, agentId, nowIso)) throw new AppError('ENROLL_ERR_TOKEN');
      });
      log.info({ agent_id: agentId, seat_name: seatName, department: row.department }, 'agent enrolled');
      // SECURITY: sent only in this answer to the key holder that just proved the token; never logged.
      const secret = deps.offlineSecret?.(agentId);
      return secret === undefined
        ? { agent_id: agentId, seat_name: seatName }
        : { agent_id: agentId, seat_name: seatName, offline_secret: secret.toString('base64') };
    },
  };
}
