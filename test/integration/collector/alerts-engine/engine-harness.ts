import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAlertEngine, type AlertEngine, type AlertEngineDeps, type AlertSink, type CommittedEvent } from '../../../../collector/alerts/alert-engine.js';
import type { Alert } from '../../../../collector/alerts/channels/types.js';
import { migrate } from '../../../../collector/store/db.js';
import { MIGRATIONS } from '../../../../collector/store/migrations.js';
import { ALERTS_MIGRATION } from '../../../../collector/store/migrations-alerts.js';
import { openStore, type Store } from '../../../../collector/store/store.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import type { AgentEvent } from '../../../../shared/protocol/messages.js';

/** A sink that keeps what the engine queued for delivery, in order. */
export function recordingSink(): AlertSink & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return { alerts, enqueue: (a) => void alerts.push(structuredClone(a)) };
}

export const iso = (ms: number) => new Date(ms).toISOString();
export const MIN = 60_000;

export interface EngineHarness {
  dir: string;
  store: Store;
  clock: ManualClock;
  engine: AlertEngine;
  sink: ReturnType<typeof recordingSink>;
  /** Enrolls a seat and marks it seen now. */
  seat(agentId: string, seatName?: string): void;
  /** Stores one event through the real ingest path (not evaluated yet); returns the stored row. */
  store1(agentId: string, type: string, body: unknown): CommittedEvent;
  /** Stores and hands the event to onCommitted, as the wired ingest queue will. */
  emit(agentId: string, type: string, body: unknown): CommittedEvent;
  /** Marks a heartbeat now (last_seen = now). */
  heartbeat(agentId: string): void;
  close(): void;
}

/** A real SQLite file in a temp dir with the core and alert migrations, a manual clock and the engine. */
export function createEngineHarness(opts: Partial<Omit<AlertEngineDeps, 'db' | 'clock' | 'log'>> & { clock?: ManualClock; log?: AlertEngineDeps['log'] } = {}): EngineHarness {
  const dir = mkdtempSync(join(tmpdir(), 'seatguard-alerts-'));
  const store = openStore(join(dir, 'collector.db'));
  migrate(store.db, [...MIGRATIONS, ALERTS_MIGRATION]);
  const clock = opts.clock ?? new ManualClock(Date.UTC(2026, 0, 5, 1, 0, 0));
  const sink = recordingSink();
  const engine = createAlertEngine({
    db: store.db,
    clock,
    log: opts.log ?? silentLogger(),
    dispatcher: opts.dispatcher ?? sink,
    ...(opts.config === undefined ? {} : { config: opts.config }),
    ...(opts.activeGrants === undefined ? {} : { activeGrants: opts.activeGrants }),
  });
  const seqs = new Map<string, number>();
  const readBack = store.db.prepare('SELECT id, agent_id, seq, type, ts, received_at, body FROM events WHERE agent_id = ? AND seq = ?');

  function store1(agentId: string, type: string, body: unknown): CommittedEvent {
    const seq = (seqs.get(agentId) ?? 0) + 1;
    seqs.set(agentId, seq);
    const now = iso(clock.now());
    // Sensor and unlock events are not in the core union yet; the store writes any body as JSON.
    const msg = { v: 1, type, id: `m-${agentId}-${seq}`, ts: now, seq, body } as unknown as AgentEvent;
    const [r] = store.ingest([{ kind: 'event', agentId, msg, receivedAt: now }]);
    if (r !== 'stored') throw new Error(`event not stored: ${String(r)}`);
    return readBack.get(agentId, seq) as CommittedEvent;
  }

  return {
    dir,
    store,
    clock,
    engine,
    sink,
    seat(agentId, seatName = `SEAT-${agentId}`) {
      store.agents.insert({
        agent_id: agentId,
        seat_name: seatName,
        hostname: `host-${agentId}`,
        platform: 'linux',
        department: null,
        public_key: 'MCowBQYDK2VwAyEA' + 'A'.repeat(44),
        enrolled_at: iso(clock.now()),
      });
      store.agents.markOnline(agentId, iso(clock.now()), { hostname: `host-${agentId}`, agent_version: '0.1.0' });
    },
    store1,
    emit(agentId, type, body) {
      const e = store1(agentId, type, body);
      engine.onCommitted([e]);
      return e;
    },
    heartbeat(agentId) {
      store.agents.heartbeat(agentId, iso(clock.now()), 'locked', 0);
    },
    close() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
