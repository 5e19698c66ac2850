/**
 * History-query benchmark: builds (once, cached under .cache/bench/) a collector database with
 * 5,000 seats and 10,000,000 events in the collector's real schema (see build()), then measures
 * p50/p95 of the console's read queries on it.
 *
 *   node dist/test/bench/history-query.js            full size (first run builds the file: minutes)
 *   node dist/test/bench/history-query.js --quick    500 seats, 200,000 events
 *   --seats N --events N --rebuild --iterations N
 *
 * Prints a table, writes test/bench/results-history.json and test/bench/results/history-query.json.
 * Not part of `npm test`; numbers depend on the machine (they were taken on the 2-core dev box).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../shared/prng.js';
import { buildDashboard } from '../../collector/reports/dashboard.js';
import { MIGRATIONS } from '../../collector/store/migrations.js';
import { createStatsRepo } from '../../collector/store/stats-repo.js';
import { openDatabase } from '../../collector/store/db.js';
import { openStore, type Store } from '../../collector/store/store.js';
import { deviceKey, type UsbDevice } from '../../shared/domain/usb.js';
import { readArg, REPO_ROOT, summarize, writeSuiteResult, type Figure } from './lib.js';

const quick = process.argv.includes('--quick');
const SEATS = readArg('seats', quick ? 500 : 5_000);
const EVENTS = readArg('events', quick ? 200_000 : 10_000_000);
const ITERATIONS = readArg('iterations', quick ? 100 : 300);
const DEVICES = Math.max(100, Math.round(SEATS * 4));
const DAYS = 90;
const BATCH = 10_000;
const TARGET_P95_MS = 100;
const DEPARTMENTS = ['Sales', 'Support', 'Collections', 'Retention', 'Billing', 'Onboarding', 'Claims', 'VIP', '客服一部', '客服二部'];
// A fixed end of history so a cached file and the measuring run agree on "the last 30 days".
const END = Date.UTC(2026, 0, 31, 12, 0, 0);

const schemaHash = createHash('sha256')
  .update(MIGRATIONS.map((m) => `${m.version}:${m.sql}`).join('\n'))
  .digest('hex')
  .slice(0, 10);
const CACHE_DIR = join(REPO_ROOT, '.cache/bench');
const DB_PATH = join(CACHE_DIR, `history-${SEATS}-${EVENTS}-${schemaHash}.db`);

const agentId = (i: number) => `agt_bench_${String(i).padStart(6, '0')}`;
const seatName = (i: number) => `CC-${['SH', 'BJ', 'GZ', 'CD'][i % 4]}-${String(i).padStart(5, '0')}`;

function makeDevice(i: number): UsbDevice {
  const vendors = [
    ['0781', '5567', 'SanDisk', 'Cruzer Blade'],
    ['0951', '1666', 'Kingston', 'DataTraveler 3.0'],
    ['090c', '1000', 'Samsung', 'Flash Drive FIT'],
    ['13fe', '4300', '金士顿', 'U盘 64G'],
    ['046d', 'c31c', 'Logitech', 'USB Keyboard'],
  ] as const;
  const v = vendors[i % vendors.length] as readonly [string, string, string, string];
  return {
    port: `${1 + (i % 3)}-${1 + (i % 4)}`,
    vendor_id: v[0],
    product_id: v[1],
    bcd_device: '0100',
    serial: `SN${String(i).padStart(10, '0')}`,
    manufacturer: v[2],
    product: v[3],
    hash: null,
    parent_hash: null,
    interfaces: v[0] === '046d' ? ['03:01:01'] : ['08:06:50'],
    connect_type: 'hotplug',
  };
}

/**
 * Builds the file fast but with the collector's real schema: events are bulk-loaded before
 * migration 400 exists (its own backfill then fills event_counts and device_events, exactly as
 * on an upgraded collector), the events indexes of 001 are recreated after the load from their
 * stored DDL, and device sightings are aggregated in memory and written once.
 */
