import type { Logger } from '../../shared/logger.js';
import type { AgentEvent } from '../../shared/protocol/messages.js';
import type { CommittedEvent } from '../ingest/ingest-queue.js';
import type { Store } from '../store/store.js';
import { createEventEffects, decodeStoredEvent, type AfterCommit } from './event-effects.js';
import type { SoftwareEffect, SoftwareService } from './software-service.js';

type Requested = Extract<AgentEvent, { type: 'software.requested' }>;
type Installed = Extract<AgentEvent, { type: 'software.installed' }>;

export interface SoftwareEventHandler {
  /** The ingest queue's post-commit listener (software.requested). */
  handle(events: readonly CommittedEvent[]): void;
  /**
   * The ingest transaction hook (software.installed): marks the seat's active cases fulfilled in the
   * transaction that stores the report, so a crash cannot lose it. Never throws.
   */
  inTransaction(events: readonly CommittedEvent[]): AfterCommit | undefined;
  /**
   * At start: applies stored software.requested events that were committed but never applied
   * (crash between commit and listener), and software.installed events a failed step left behind.
   */
  recover(): number;
}

/**
 * Routes committed seat events to the software workflow. A `software.requested` is applied once,
 * after the commit, in its own transaction together with the workflow's (agent_id, seq) mark (the
 * unlock workflow's mark table: seqs are unique per seat whatever the type), so a replay after a
 * crash creates one case. A `software.installed` marks active cases fulfilled inside the ingest
 * transaction, behind the 'software_fulfilment' cursor (./event-effects.ts; docs/software-requests.md
 * § Fulfilment).
 */
export function createSoftwareEventHandler(deps: { store: Pick<Store, 'transaction' | 'unlock' | 'db'>; software: SoftwareService; log: Logger }): SoftwareEventHandler {
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

  function applyInstalled(agentId: string, msg: Installed, receivedAt: string): AfterCommit | undefined {
    const effects = software.onInstalled(agentId, msg.body, receivedAt);
    return effects.length === 0 ? undefined : () => software.applyEffects(effects);
  }

  const fulfilment = createEventEffects({ name: 'software_fulfilment', types: ['software.installed'], store, log, apply: applyInstalled });

  function recoverRequested(): number {
    let applied = 0;
    let after = 0;
    for (;;) {
      const rows = store.unlock.unappliedEvents(['software.requested'], after, 500);
      if (rows.length === 0) break;
      for (const row of rows) {
        after = row.id;
        const msg = decodeStoredEvent(row);
        if (msg === null || msg.type !== 'software.requested') {
          log.warn({ agent_id: row.agent_id, seq: row.seq }, 'stored software request no longer decodes; skipped');
          continue;
        }
        if (applyRequested(row.agent_id, msg)) applied++;
      }
    }
    if (applied > 0) log.warn({ applied }, 'applied software requests left over from a previous run');
    return applied;
  }

  return {
    handle(events) {
      for (const e of events) if (e.msg.type === 'software.requested') applyRequested(e.agentId, e.msg);
    },
    inTransaction: (events) => fulfilment.inTransaction(events),
    recover: () => recoverRequested() + fulfilment.recover(),
  };
}
