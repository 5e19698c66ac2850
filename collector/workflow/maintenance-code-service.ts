import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { makeMaintenanceCode, MAINTENANCE_MAX_TTL_MS, type MaintenancePurpose } from '../../shared/domain/maintenance-code.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentEvent } from '../../shared/protocol/messages.js';
import type { AuditLog } from '../audit/audit-log.js';
import { can, inScope } from '../auth/privileges.js';
import type { Store } from '../store/store.js';
import { createEventEffects, type AfterCommit, type EventEffects } from './event-effects.js';
import type { Actor } from './unlock-machine.js';
import { agentActor } from './unlock-service.js';

/**
 * Maintenance codes (docs/self-protection.md §2): a maintainer asks for a short-lived, single-use
 * code that lets ONE seat's agent be stopped, uninstalled or upgraded. The code is made with the
 * seat's offline secret, so the agent checks it without the collector. The code itself goes to the
 * maintainer only; the audit trail keeps its id, purpose, expiry and reason, and the seat's later
 * report of its use is matched against that record.
 */

export const MAINTENANCE_DEFAULT_TTL_MS = 30 * 60_000;
export const MAINTENANCE_MIN_TTL_MS = 60_000;

export interface IssuedMaintenanceCode {
  code_id: string;
  agent_id: string;
  purpose: MaintenancePurpose;
  /** What the maintainer types at the seat. Not stored anywhere. */
  code: string;
  expires_at: string;
  issued_by: string;
  issued_at: string;
}

export interface MaintenanceCodeService {
  issue(actor: Actor, input: { agentId: string; purpose: MaintenancePurpose; ttlMs?: number; reason: string }): IssuedMaintenanceCode;
  /**
   * Why a seat's report of using a maintenance code cannot be matched ('unknown_code', 'other_seat',
   * 'other_purpose', 'reused'), or null when it matches what was issued (or the event reports no code use).
   */
  flagOf(agentId: string, msg: AgentEvent): string | null;
  /**
   * Audits each reported use against the issue record and flags uses it cannot match, inside the
   * ingest transaction that stores the report (`uses.inTransaction`, an ingest transaction hook), so
   * a crash cannot lose the record; `uses.recover()` at start applies any report a failed step left.
   */
  readonly uses: EventEffects;
}

/** The seat events that can report a maintenance code use. */
export const MAINTENANCE_USE_TYPES = ['agent.stopping', 'agent.uninstalled'] as const;

export interface MaintenanceCodeServiceDeps {
  store: Store;
  audit: Pick<AuditLog, 'append' | 'list'>;
  clock: Clock;
  log: Logger;
  /** The seat's offline secret (derived from the collector's master key). */
  seatSecret: (agentId: string) => Buffer;
}

/** `seq` is the report's own seq when the caller knows it (the alert engine's question may not carry it). */
type UseReport = { agentId: string; codeId: string; purpose: MaintenancePurpose; type: AgentEvent['type']; seq: number | null };

function reportOf(agentId: string, msg: AgentEvent): UseReport | null {
  const seq = typeof msg.seq === 'number' ? msg.seq : null;
  if (msg.type === 'agent.uninstalled') return { agentId, codeId: msg.body.code_id, purpose: 'uninstall', type: msg.type, seq };
  if (msg.type === 'agent.stopping' && msg.body.authorized === true && msg.body.code_id !== undefined) {
    return { agentId, codeId: msg.body.code_id, purpose: msg.body.purpose ?? 'stop', type: msg.type, seq };
  }
  return null;
}

