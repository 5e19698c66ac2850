import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { isSafeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { parseAgentPublicKey, verifyEnrollProof } from '../../shared/protocol/agent-auth.js';
import type { AuditLog } from '../audit/audit-log.js';
import { hashSecret } from '../auth/hash-secret.js';
import type { EnrollmentTokenRow } from '../store/enrollment-repo.js';
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
  /** base64 Ed25519 signature over token + public_key (shared/protocol/agent-auth.ts); older agents send none. */
  proof?: string;
}

/** Why a second use of a token was refused (the `reason` of an `agent.enroll_refused` record). */
export type ReuseRefusal = 'other_key' | 'no_proof' | 'expired' | 'revoked' | 'no_agent';

export interface EnrollmentService {
  /** Creates a single-use enrollment token and returns its plaintext (stored only as sha256). */
  createToken(o?: EnrollmentTokenOptions): string;
  /**
   * Consumes a token and registers the agent's public key, with its `agent.enroll` audit record in
   * the same transaction; throws ENROLL_ERR_* / API_ERR_VALIDATION. A retry of a used token by the
   * key it registered (proved by `proof`, within the token's lifetime) gets the same answer again;
   * any other use of a used token is refused and audited (`agent.enroll_refused`).
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
  /**
   * Where enrollments and refused token reuse are recorded. Required to serve enroll() (which
   * refuses without it); tools that only create tokens (the CLI) may leave it out.
   */
  audit?: Pick<AuditLog, 'append'>;
  /** The seat's offline-code secret (derived from the collector's master key), sent once at enrollment. */
  offlineSecret?: (agentId: string) => Buffer;
}): EnrollmentService {
  const { store, clock } = deps;
  const audit: Pick<AuditLog, 'append'> = deps.audit ?? {
    append: () => {
      // SECURITY: no seat joins without a trace; an unaudited enrollment is an error.
      throw new AppError('API_ERR_INTERNAL', formatError('API_ERR_INTERNAL'));
    },
  };
  const log = deps.log.child({ component: 'enrollment' });
  const iso = (ms: number) => new Date(ms).toISOString();
  // The audit trail names a token by the first 16 hex of its stored sha256, never the token.
  const tokenRef = (tokenHash: string) => tokenHash.slice(0, 16);

  function answer(agentId: string, seatName: string): { agent_id: string; seat_name: string; offline_secret?: string } {
    // SECURITY: sent only in an answer to the holder of the registered key; never logged.
    const secret = deps.offlineSecret?.(agentId);
    return secret === undefined ? { agent_id: agentId, seat_name: seatName } : { agent_id: agentId, seat_name: seatName, offline_secret: secret.toString('base64') };
  }

  /**
   * A used token again. The only honest reason is a retry whose first answer was lost (collector
   * crash or dropped connection after the commit): that caller holds the key the token registered
   * and signs for it. Everyone else is refused with the same answer as an unknown token, and the
   * attempt is audited, because a used token in other hands means it leaked.
   */
  function reuse(req: EnrollRequest, row: EnrollmentTokenRow, tokenHash: string, proved: boolean, nowIso: string) {
    const agent = row.used_by === null ? undefined : store.agents.get(row.used_by);
    const reason: ReuseRefusal | null = !agent
      ? 'no_agent'
      : agent.public_key !== req.public_key
        ? 'other_key'
        : !proved
          ? 'no_proof'
          : row.expires_at <= nowIso
            ? 'expired'
            : agent.revoked_at !== null
              ? 'revoked'
              : null;
    const detail = {
      token: tokenRef(tokenHash),
      hostname: req.hostname,
      seat_name: req.seat_name ?? null,
      platform: req.platform,
      // A fingerprint of the presented key: enough to tell keys apart in the trail.
      key_sha256: createHash('sha256').update(req.public_key).digest('hex').slice(0, 16),
    };
    if (reason !== null || !agent) {
      store.transaction(() =>
        audit.append({ actor: 'anonymous', action: 'agent.enroll_refused', targetType: 'enrollment_token', targetId: tokenRef(tokenHash), detail: { ...detail, reason, used_by: row.used_by } }),
      );
      log.warn({ reason: 'used', reuse: reason, used_by: row.used_by }, 'enrollment refused');
      throw new AppError('ENROLL_ERR_TOKEN');
    }
    store.transaction(() => audit.append({ actor: `agent:${agent.agent_id}`, action: 'agent.enroll_retry', targetType: 'agent', targetId: agent.agent_id, detail }));
    log.info({ agent_id: agent.agent_id, seat_name: agent.seat_name }, 'agent enrollment retried; same identity answered again');
    return answer(agent.agent_id, agent.seat_name);
  }

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
      const key = parseAgentPublicKey(req.public_key);
      if (key === null) {
        throw new AppError('API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'public_key is not a base64 SPKI Ed25519 key'));
      }
      // A proof that does not verify is refused outright (before the token is looked at): it is
      // either a broken agent or someone guessing, and neither may consume or replay a token.
      if (req.proof !== undefined && !verifyEnrollProof(key, req.token, req.public_key, req.proof)) {
        throw new AppError('API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'proof is not a signature of the token by public_key'));
      }
      const tokenHash = hashSecret(req.token);
      const row = store.enrollment.get(tokenHash);
      const nowIso = iso(clock.now());
      if (row && row.used_at !== null) return reuse(req, row, tokenHash, req.proof !== undefined, nowIso);
      // One answer for unknown, used and expired tokens: the caller learns nothing about which.
      if (!row || row.expires_at <= nowIso) {
        log.warn({ reason: !row ? 'unknown' : 'expired' }, 'enrollment refused');
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
      // The agent row, the used token and the audit record commit together: a crash before the
      // answer leaves a used token whose key holder can retry (see reuse()).
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
        audit.append({
          actor: `agent:${agentId}`,
          action: 'agent.enroll',
          targetType: 'agent',
          targetId: agentId,
          detail: { seat_name: seatName, hostname: req.hostname, platform: req.platform, token: tokenRef(tokenHash), proof: req.proof !== undefined },
        });
      });
      log.info({ agent_id: agentId, seat_name: seatName, department: row.department }, 'agent enrolled');
      return answer(agentId, seatName);
    },
  };
}