function build(path: string): { seconds: number } {
  const t0 = performance.now();
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${path}.building`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  const db = openDatabase(
    tmp,
    MIGRATIONS.filter((m) => m.version < 400),
  );
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -2000000');
  const rand = mulberry32(42);
  const start = END - DAYS * 86_400_000;
  const insAgent = db.prepare(`INSERT INTO agents (agent_id, seat_name, hostname, platform, department, public_key, enrolled_at, online, last_seen, lock_state, last_seq)
    VALUES (?, ?, ?, ?, ?, 'bench-key-not-real', ?, ?, ?, ?, 0)`);
  db.transaction(() => {
    for (let i = 0; i < SEATS; i++) {
      const lock = rand() < 0.95 ? 'locked' : rand() < 0.5 ? 'degraded' : 'unknown';
      insAgent.run(agentId(i), seatName(i), `host-${i}`, i % 7 === 0 ? 'windows' : 'linux', DEPARTMENTS[i % DEPARTMENTS.length] ?? null,
        new Date(start - 86_400_000).toISOString(), rand() < 0.9 ? 1 : 0, new Date(END - Math.floor(rand() * 3_600_000)).toISOString(), lock);
    }
  })();
  const indexes = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").all() as Array<{ name: string; sql: string }>;
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);

  const devices = Array.from({ length: DEVICES }, (_, i) => makeDevice(i));
  // Bodies repeat per device and type: serialize each once.
  const bodies = devices.map((d) => ({
    inserted: JSON.stringify({ device: d, present_at_start: false }),
    removed: JSON.stringify({ device: d }),
    blocked: JSON.stringify({ device: d, blocked_interfaces: ['08:06:50'], allowed_interfaces: [], reason: 'default block' }),
    allowed: JSON.stringify({ device: d, allowed_interfaces: ['03:01:01'], reason: 'hid allowed' }),
  }));
  const lockBody = JSON.stringify({ state: 'locked', controllers: [{ name: 'usb1', interface_authorized_default: 0 }], detail: 'ok' });
  const startedBody = JSON.stringify({ agent_version: '0.1.0', platform: 'linux', lock_state: 'locked', detail: 'ok' });
  const sightings = new Map<number, { first: string; last: string; count: number }>();
  const deviceSeen: Array<{ first: string; last: string } | undefined> = new Array(DEVICES);
  const seq = new Int32Array(SEATS);
  const step = (END - start) / EVENTS;
  const ins = db.prepare('INSERT INTO events (agent_id, seq, type, ts, received_at, body) VALUES (?, ?, ?, ?, ?, ?)');
  const load = db.transaction((from: number, to: number) => {
    for (let n = from; n < to; n++) {
      const seat = Math.floor(rand() * SEATS);
      const s = ++seq[seat]!;
      const receivedMs = Math.floor(start + n * step);
      const ts = new Date(receivedMs - Math.floor(rand() * 2_000)).toISOString();
      const r = rand();
      // Mostly a seat's own few sticks; one insertion in ten is a stick from anywhere.
      const dev = rand() < 0.9 ? (seat * 3 + Math.floor(rand() * 3)) % DEVICES : Math.floor(rand() * DEVICES);
      const b = bodies[dev]!;
      let type: string;
      let body: string;
      if (r < 0.3) [type, body] = ['usb.inserted', b.inserted];
      else if (r < 0.6) [type, body] = ['usb.removed', b.removed];
      else if (r < 0.8) [type, body] = ['usb.blocked', b.blocked];
      else if (r < 0.85) [type, body] = ['usb.allowed', b.allowed];
      else if (r < 0.95) [type, body] = ['lock.state', lockBody];
      else [type, body] = ['agent.started', startedBody];
      ins.run(agentId(seat), s, type, ts, new Date(receivedMs).toISOString(), body);
      if (type.startsWith('usb.')) {
        const k = seat * DEVICES + dev;
        const sg = sightings.get(k);
        const inc = type === 'usb.inserted' ? 1 : 0;
        if (sg) {
          sg.last = ts > sg.last ? ts : sg.last;
          sg.count += inc;
        } else sightings.set(k, { first: ts, last: ts, count: inc });
        const ds = deviceSeen[dev];
        if (ds) ds.last = ts > ds.last ? ts : ds.last;
        else deviceSeen[dev] = { first: ts, last: ts };
      }
    }
  });
  for (let from = 0; from < EVENTS; from += BATCH) {
    load(from, Math.min(EVENTS, from + BATCH));
    if ((from + BATCH) % 1_000_000 === 0) console.log(`  loaded ${(from + BATCH).toLocaleString('en-US')} events (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  console.log(`  events loaded (${((performance.now() - t0) / 1000).toFixed(0)} s); indexing …`);
  for (const ix of indexes) db.exec(ix.sql);
  const seqStmt = db.prepare('UPDATE agents SET last_seq = ? WHERE agent_id = ?');
  const devStmt = db.prepare(`INSERT INTO devices (device_key, vendor_id, product_id, serial, manufacturer, product, hash, first_seen, last_seen)
    VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)`);
  const sightStmt = db.prepare('INSERT INTO device_sightings (device_key, agent_id, first_seen, last_seen, count) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < SEATS; i++) seqStmt.run(seq[i], agentId(i));
    deviceSeen.forEach((d, i) => {
      const dv = devices[i]!;
      if (d) devStmt.run(deviceKey(dv), dv.vendor_id, dv.product_id, dv.serial, dv.manufacturer, dv.product, d.first, d.last);
    });
    for (const [k, sg] of sightings) sightStmt.run(deviceKey(devices[k % DEVICES]!), agentId(Math.floor(k / DEVICES)), sg.first, sg.last, sg.count);
  })();
  // Alerts as the engine would have raised them (one per ~1,000 events), if its table exists.
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alerts'").get()) {
    const insAlert = db.prepare(`INSERT INTO alerts (rule, severity, agent_id, dedup_key, title_zh, title_en, detail_zh, detail_en,
      first_seen, last_seen, created_at, state, resolved_at, resolution_note) VALUES ('usb.blocked', ?, ?, ?, '未授权U盘插入', 'USB storage blocked', '', '', ?, ?, ?, ?, ?, ?)`);
    db.transaction(() => {
      for (let k = 0; k < EVENTS / 1_000; k++) {
        const at = new Date(start + rand() * (END - start)).toISOString();
        const resolved = rand() < 0.9;
        insAlert.run(['low', 'medium', 'high', 'critical'][Math.floor(rand() * 4)], agentId(Math.floor(rand() * SEATS)), `k${k}`, at, at, at, resolved ? 'resolved' : 'open', resolved ? at : null, resolved ? 'bench' : null);
      }
    })();
  }
  db.close();
  console.log(`  applying the remaining migrations (backfills) (${((performance.now() - t0) / 1000).toFixed(0)} s) …`);
  const full = openDatabase(tmp);
  full.exec('ANALYZE');
  full.pragma('wal_checkpoint(TRUNCATE)');
  full.close();
  renameSync(tmp, path);
  for (const f of [`${tmp}-wal`, `${tmp}-shm`]) rmSync(f, { force: true });
  return { seconds: (performance.now() - t0) / 1000 };
}

