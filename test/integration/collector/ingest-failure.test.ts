import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestQueue, type AckSink } from '../../../collector/ingest/ingest-queue.js';
import { openStore, type Store } from '../../../collector/store/store.js';
import { systemClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import type { AgentEvent } from '../../../shared/protocol/messages.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openTempStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'sg-ingest-fail-'));
  dirs.push(dir);
  const store = openStore(join(dir, 'collector.db'));
  stores.push(store);
  for (const id of ['agt_a', 'agt_b']) {
    store.agents.insert({
      agent_id: id,
      seat_name: `SEAT-${id}`,
      hostname: `host-${id}`,
      platform: 'linux',
      department: null,
      public_key: 'MCowBQYDK2VwAyEA' + 'A'.repeat(44),
      enrolled_at: new Date(0).toISOString(),
    });
  }
  return store;
}

function sink(): AckSink & { acked: number[]; failedIds: string[] } {
  const acked: number[] = [];
  const failedIds: string[] = [];
  return { acked, failedIds, committed: (seqs) => void acked.push(...seqs), failed: (ids) => void failedIds.push(...ids) };
}

let n = 0;
const removed = (seq: number): AgentEvent =>
  ({ v: 1, type: 'agent.stopping', id: `m-${++n}`, ts: new Date(0).toISOString(), seq, body: { reason: 'test' } }) as unknown as AgentEvent;

const storedSeqs = (store: Store, agent: string): number[] =>
  (store.db.prepare('SELECT seq FROM events WHERE agent_id = ? ORDER BY id').all(agent) as { seq: number }[]).map((r) => r.seq);

describe('ingest queue: a batch that cannot be committed', () => {
  it("fails the connection's later queued events with it, so no later seq is stored past the hole", () => {
    const store = openTempStore();
    const queue = createIngestQueue({ store, clock: systemClock, log: silentLogger(), commitIntervalMs: 60_000, maxBatch: 2, maxPending: 1_000 });
    // A deferred foreign key is checked at COMMIT: the first batch's commit fails, later ones pass.
    store.db.exec(`CREATE TEMP TABLE fk_parent (id INTEGER PRIMARY KEY);
      CREATE TEMP TABLE fk_child (p INTEGER REFERENCES fk_parent (id) DEFERRABLE INITIALLY DEFERRED)`);
    let calls = 0;
    queue.onTransaction(() => {
      if (calls++ === 0) store.db.prepare('INSERT INTO fk_child (p) VALUES (1)').run();
      return undefined;
    });
    const a = sink();
    const b = sink();
    const aEvents = [1, 2, 3, 4, 5].map(removed);
    queue.pushEvent(a, 'agt_a', aEvents[0]!);
    queue.pushEvent(a, 'agt_a', aEvents[1]!);
    queue.pushEvent(b, 'agt_b', removed(1));
    for (const e of aEvents.slice(2)) queue.pushEvent(a, 'agt_a', e);
    queue.drain();

    expect(storedSeqs(store, 'agt_a')).toEqual([]);
    expect(a.acked).toEqual([]);
    expect(a.failedIds).toEqual(aEvents.map((e) => e.id));
    // Another connection's events are unaffected.
    expect(storedSeqs(store, 'agt_b')).toEqual([1]);
    expect(b.acked).toEqual([1]);

    // The agent reconnects and resends from the hole: everything is stored once, in order.
    const a2 = sink();
    for (const e of aEvents) queue.pushEvent(a2, 'agt_a', e);
    queue.drain();
    expect(storedSeqs(store, 'agt_a')).toEqual([1, 2, 3, 4, 5]);
  });
});
