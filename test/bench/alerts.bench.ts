import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { createAlertEngine, type CommittedEvent } from '../../collector/alerts/alert-engine.js';
import { migrate } from '../../collector/store/db.js';
import { MIGRATIONS } from '../../collector/store/migrations.js';
import { ALERTS_MIGRATION } from '../../collector/store/migrations-alerts.js';
import { openStore } from '../../collector/store/store.js';
import { ManualClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';

/**
 * Throughput of AlertEngine.onCommitted for batches of 100 committed events on a real SQLite file
 * (WAL, synchronous=FULL as in production). Three mixes: nothing alert-worthy, one storm that
 * deduplicates into a single alert, and 100 seats each opening a new alert.
 */

const BATCH = 100;
const SEATS = 100;

const device = (serial: string) => ({
  port: '2-1',
  vendor_id: '0781',
  product_id: '5567',
  bcd_device: '0100',
  serial,
  manufacturer: 'SanDisk',
  product: 'Cruzer Blade',
  hash: null,
  parent_hash: null,
  interfaces: ['08:06:50'],
  connect_type: 'hotplug',
});

const blocked = (serial: string) => ({ device: device(serial), blocked_interfaces: ['08:06:50'], allowed_interfaces: [], reason: 'default block' });

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'seatguard-alerts-bench-'));
  const store = openStore(join(dir, 'collector.db'));
  migrate(store.db, [...MIGRATIONS, ALERTS_MIGRATION]);
  const clock = new ManualClock();
  for (let i = 0; i < SEATS; i++) {
    store.agents.insert({ agent_id: `agt_${i}`, seat_name: `S-${i}`, hostname: `h-${i}`, platform: 'linux', department: null, public_key: 'k', enrolled_at: new Date(clock.now()).toISOString() });
  }
  const engine = createAlertEngine({ db: store.db, clock, log: silentLogger(), dispatcher: { enqueue: () => undefined } });
  let nextId = 1;
  const batch = (make: (i: number) => Omit<CommittedEvent, 'id' | 'seq' | 'ts'>): CommittedEvent[] =>
    Array.from({ length: BATCH }, (_, i) => {
      const id = nextId++;
      return { id, seq: id, ts: new Date(clock.now()).toISOString(), ...make(i) };
    });
  return { engine, clock, batch };
}

describe('alert engine onCommitted, batches of 100 events', () => {
  const quiet = setup();
  bench('100 events, none alert-worthy (usb.inserted)', () => {
    quiet.engine.onCommitted(quiet.batch((i) => ({ agent_id: `agt_${i % SEATS}`, type: 'usb.inserted', body: { device: device('X'), present_at_start: false } })));
  });

  const storm = setup();
  bench('100 usb.blocked from one seat (dedup into one alert)', () => {
    storm.engine.onCommitted(storm.batch(() => ({ agent_id: 'agt_0', type: 'usb.blocked', body: blocked('STORM') })));
  });

  const spread = setup();
  bench('100 usb.blocked from 100 seats (100 new alerts)', () => {
    // Past the dedup window each round, so every event opens an alert.
    spread.clock.advance(11 * 60_000);
    spread.engine.onCommitted(spread.batch((i) => ({ agent_id: `agt_${i}`, type: 'usb.blocked', body: blocked(`S${i}`) })));
  });
});