function measure(name: string, fn: (i: number) => unknown): { name: string; p50: number; p95: number; p99: number; n: number } {
  for (let i = 0; i < Math.min(20, ITERATIONS); i++) fn(i + 1_000_000);
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t = performance.now();
    fn(i);
    times.push(performance.now() - t);
  }
  const s = summarize(times);
  return { name, p50: s.p50, p95: s.p95, p99: s.p99, n: s.n };
}

function run(store: Store) {
  const rand = mulberry32(7);
  const stats = createStatsRepo(store.db);
  const seatQ = ['SH', 'BJ-00', 'Sales', '客服', 'host-12', 'CC-GZ-001'];
  const bySeen = store.db.prepare(`SELECT * FROM agents WHERE seat_name LIKE @p ESCAPE '\\' OR hostname LIKE @p ESCAPE '\\'
    OR agent_id LIKE @p ESCAPE '\\' OR department LIKE @p ESCAPE '\\' ORDER BY last_seen DESC LIMIT 50`);
  const bySeenCount = store.db.prepare(`SELECT count(*) AS n FROM agents WHERE seat_name LIKE @p ESCAPE '\\' OR hostname LIKE @p ESCAPE '\\'
    OR agent_id LIKE @p ESCAPE '\\' OR department LIKE @p ESCAPE '\\'`);
  const timeline = store.db.prepare('SELECT id, agent_id, seq, type, ts, received_at, body FROM events WHERE agent_id = ? ORDER BY seq DESC LIMIT 100');
  const keyOf = (i: number) => deviceKey(makeDevice(i % DEVICES));
  const results = [
    measure('seat list page (q filter, sorted by last_seen, + total)', (i) => {
      const p = `%${seatQ[i % seatQ.length]}%`;
      return [bySeen.all({ p }), bySeenCount.get({ p })];
    }),
    measure('seat list page (API: GET /seats?q=, sorted by name, + total)', (i) => store.agents.list({ q: seatQ[i % seatQ.length] as string, limit: 50, offset: 0 })),
    measure('seat timeline page (latest 100 events of a seat, bodies parsed)', () =>
      (timeline.all(agentId(Math.floor(rand() * SEATS))) as Array<{ body: string }>).map((r) => JSON.parse(r.body) as unknown),
    ),
    measure("device's seen-on list (sightings with seat names)", () => store.devices.seatSightings(keyOf(Math.floor(rand() * DEVICES)), '*')),
    measure("device's history page (latest 100 events carrying it)", () => store.devices.events(keyOf(Math.floor(rand() * DEVICES)), { beforeId: Number.MAX_SAFE_INTEGER, limit: 100, scope: '*' })),
    measure('device list page (sorted by last_seen, + total)', () => store.devices.list({ sort: '-last_seen', limit: 50, offset: 0, scope: '*' })),
    measure('dashboard (counts + 30-day series, Asia/Shanghai)', () => buildDashboard(stats, { now: END, tz: 'Asia/Shanghai', days: 30, scope: '*' })),
    measure('dashboard for a department-scoped user (30 days)', () => buildDashboard(stats, { now: END, tz: 'Asia/Shanghai', days: 30, scope: ['Sales'] })),
  ];
  return results;
}

