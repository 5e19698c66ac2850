import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../../collector/store/db.js';
import { deviceKeyOf, SQL_KEY } from '../../../../collector/store/events-repo.js';
import { BUCKET_SQL, DEVICE_KEY_SQL, HAS_DEVICE_SQL, MIGRATIONS } from '../../../../collector/store/migrations.js';
import { openStore, type IngestItem, type Store } from '../../../../collector/store/store.js';
import type { AgentEvent } from '../../../../shared/protocol/messages.js';
import { SAMPLE_DEVICE, tempDir } from '../harness.js';

/** The rollups as migration 700 recomputes them from the events (COUNT(*) and the SQL device key). */
function recomputed(db: Database.Database) {
  return {
    counts: db
      .prepare(`SELECT e.type, ${BUCKET_SQL('e.received_at')} AS bucket, coalesce(a.department, '') AS department, count(*) AS n
        FROM events e LEFT JOIN agents a ON a.agent_id = e.agent_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`)
      .all(),
    deviceEvents: db.prepare(`SELECT ${DEVICE_KEY_SQL('body')} AS device_key, id AS event_id FROM events WHERE ${HAS_DEVICE_SQL('body')} ORDER BY 2, 1`).all(),
    // Sightings and devices as one per-event upsert each would have left them.
    sightings: db
      .prepare(`SELECT ${DEVICE_KEY_SQL('body')} AS device_key, agent_id, min(ts) AS first_seen, max(ts) AS last_seen, sum(type = 'usb.inserted') AS count
        FROM events WHERE type IN ('usb.inserted', 'usb.blocked', 'usb.allowed', 'usb.removed') AND ${HAS_DEVICE_SQL('body')}
        GROUP BY 1, 2 ORDER BY 1, 2`)
      .all(),
    spans: db
      .prepare(`SELECT ${DEVICE_KEY_SQL('body')} AS device_key, min(ts) AS first_seen, max(ts) AS last_seen
        FROM events WHERE type IN ('usb.inserted', 'usb.blocked', 'usb.allowed', 'usb.removed') AND ${HAS_DEVICE_SQL('body')}
        GROUP BY 1 ORDER BY 1`)
      .all(),
  };
}

function stored(db: Database.Database) {
  return {
    counts: db.prepare('SELECT type, bucket, department, n FROM event_counts ORDER BY 1, 2, 3').all(),
    deviceEvents: db.prepare('SELECT device_key, event_id FROM device_events ORDER BY 2, 1').all(),
    sightings: db.prepare('SELECT device_key, agent_id, first_seen, last_seen, count FROM device_sightings ORDER BY 1, 2').all(),
    spans: db.prepare('SELECT device_key, first_seen, last_seen FROM devices ORDER BY 1').all(),
  };
}

const AGENTS = [
  { id: 'agt_a', department: null },
  { id: 'agt_b', department: 'Sales' },
  { id: 'agt_c', department: '客服一部' },
];

function addAgents(store: Store): void {
  for (const a of AGENTS) {
    store.agents.insert({ agent_id: a.id, seat_name: a.id, hostname: a.id, platform: 'linux', department: a.department, public_key: 'x', enrolled_at: '2026-01-01T00:00:00.000Z' });
  }
}

const BASE = Date.UTC(2026, 2, 10, 15, 50);
const iso = (offsetS: number) => new Date(BASE + offsetS * 1000).toISOString();

/** A small pool of sticks, some sharing a key (same serial), some keyed by hash, some anonymous. */
const DEVICES = [
  SAMPLE_DEVICE,
  { ...SAMPLE_DEVICE, manufacturer: 'Renamed', product: null },
  { ...SAMPLE_DEVICE, serial: null },
  { ...SAMPLE_DEVICE, serial: '', hash: null },
  { ...SAMPLE_DEVICE, vendor_id: '090c', product_id: '1000', serial: 'AA0001', hash: null },
];

type Gen = { kind: 'usb'; type: string; device: number; tsS: number } | { kind: 'other'; type: string };

function message(g: Gen, seq: number): AgentEvent {
  if (g.kind === 'usb') {
    const body = g.type === 'usb.inserted' ? { device: DEVICES[g.device], present_at_start: false } : { device: DEVICES[g.device] };
    return { v: 1, type: g.type, id: `m-${seq}`, ts: iso(g.tsS), seq, body } as never;
  }
  return { v: 1, type: g.type, id: `m-${seq}`, ts: iso(0), seq, body: { reason: 'r' } } as never;
}

const genEvent: fc.Arbitrary<Gen> = fc.oneof(
  fc.record({
    kind: fc.constant('usb' as const),
    type: fc.constantFrom('usb.inserted', 'usb.blocked', 'usb.removed'),
    device: fc.integer({ min: 0, max: DEVICES.length - 1 }),
    // Agent clocks go back and forth (outbox replays): first/last must still be min/max.
    tsS: fc.integer({ min: -7200, max: 7200 }),
  }),
  fc.record({ kind: fc.constant('other' as const), type: fc.constantFrom('agent.stopping') }),
);