export function createMaintenanceCodeService(deps: MaintenanceCodeServiceDeps): MaintenanceCodeService {
  const { store, audit, clock } = deps;
  const log = deps.log.child({ component: 'maintenance-codes' });

  function check(r: UseReport): string | null {
    const issued = audit.list({ action: 'maintenance_code.issue', caseId: r.codeId }, { limit: 2 }).records[0];
    if (!issued) return 'unknown_code';
    const d = issued.detail as { agent_id?: unknown; purpose?: unknown };
    if (d.agent_id !== r.agentId) return 'other_seat';
    if (d.purpose !== r.purpose) return 'other_purpose';
    // agent.uninstalled and the agent.stopping that follows it name the same code: that is one use.
    const uses = audit.list({ action: 'maintenance_code.use', caseId: r.codeId }, { limit: 10 }).records;
    // The record of this very report (same seq) is not a second use: the question can come after
    // the record when the alert engine catches up with a batch it could not evaluate in time.
    if (uses.some((u) => u.detail.event === r.type && (r.seq === null || u.detail.seq !== r.seq))) return 'reused';
    return null;
  }

  /** One reported use, inside the caller's transaction (the effects consumer's savepoint). */
  function recordUse(agentId: string, msg: AgentEvent): AfterCommit | undefined {
    const r = reportOf(agentId, msg);
    if (!r) return undefined;
    const flag = check(r);
    audit.append({
      actor: agentActor(r.agentId),
      action: flag === null ? 'maintenance_code.use' : 'maintenance_code.flagged',
      targetType: 'seat',
      targetId: r.agentId,
      caseId: r.codeId,
      detail: { code_id: r.codeId, purpose: r.purpose, event: r.type, seq: r.seq, flag },
    });
    // Logged once the record is committed, not for a step that is rolled back.
    return flag === null ? undefined : () => log.warn({ agent_id: r.agentId, code_id: r.codeId, flag }, 'seat reports a maintenance code the collector cannot match');
  }

  const uses = createEventEffects({ name: 'maintenance_codes', types: MAINTENANCE_USE_TYPES, store, log, apply: recordUse });

  return {
    flagOf(agentId, msg) {
      const r = reportOf(agentId, msg);
      return r ? check(r) : null;
    },
    issue(actor, input) {
      if (!can(actor.roles, 'agent.maintenance_code')) throw new AppError('AUTH_ERR_FORBIDDEN', formatError('AUTH_ERR_FORBIDDEN', 'maintenance codes'));
      const seat = store.agents.get(input.agentId);
      if (!seat || seat.revoked_at !== null) throw new AppError('MAINT_ERR_SEAT', formatError('MAINT_ERR_SEAT', input.agentId));
      if (!inScope(actor.departments, seat.department)) throw new AppError('MAINT_ERR_SEAT', formatError('MAINT_ERR_SEAT', input.agentId));
      const ttl = input.ttlMs ?? MAINTENANCE_DEFAULT_TTL_MS;
      if (!Number.isInteger(ttl) || ttl < MAINTENANCE_MIN_TTL_MS || ttl > MAINTENANCE_MAX_TTL_MS) {
        throw new AppError('MAINT_ERR_TTL', formatError('MAINT_ERR_TTL', `${MAINTENANCE_MIN_TTL_MS}–${MAINTENANCE_MAX_TTL_MS} ms`));
      }
      const reason = sanitizeText(input.reason, 1_024);
      if ([...reason].length < 2) throw new AppError('API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'a reason is required'));
      const now = clock.now();
      const made = makeMaintenanceCode(deps.seatSecret(input.agentId), input.agentId, { purpose: input.purpose, expiresAtMs: now + ttl, nonce: randomBytes(3) });
      const issuedAt = new Date(now).toISOString();
      const expiresAt = new Date(made.expiresAtMs).toISOString();
      store.transaction(() => {
        if (audit.list({ action: 'maintenance_code.issue', caseId: made.codeId }, { limit: 1 }).records.length > 0) {
          // Same minute and nonce as an earlier code (1 in 16 million): ask again rather than alias two codes.
          throw new AppError('API_ERR_INTERNAL', formatError('API_ERR_INTERNAL'));
        }
        // The code is a bearer credential for the seat: it goes to the maintainer only, never to the trail.
        audit.append({
          actor: actor.id,
          action: 'maintenance_code.issue',
          targetType: 'seat',
          targetId: input.agentId,
          caseId: made.codeId,
          detail: { agent_id: input.agentId, code_id: made.codeId, purpose: input.purpose, expires_at: expiresAt, reason },
        });
      });
      log.info({ agent_id: input.agentId, code_id: made.codeId, purpose: input.purpose, issued_by: actor.id }, 'maintenance code issued');
      return { code_id: made.codeId, agent_id: input.agentId, purpose: input.purpose, code: made.code, expires_at: expiresAt, issued_by: actor.id, issued_at: issuedAt };
    },

    uses,
  };
}
