/**
 * Alert throughput: AlertEngine.onCommitted on batches of 100 committed events, on a real SQLite file
 * (WAL, synchronous=FULL as in production; the engine's own transaction, one fsync per batch).
 * Three mixes, side by side in one run: nothing alert-worthy (the baseline), one seat's storm that
 * deduplicates into one alert, and 100 seats each opening a new alert.
 *   node dist/test/bench/alert-throughput.js [--batches 200]
 */
import { join } from 'node:path';
import { createAlertEngine, type CommittedEvent } from '../../collector/alerts/alert-engine.js';
import { openStore } from '../../collector/store/store.js';
import { ManualClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';
import { readArg, tempDir, writeSuiteResult, type Figure } from './lib.js';

const BATCH = 100;
const SEATS = 100;
const batches = readArg('batches', 200);

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

type Make = (i: number) => Omit<CommittedEvent, 'id' | 'seq' | 'ts'>;

/** Events per second through onCommitted for one mix, on a fresh database. */
function measure(make: Make, beforeBatch?: (clock: ManualClock) => void): { perSecond: number; alerts: number } {
  const store = openStore(join(tempDir('sg-bench-alerts-'), 'collector.db'));
  const clock = new ManualClock();
  for (let i = 0; i < SEATS; i++) {
    store.agents.insert({ agent_id: `agt_${i}`, seat_name: `S-${i}`, hostname: `h-${i}`, platform: 'linux', department: null, public_key: 'k', enrolled_at: new Date(clock.now()).toISOString() });
  }
  const engine = createAlertEngine({ db: store.db, clock, log: silentLogger(), dispatcher: { enqueue: () => undefined } });
  let nextId = 1;
  const batch = (): CommittedEvent[] =>
    Array.from({ length: BATCH }, (_, i) => {
      const id = nextId++;
      return { id, seq: id, ts: new Date(clock.now()).toISOString(), ...make(i) };
    });
  // Warm-up: prepared statements, JIT.
  for (let i = 0; i < 5; i++) engine.onCommitted(batch());
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) {
    beforeBatch?.(clock);
    engine.onCommitted(batch());
  }
  const s = (performance.now() - t0) / 1000;
  const alerts = engine.list({}).total;
  store.close();
  return { perSecond: (batches * BATCH) / s, alerts };
}

const quiet = measure((i) => ({ agent_id: `agt_${i % SEATS}`, type: 'usb.inserted', body: { device: device('X'), present_at_start: false } }));
const storm = measure(() => ({ agent_id: 'agt_0', type: 'usb.blocked', body: blocked('STORM') }));
// Past the dedup window each round, so every event opens an alert.
const spread = measure(
  (i) => ({ agent_id: `agt_${i}`, type: 'usb.blocked', body: blocked(`S${i}`) }),
  (clock) => clock.advance(11 * 60_000),
);

const r = (n: number) => Math.round(n);
const figures: Figure[] = [
  { suite: 'alert-throughput', name: `alert engine, ${BATCH}-event batches, nothing alert-worthy (usb.inserted)`, value: r(quiet.perSecond), unit: 'events/s', note: `${batches} batches` },
  {
    suite: 'alert-throughput',
    name: 'same, one seat’s usb.blocked storm (deduplicated into one alert)',
    value: r(storm.perSecond),
    unit: 'events/s',
    baseline: { name: 'nothing alert-worthy', value: r(quiet.perSecond) },
    ratio: Number((storm.perSecond / quiet.perSecond).toFixed(2)),
    note: `${storm.alerts} alert(s)`,
  },
  {
    suite: 'alert-throughput',
    name: 'same, 100 seats each opening a new alert (usb.blocked past the dedup window)',
    value: r(spread.perSecond),
    unit: 'events/s',
    baseline: { name: 'nothing alert-worthy', value: r(quiet.perSecond) },
    ratio: Number((spread.perSecond / quiet.perSecond).toFixed(2)),
    note: `${spread.alerts} alerts`,
  },
];
for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio === undefined ? '' : ` (×${f.ratio} of baseline)`}`);
writeSuiteResult('alert-throughput', figures);
