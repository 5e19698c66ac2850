import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAlertEngine, type CommittedEvent as EngineEvent } from '../../../../collector/alerts/alert-engine.js';
import { createIngestQueue, type AckSink, type CommittedEvent, type IngestQueue } from '../../../../collector/ingest/ingest-queue.js';
import { silentLogger } from '../../../../shared/logger.js';
import type { AgentEvent } from '../../../../shared/protocol/messages.js';
import * as S from '../../../unit/collector/alerts/engine/samples.js';
import { createEngineHarness, MIN, type EngineHarness } from './engine-harness.js';

const harnesses: EngineHarness[] = [];
function setup(): EngineHarness {
  const h = createEngineHarness();
  harnesses.push(h);
  for (const s of ['agt_a', 'agt_b', 'agt_c']) h.seat(s);
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

const toEngine = (events: readonly CommittedEvent[]): EngineEvent[] =>
  events.map((e) => ({ id: e.eventId, agent_id: e.agentId, seq: e.msg.seq, type: e.msg.type, ts: e.msg.ts, body: e.msg.body, received_at: e.receivedAt }));

/** The ingest queue on the harness store, wired to the engine as collector.ts wires it. */
function wiredQueue(h: EngineHarness): IngestQueue {
  const queue = createIngestQueue({ store: h.store, clock: h.clock, log: silentLogger(), commitIntervalMs: 60_000, maxBatch: 500, maxPending: 10_000 });
  queue.onTransaction((events) => h.engine.evaluateInTransaction(toEngine(events)));
  queue.onCommit((events) => h.engine.onCommitted(toEngine(events)));
  return queue;
}

function recordingAcks(): AckSink & { acked: number[]; failedIds: string[] } {
  const acked: number[] = [];
  const failedIds: string[] = [];
  return { acked, failedIds, committed: (seqs) => void acked.push(...seqs), failed: (ids) => void failedIds.push(...ids) };
}

let seq = 0;
function msg(type: string, body: unknown): AgentEvent {
  seq++;
  return { v: 1, type, id: `m-${seq}`, ts: new Date(0).toISOString(), seq, body } as unknown as AgentEvent;
}

const count = (h: EngineHarness, sql: string): number => (h.store.db.prepare(sql).get() as { n: number }).n;
const cursor = (h: EngineHarness): number => (h.store.db.prepare('SELECT last_event_id AS id FROM alert_cursor WHERE id = 1').get() as { id: number }).id;

/** What a run left behind, without the engine's own evaluation times (they differ by design). */
function snapshot(h: EngineHarness) {
  const alerts = h.store.db
    .prepare(`SELECT id, rule, severity, agent_id, dedup_key, count, first_seen, last_seen, state, last_event_id, cleared_at IS NOT NULL AS cleared FROM alerts ORDER BY id`)
    .all();
  const links = h.store.db.prepare('SELECT event_id, alert_id, event_type, received_at FROM alert_events ORDER BY event_id').all();
  const history = h.store.db.prepare('SELECT alert_id, actor, action, note, details FROM alert_history ORDER BY alert_id, id').all();
  return { alerts, links, history };
}

/** A deterministic pseudo-random sequence (xorshift), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('alert engine: batch-shaped evaluation', () => {
  it('leaves the same alerts, counts, links and history whether events are evaluated one by one or in batches', () => {
    for (const seed of [1, 7, 42]) {
      const one = setup();
      const batched = setup();
      const rnd = rng(seed);
      const stored: EngineEvent[] = [];
      const flush = () => {
        batched.engine.onCommitted(stored.splice(0));
      };
      for (let i = 0; i < 400; i++) {
        const seat = ['agt_a', 'agt_b', 'agt_c'][Math.floor(rnd() * 3)]!;
        const r = rnd();
        let type: string;
        let body: unknown;
        if (r < 0.55) {
          // A few sticks, some of them composite (a repeat may raise the severity to critical).
          const serial = `SN${Math.floor(rnd() * 3)}`;
          const composite = rnd() < 0.2;
          type = 'usb.blocked';
          body = S.usbBlocked({ device: S.device({ serial, interfaces: composite ? ['08:06:50', '03:01:01'] : ['08:06:50'] }) });
        } else if (r < 0.8) {
          type = 'lock.state';
          body = S.lockState(rnd() < 0.5 ? 'degraded' : 'locked');
        } else {
          type = 'usb.inserted';
          body = { device: S.device(), present_at_start: false };
        }
        const a = one.store1(seat, type, body);
        one.engine.onCommitted([a]);
        stored.push(batched.store1(seat, type, body));
        // Mostly inside the dedup window, sometimes past it.
        const step = rnd() < 0.1 ? 11 * MIN : Math.floor(rnd() * 90_000);
        one.clock.advance(step);
        batched.clock.advance(step);
        if (rnd() < 0.15) flush();
        if (rnd() < 0.02) {
          // A duty officer closes the newest open alert in both runs, between batches.
          flush();
          const open = one.engine.list({ state: 'open', limit: 1 }).alerts[0];
          if (open) {
            one.engine.resolve(open.id, 'duty1', 'handled');
            batched.engine.resolve(open.id, 'duty1', 'handled');
          }
        }
      }
      flush();
      const s1 = snapshot(one);
      expect(s1.alerts.length).toBeGreaterThan(3);
      expect(snapshot(batched)).toEqual(s1);
    }
  });

  it('counts a storm of one stick in one batch into one alert and links only its first 100 events', () => {
    const h = setup();
    const events = Array.from({ length: 300 }, () => {
      h.clock.advance(1_000);
      return h.store1('agt_a', 'usb.blocked', S.usbBlocked());
    });
    h.engine.onCommitted(events);
    const { alerts, total } = h.engine.list();
    expect(total).toBe(1);
    expect(alerts[0]!.count).toBe(300);
    const linked = h.engine.get(alerts[0]!.id)?.events ?? [];
    expect(linked.map((l) => l.event_id).sort((a, b) => a - b)).toEqual(events.slice(0, 100).map((e) => e.id));
    expect(count(h, 'SELECT count(*) AS n FROM alert_events')).toBe(100);
    expect(count(h, 'SELECT last_event_id AS n FROM alerts')).toBe(events[299]!.id);
    expect(h.sink.alerts).toHaveLength(1);
  });

  it('stops linking at 100 events when the storm spans batches and an engine restart', () => {
    const h = setup();
    const batch = (n: number) =>
      Array.from({ length: n }, () => {
        h.clock.advance(1_000);
        return h.store1('agt_a', 'usb.blocked', S.usbBlocked());
      });
    const first = batch(60);
    h.engine.onCommitted(first);
    // A second engine on the same file knows the count only from the stored alert row.
    const restarted = createAlertEngine({ db: h.store.db, clock: h.clock, log: silentLogger(), dispatcher: h.sink });
    const second = batch(60);
    restarted.onCommitted(second);
    const third = batch(60);
    restarted.onCommitted(third);
    const { alerts, total } = restarted.list();
    expect(total).toBe(1);
    expect(alerts[0]!.count).toBe(180);
    const linkedIds = (h.store.db.prepare('SELECT event_id FROM alert_events ORDER BY event_id').all() as Array<{ event_id: number }>).map((r) => r.event_id);
    expect(linkedIds).toEqual([...first, ...second].slice(0, 100).map((e) => e.id));
  });

  it('opens a new alert for a repeat after the alert was resolved through another database connection', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const first = h.engine.list().alerts[0]!;
    const other = new Database(join(h.dir, 'collector.db'));
    try {
      other.prepare(`UPDATE alerts SET state = 'resolved', resolved_by = 'duty1', resolved_at = ?, resolution_note = 'x' WHERE id = ?`).run(new Date(h.clock.now()).toISOString(), first.id);
    } finally {
      other.close();
    }
    h.clock.advance(MIN);
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const { alerts } = h.engine.list();
    expect(alerts.map((a) => [a.state, a.count])).toEqual([
      ['open', 1],
      ['resolved', 1],
    ]);
  });
});

describe('alert engine inside the ingest transaction', () => {
  it('stores the alerts and moves the stored cursor in the commit of the events, and delivers after it', () => {
    const h = setup();
    const queue = wiredQueue(h);
    const acks = recordingAcks();
    for (let i = 0; i < 5; i++) queue.pushEvent(acks, 'agt_a', msg('usb.blocked', S.usbBlocked()));
    queue.pushEvent(acks, 'agt_b', msg('lock.state', S.lockState('degraded')));
    queue.drain();
    expect(acks.acked).toHaveLength(6);
    const maxId = count(h, 'SELECT max(id) AS n FROM events');
    expect(cursor(h)).toBe(maxId);
    const { alerts } = h.engine.list();
    expect(alerts.map((a) => [a.rule, a.count]).sort()).toEqual([
      ['lock.state', 1],
      ['usb.blocked', 5],
    ]);
    expect(h.sink.alerts.map((a) => a.rule).sort()).toEqual(['lock.state', 'usb.blocked']);
    // Nothing left for catch-up: the events were evaluated exactly once.
    expect(h.engine.tick().evaluated).toBe(0);
    expect(count(h, 'SELECT count(*) AS n FROM alert_events')).toBe(6);
  });

  it('stores and acknowledges the events when the alert write fails, and evaluates them exactly once later', () => {
    const h = setup();
    const queue = wiredQueue(h);
    const acks = recordingAcks();
    queue.pushEvent(acks, 'agt_a', msg('usb.blocked', S.usbBlocked()));
    queue.drain();
    const before = cursor(h);
    // Every alert link fails: the savepoint inside the ingest transaction and the retry after it.
    h.store.db.exec(`CREATE TEMP TRIGGER h8_fail BEFORE INSERT ON alert_events BEGIN SELECT RAISE(ABORT, 'injected'); END`);
    for (let i = 0; i < 3; i++) queue.pushEvent(acks, 'agt_a', msg('usb.blocked', S.usbBlocked()));
    queue.drain();
    expect(acks.acked).toHaveLength(4);
    expect(acks.failedIds).toEqual([]);
    expect(count(h, 'SELECT count(*) AS n FROM events')).toBe(4);
    expect(cursor(h)).toBe(before);
    expect(h.engine.list().alerts[0]!.count).toBe(1);
    h.store.db.exec('DROP TRIGGER h8_fail');
    expect(h.engine.tick().evaluated).toBe(3);
    expect(h.engine.list().alerts[0]!.count).toBe(4);
    expect(cursor(h)).toBe(count(h, 'SELECT max(id) AS n FROM events'));
    // A later batch does not count the recovered events twice.
    queue.pushEvent(acks, 'agt_a', msg('usb.blocked', S.usbBlocked()));
    queue.drain();
    expect(h.engine.list().alerts[0]!.count).toBe(5);
    expect(count(h, 'SELECT count(*) AS n FROM alert_events')).toBe(5);
  });

  it('keeps the events of a batch when a transaction hook throws, and rolls back only what the hook wrote', () => {
    const h = setup();
    const queue = wiredQueue(h);
    queue.onTransaction(() => {
      h.store.db.prepare(`INSERT INTO alert_maintenance (agent_id, starts_at, ends_at, created_by, reason) VALUES ('agt_a', 'a', 'b', 'x', 'y')`).run();
      throw new Error('hook broke');
    });
    const acks = recordingAcks();
    queue.pushEvent(acks, 'agt_a', msg('usb.blocked', S.usbBlocked()));
    queue.drain();
    expect(acks.acked).toHaveLength(1);
    expect(count(h, 'SELECT count(*) AS n FROM events')).toBe(1);
    expect(count(h, 'SELECT count(*) AS n FROM alert_maintenance')).toBe(0);
    // The engine's hook ran in its own savepoint and was not undone by the other one.
    expect(h.engine.list().alerts[0]!.count).toBe(1);
  });

  it('runs no after-commit callback, and keeps neither alerts nor cursor, when the commit itself fails', () => {
    const h = setup();
    const queue = wiredQueue(h);
    let after = 0;
    queue.onTransaction(() => () => void after++);
    const acks = recordingAcks();
    queue.pushEvent(acks, 'agt_a', msg('usb.blocked', S.usbBlocked()));
    queue.drain();
    expect(after).toBe(1);
    const cursorBefore = cursor(h);
    // A deferred foreign key is checked at COMMIT: this hook makes the commit fail after every
    // hook (the alert engine's too) has run and released its savepoint.
    h.store.db.exec(`CREATE TEMP TABLE h8_parent (id INTEGER PRIMARY KEY);
      CREATE TEMP TABLE h8_child (p INTEGER REFERENCES h8_parent (id) DEFERRABLE INITIALLY DEFERRED)`);
    const breakCommit = queue.onTransaction(() => {
      h.store.db.prepare('INSERT INTO h8_child (p) VALUES (1)').run();
      return undefined;
    });
    const degraded = msg('lock.state', S.lockState('degraded'));
    queue.pushEvent(acks, 'agt_b', degraded);
    queue.drain();
    expect(acks.failedIds).toEqual([degraded.id]);
    expect(after).toBe(1);
    expect(count(h, 'SELECT count(*) AS n FROM events')).toBe(1);
    expect(cursor(h)).toBe(cursorBefore);
    expect(h.engine.list().alerts.map((a) => a.rule)).toEqual(['usb.blocked']);
    // The agent resends; now it commits, and the engine evaluates it (its in-memory cursor did not move).
    breakCommit();
    queue.pushEvent(acks, 'agt_b', degraded);
    queue.drain();
    expect(h.engine.list().alerts.map((a) => a.rule).sort()).toEqual(['lock.state', 'usb.blocked']);
    expect(cursor(h)).toBe(count(h, 'SELECT max(id) AS n FROM events'));
  });
});
