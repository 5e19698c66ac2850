import type { Logger } from '../../shared/logger.js';
import { decodeAgentMessage } from '../../shared/protocol/decode.js';
import type { AgentEvent } from '../../shared/protocol/messages.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/version.js';
import type { CommittedEvent } from '../ingest/ingest-queue.js';
import type { Store } from '../store/store.js';
import type { SoftwareEffect, SoftwareService } from './software-service.js';

type Requested = Extract<AgentEvent, { type: 'software.requested' }>;
type Installed = Extract<AgentEvent, { type: 'software.installed' }>;

export interface SoftwareEventHandler {
  /** The ingest queue's post-commit listener. */
  handle(events: readonly CommittedEvent[]): void;
  /** Applies stored software.requested events that were committed but never applied (crash between commit and listener). */
  recover(): number;
}

/**
 * Routes committed seat events to the software workflow. A `software.requested` is applied once,
 * in its own transaction together with the workflow's (agent_id, seq) mark (the unlock workflow's
 * mark table: seqs are unique per seat whatever the type), so a replay after a crash creates one
 * case. A `software.installed` only marks active cases fulfilled, which is idempotent by itself; it
 * is not marked or recovered (see docs/software-requests.md § Fulfilment).
 */
export function createSoftwareEventHandler(deps: { store: Pick<Store, 'transaction' | 'unlock'>; software: SoftwareService; log: Logger }): SoftwareEventHandler {
  const { store, software } = deps;
  const log = deps.log.child({ component: 'software-events' });

  function applyRequested(agentId: string, msg: Requested): boolean {
    try {
      const effects = store.transaction((): SoftwareEffect[] | null => (store.unlock.markEvent(agentId, msg.seq) ? software.onAgentRequested(agentId, msg.body) : null));
      if (effects === null) return false;
      software.applyEffects(effects);
      return true;
    } catch (err) {
      // Rolled back with its mark: recover() retries it at the next start.
      log.error({ err, agent_id: agentId, seq: msg.seq }, 'software request event failed');
      return false;
    }
  }

  function applyInstalled(agentId: string, msg: Installed): void {
    try {
      software.applyEffects(store.transaction(() => software.onInstalled(agentId, msg.body)));
    } catch (err) {
      log.error({ err, agent_id: agentId, seq: msg.seq }, 'software fulfilment check failed');
    }
  }

  return {
    handle(events) {
      for (const e of events) {
        if (e.msg.type === 'software.requested') applyRequested(e.agentId, e.msg);
        else if (e.msg.type === 'software.installed') applyInstalled(e.agentId, e.msg);
      }
    },

    recover() {
      let applied = 0;
      let after = 0;
      for (;;) {
        const rows = store.unlock.unappliedEvents(['software.requested'], after, 500);
        if (rows.length === 0) break;
        for (const row of rows) {
          after = row.id;
          // Re-validated like a frame: the stored body passed the schema once, and stays untrusted data.
          const frame = JSON.stringify({ v: PROTOCOL_VERSION, type: row.type, id: `replay-${row.id}`, ts: row.ts, seq: row.seq, body: JSON.parse(row.body) as unknown });
          const d = decodeAgentMessage(frame);
          if (d.ok !== true || d.msg.type !== 'software.requested') {
            log.warn({ agent_id: row.agent_id, seq: row.seq }, 'stored software request no longer decodes; skipped');
            continue;
          }
          if (applyRequested(row.agent_id, d.msg)) applied++;
        }
      }
      if (applied > 0) log.warn({ applied }, 'applied software requests left over from a previous run');
      return applied;
    },
  };
}