describe('rollups written per batch (migration 700)', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const open = (): { store: Store; dir: string } => {
    const dir = tempDir('seatguard-rollups-');
    dirs.push(dir);
    const store = openStore(join(dir, 'c.db'));
    stores.push(store);
    return { store, dir };
  };

  it('after a randomized ingest (replays, duplicates, heartbeats, slot boundaries) every rollup equals its recomputation from the events', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            agent: fc.integer({ min: 0, max: AGENTS.length - 1 }),
            event: genEvent,
            // received_at around slot boundaries (15:59:59.999 / 16:00:00.000 …) and across an hour.
            receivedS: fc.integer({ min: 0, max: 3600 }),
            heartbeat: fc.boolean(),
          }),
          { minLength: 1, maxLength: 120 },
        ),
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 30 }),
        (plan, cuts, replays) => {
          const { store } = open();
          addAgents(store);
          const seqs = new Map<string, number>();
          const items: IngestItem[] = plan.flatMap((p): IngestItem[] => {
            const agentId = AGENTS[p.agent]!.id;
            const seq = (seqs.get(agentId) ?? 0) + 1;
            seqs.set(agentId, seq);
            const receivedAt = new Date(BASE + 600_000 + p.receivedS * 250 - 1).toISOString();
            const ev: IngestItem = { kind: 'event', agentId, msg: message(p.event, seq), receivedAt };
            return p.heartbeat ? [ev, { kind: 'heartbeat', agentId, at: receivedAt, lockState: 'locked', outboxDepth: 0 }] : [ev];
          });
          // The agent resends part of what it sent (lost acks): already stored, must count once.
          const all = [...items, ...items.filter((i) => i.kind === 'event').slice(0, replays)];
          let at = 0;
          for (let c = 0; at < all.length; c++) {
            const n = cuts[c % cuts.length]!;
            store.ingest(all.slice(at, at + n));
            at += n;
          }
          expect(store.events.count()).toBe(plan.length);
          expect(stored(store.db)).toEqual(recomputed(store.db));
          store.close();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps the last descriptor strings and the last non-null hash of a device, as per-event upserts did', () => {
    const { store } = open();
    addAgents(store);
    const noHash = { ...SAMPLE_DEVICE, hash: null, manufacturer: 'Later', product: 'Name' };
    store.ingest([
      { kind: 'event', agentId: 'agt_a', msg: message({ kind: 'usb', type: 'usb.inserted', device: 0, tsS: 0 }, 1), receivedAt: iso(1) },
      { kind: 'event', agentId: 'agt_a', msg: { ...message({ kind: 'usb', type: 'usb.removed', device: 0, tsS: 5 }, 2), body: { device: noHash } } as never, receivedAt: iso(6) },
    ]);
    expect(store.devices.get('0781:5567:s:4C530001230517109291')).toMatchObject({ manufacturer: 'Later', product: 'Name', hash: SAMPLE_DEVICE.hash, first_seen: iso(0), last_seen: iso(5) });
    expect(store.devices.sightings('0781:5567:s:4C530001230517109291')).toEqual([
      { device_key: '0781:5567:s:4C530001230517109291', agent_id: 'agt_a', first_seen: iso(0), last_seen: iso(5), count: 1 },
    ]);
  });

  it('a batch that fails leaves no rollup behind, and the next batch is counted exactly', () => {
    const { store } = open();
    addAgents(store);
    const ev = (agentId: string, seq: number): IngestItem => ({ kind: 'event', agentId, msg: message({ kind: 'usb', type: 'usb.inserted', device: 0, tsS: seq }, seq), receivedAt: iso(seq) });
    // The unknown seat violates the events foreign key after two good rows: the whole batch rolls back.
    expect(() => store.ingest([ev('agt_a', 1), ev('agt_b', 1), ev('agt_unknown', 1)])).toThrow(expect.objectContaining({ code: 'STORE_ERR_WRITE' }));
    expect(store.events.count()).toBe(0);
    expect(stored(store.db).counts).toEqual([]);
    store.ingest([ev('agt_a', 1), ev('agt_a', 2)]);
    expect(stored(store.db)).toEqual(recomputed(store.db));
    expect(store.db.prepare('SELECT sum(n) AS n FROM event_counts').get()).toEqual({ n: 2 });
  });

  it('takes the device key of a decoded body exactly as the SQL of migration 400 reads it from the stored JSON', () => {
    const { store } = open();
    const sqlKey = store.db.prepare(`SELECT CASE WHEN ${HAS_DEVICE_SQL('@b')} THEN ${DEVICE_KEY_SQL('@b')} END AS k`).pluck();
    const str = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('', 'a\u0000b', '\ud800', 'x\udc00'));
    const field = fc.oneof(str, fc.constant(null), fc.constant(undefined), fc.integer(), fc.boolean());
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ device: fc.record({ vendor_id: field, product_id: field, serial: field, hash: field }, { requiredKeys: [] }) }),
          fc.record({ device: fc.oneof(fc.constant(null), fc.constant([1]), str) }),
          fc.constant({}),
          fc.constant([]),
        ),
        (decoded) => {
          const k = deviceKeyOf(decoded);
          // SQL_KEY: the repo leaves these to SQLite itself, so there is nothing to compare.
          if (k !== SQL_KEY) expect(k).toBe((sqlKey.get({ b: JSON.stringify(decoded) }) as string | null) ?? null);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('upgrading a database that ran the rollup triggers drops them, keeps the append-only triggers, rebuilds device_events and recounts only drifted slots', () => {
    const dir = tempDir('seatguard-rollups-upgrade-');
    dirs.push(dir);
    const path = join(dir, 'c.db');
    const old = openDatabase(
      path,
      MIGRATIONS.filter((m) => m.version < 700),
    );
    old.prepare("INSERT INTO agents (agent_id, seat_name, hostname, platform, department, public_key, enrolled_at) VALUES ('agt_a', 'S', 'h', 'linux', 'Sales', 'x', 'e')").run();
    const ins = old.prepare("INSERT INTO events (agent_id, seq, type, ts, received_at, body) VALUES ('agt_a', ?, ?, ?, ?, ?)");
    // One slot (15 minutes) per three events: slot k holds seqs 3k+1..3k+3.
    const receivedAt = (seq: number) => new Date(BASE + Math.floor((seq - 1) / 3) * 900_000 + seq * 1000).toISOString();
    const add = (from: number, to: number) => {
      for (let seq = from; seq <= to; seq++) {
        const body = seq % 4 === 0 ? JSON.stringify({ reason: 'r' }) : JSON.stringify({ device: DEVICES[seq % DEVICES.length] });
        ins.run(seq, seq % 4 === 0 ? 'agent.stopping' : 'usb.blocked', iso(seq), receivedAt(seq), body);
      }
    };
    add(1, 15);
    // The seat moves department: the triggers counted its earlier events under Sales, which the
    // events table alone cannot tell; the upgrade must keep that where the counts are consistent.
    old.exec("UPDATE agents SET department = 'Support' WHERE agent_id = 'agt_a'");
    add(16, 30);
    const slotOf = (seq: number) => Math.floor(Date.parse(receivedAt(seq)) / 1000 / 900);
    // Drift in one slot (a hand edit, a lost row): that slot alone is recounted from the events.
    old.prepare("UPDATE event_counts SET n = n + 5 WHERE type = 'usb.blocked' AND bucket = ?").run(slotOf(1));
    old.exec('DELETE FROM device_events WHERE event_id = 2');
    const before = old.prepare('SELECT type, bucket, department, n FROM event_counts WHERE bucket <> ? ORDER BY 1, 2, 3').all(slotOf(1));
    old.close();

    const store = openStore(path);
    stores.push(store);
    const triggers = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events' ORDER BY name").pluck().all() as string[];
    expect(triggers).toEqual(['events_no_delete', 'events_no_update']);
    const after = store.db.prepare('SELECT type, bucket, department, n FROM event_counts ORDER BY 1, 2, 3').all() as Array<{ type: string; bucket: number; department: string; n: number }>;
    expect(after.filter((r) => r.bucket !== slotOf(1))).toEqual(before);
    expect(after.filter((r) => r.bucket === slotOf(1))).toEqual([
      { type: 'usb.blocked', bucket: slotOf(1), department: 'Support', n: 3 },
    ]);
    expect(after.some((r) => r.department === 'Sales')).toBe(true);
    // Every (type, slot) total equals COUNT(*) of the events.
    const totals = (rows: Array<{ type: string; bucket: number; n: number }>) => {
      const m = new Map<string, number>();
      for (const r of rows) m.set(`${r.type} ${r.bucket}`, (m.get(`${r.type} ${r.bucket}`) ?? 0) + r.n);
      return Object.fromEntries([...m].sort());
    };
    expect(totals(after)).toEqual(totals(recomputed(store.db).counts as Array<{ type: string; bucket: number; n: number }>));
    const s = stored(store.db);
    expect(s.deviceEvents).toEqual(recomputed(store.db).deviceEvents);
    expect(s.deviceEvents.length).toBe(23);
    // And ingest after the upgrade keeps them exact.
    store.ingest([{ kind: 'event', agentId: 'agt_a', msg: message({ kind: 'usb', type: 'usb.inserted', device: 2, tsS: 3 }, 31), receivedAt: iso(4000) }]);
    expect(totals(stored(store.db).counts as Array<{ type: string; bucket: number; n: number }>)).toEqual(
      totals(recomputed(store.db).counts as Array<{ type: string; bucket: number; n: number }>),
    );
    expect(stored(store.db).deviceEvents).toEqual(recomputed(store.db).deviceEvents);
  });
});
