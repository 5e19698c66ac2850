import type { Logger } from '../../shared/logger.js';
import { decodeAgentMessage } from '../../shared/protocol/decode.js';
import type { AgentEvent } from '../../shared/protocol/messages.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/version.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { CommittedEvent } from '../ingest/ingest-queue.js';
import type { Store } from '../store/store.js';
import type { OfflineCodeService } from './offline-code-service.js';
import type { PolicyService } from './policy-service.js';
import { agentActor, type UnlockService, type WorkflowEffect } from './unlock-service.js';

/** Agent event types that drive the workflow (grant.warning is stored as an event only). */
export const WORKFLOW_EVENT_TYPES = [
  'unlock.requested',
  'grant.accepted',
  'grant.applied',
  'grant.ended',
  'offline.unlock_used',
  'policy.applied',
] as const;
type WorkflowType = (typeof WORKFLOW_EVENT_TYPES)[number];
type WorkflowEvent = Extract<AgentEvent, { type: WorkflowType }>;

const isWorkflowEvent = (m: AgentEvent): m is WorkflowEvent => (WORKFLOW_EVENT_TYPES as readonly string[]).includes(m.type);

export interface WorkflowEventHandler {
  /** The ingest queue's post-commit listener: applies each new workflow event exactly once. */
  handle(events: readonly CommittedEvent[]): void;
  /** Applies stored workflow events that were committed but never applied (a crash between commit and listener). */
  recover(): number;
}

/**
 * Routes committed agent events to the workflow. Each event is applied in its own transaction
 * together with a (agent_id, seq) mark, so a replay after a crash applies it once and a failure in
 * one event leaves the others alone.
 */
export function createWorkflowEventHandler(deps: {
  store: Store;
  audit: Pick<AuditLog, 'append'>;
  unlock: UnlockService;
  offline: OfflineCodeService;
  policy: PolicyService;
  log: Logger;
}): WorkflowEventHandler {
  const { store, audit, unlock, offline, policy } = deps;
  const log = deps.log.child({ component: 'workflow-events' });

  function unknownGrant(agentId: string, msg: WorkflowEvent & { body: { grant_id: string } }): void {
    // A seat reporting a grant the collector never issued: use without a matching request (LOG-21).
    audit.append({
      actor: agentActor(agentId),
      action: 'unlock.unknown_grant',
      targetType: 'seat',
      targetId: agentId,
      detail: { msg_type: msg.type, grant_id: msg.body.grant_id, seq: msg.seq },
    });
    log.warn({ agent_id: agentId, grant_id: msg.body.grant_id, msg_type: msg.type }, 'seat reports an unknown grant');
  }

  function dispatch(agentId: string, msg: WorkflowEvent): WorkflowEffect[] {
    switch (msg.type) {
      case 'unlock.requested':
        return unlock.onAgentRequested(agentId, msg.body);
      case 'grant.accepted': {
        const effects = unlock.onGrantReport(agentId, { type: msg.type, body: msg.body });
        // Offline grants are created at the seat; the seat does not report "accepted" for them.
        if (effects === null && !store.offlineCodes.openUseByGrant(agentId, msg.body.grant_id)) unknownGrant(agentId, msg);
        return effects ?? [];
      }
      case 'grant.applied': {
        const effects = unlock.onGrantReport(agentId, { type: msg.type, body: msg.body });
        if (effects !== null) return effects;
        const detail = { device: { ...msg.body.device }, authorized_interfaces: msg.body.authorized_interfaces };
        if (!offline.onGrantReport(agentId, { type: msg.type, grantId: msg.body.grant_id, detail })) unknownGrant(agentId, msg);
        return [];
      }
      case 'grant.ended': {
        const effects = unlock.onGrantReport(agentId, { type: msg.type, body: msg.body });
        if (effects !== null) return effects;
        const detail = { reason: msg.body.reason, relocked_interfaces: msg.body.relocked_interfaces };
        if (!offline.onGrantReport(agentId, { type: msg.type, grantId: msg.body.grant_id, detail, reason: msg.body.reason })) {
          unknownGrant(agentId, msg);
        }
        return [];
      }
      case 'offline.unlock_used':
        offline.onUsed(agentId, msg.body, msg.ts);
        return [];
      case 'policy.applied':
        policy.onApplied(agentId, msg.body);
        return [];
    }
  }

  function applyOne(agentId: string, msg: WorkflowEvent): boolean {
    try {
      const effects = store.transaction((): WorkflowEffect[] | null => (store.unlock.markEvent(agentId, msg.seq) ? dispatch(agentId, msg) : null));
      if (effects === null) return false;
      unlock.applyEffects(effects);
      return true;
    } catch (err) {
      // Rolled back with its mark: recover() retries it at the next start.
      log.error({ err, agent_id: agentId, msg_type: msg.type, seq: msg.seq }, 'workflow event failed');
      return false;
    }
  }

  return {
    handle(events) {
      for (const e of events) if (isWorkflowEvent(e.msg)) applyOne(e.agentId, e.msg);
    },

    recover() {
      let applied = 0;
      let after = 0;
      for (;;) {
        const rows = store.unlock.unappliedEvents(WORKFLOW_EVENT_TYPES, after, 500);
        if (rows.length === 0) break;
        for (const row of rows) {
          after = row.id;
          // Re-validated like a frame: the stored body passed the schema once, and stays untrusted data.
          const frame = JSON.stringify({ v: PROTOCOL_VERSION, type: row.type, id: `replay-${row.id}`, ts: row.ts, seq: row.seq, body: JSON.parse(row.body) as unknown });
          const d = decodeAgentMessage(frame);
          if (d.ok !== true || !('seq' in d.msg) || !isWorkflowEvent(d.msg)) {
            log.warn({ agent_id: row.agent_id, seq: row.seq }, 'stored workflow event no longer decodes; skipped');
            continue;
          }
          if (applyOne(row.agent_id, d.msg)) applied++;
        }
      }
      if (applied > 0) log.warn({ applied }, 'applied workflow events left over from a previous run');
      return applied;
    },
  };
}