function main(): void {
  let buildSeconds: number | null = null;
  if (process.argv.includes('--rebuild')) rmSync(DB_PATH, { force: true });
  if (!existsSync(DB_PATH)) {
    console.log(`building ${DB_PATH} (${SEATS} seats, ${EVENTS.toLocaleString('en-US')} events) …`);
    buildSeconds = build(DB_PATH).seconds;
    console.log(`built in ${buildSeconds.toFixed(1)} s`);
  } else {
    console.log(`reusing ${DB_PATH}`);
  }
  const store = openStore(DB_PATH);
  const events = store.events.count();
  const dbBytes = statSync(DB_PATH).size;
  const results = run(store);
  store.close();

  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', mem_gib: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`\nhistory queries on ${SEATS} seats, ${events.toLocaleString('en-US')} events, ${(dbBytes / 2 ** 30).toFixed(2)} GiB file, ${ITERATIONS} runs each (${machine.cpus} × ${machine.cpu})\n`);
  console.log('| query | p50 ms | p95 ms | p99 ms | target p95 |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of results) console.log(`| ${r.name} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.p95 < TARGET_P95_MS ? 'meets' : 'MISSES'} < ${TARGET_P95_MS} |`);

  const out = { at: new Date().toISOString(), quick, seats: SEATS, events, devices: DEVICES, db_bytes: dbBytes, build_seconds: buildSeconds, iterations: ITERATIONS, machine, target_p95_ms: TARGET_P95_MS, results };
  writeFileSync(join(REPO_ROOT, 'test/bench/results-history.json'), JSON.stringify(out, null, 2));
  const figures: Figure[] = results.map((r) => ({ suite: 'history-query', name: `${r.name} p95`, value: Number(r.p95.toFixed(2)), unit: 'ms', limit: { value: TARGET_P95_MS, kind: 'max' } }));
  writeSuiteResult('history-query', figures, { seats: SEATS, events, build_seconds: buildSeconds });
}

main();
