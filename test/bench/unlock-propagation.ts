/**
 * Unlock propagation: how long from a maintainer's approval (POST /api/v1/unlock-requests/:id/approve)
 * until the seat's (fake) kernel attribute says the stick's storage interface is authorized, with N
 * seats connected to one collector. Target: p95 < 1 s.
 *
 *   npm run build && node dist/test/bench/unlock-propagation.js --seats 1000 [--samples 200] [--concurrency 8]
 *
 * The collector is the built CLI in its own process (its own core on the 2-core machine); the seats
 * are real agents in this process on the fake platform, outbox and grant table in memory. Each
 * sampled seat gets a stick, a duty officer raises a request for it through the API, a maintainer
 * approves it (approval by a maintainer executes the grant at once). Results are merged into
 * test/bench/results-unlock.json under the seat count.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fakeDeviceHash, type FakeDeviceSpec } from '../../agent/platform/fake/device-spec.js';
import { runUserAdd } from '../../scripts/commands/user.js';
import { createEnrollmentTokens, login, REPO_ROOT, startCollectorProcess, summarize } from './unlock/collector-process.js';
import { startFleet, stopFleet, type BenchSeat } from './unlock/seat-fleet.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

const seatsWanted = arg('seats', 1000);
const samples = Math.min(seatsWanted, arg('samples', 200));
const concurrency = arg('concurrency', 8);
const TIMEOUT_MS = 30_000;
const PASSWORD = 'bench-password-0123';
const RESULTS = join(REPO_ROOT, 'test/bench/results-unlock.json');

const stickFor = (i: number): FakeDeviceSpec => ({
  description: 'benchmark stick',
  vendor_id: '0781',
  product_id: '5583',
  bcd_device: '0100',
  manufacturer: 'SanDisk',
  product: 'Ultra Fit',
  serial: `BENCH${String(i).padStart(8, '0')}`,
  connect_type: 'hotplug',
  interfaces: [{ number: 0, class: 8, subclass: 6, protocol: 0x50 }],
});

async function api<T>(url: string, token: string, path: string, body: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T };
}

async function pool<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        await fn(items[i] as T, i);
      }
    }),
  );
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'sg-bench-unlock-'));
const runId = Date.now().toString(36);
let fleet: BenchSeat[] = [];
const collector = await startCollectorProcess(dataDir);

try {
  const tokens = createEnrollmentTokens(dataDir, seatsWanted);
  const t0 = performance.now();
  fleet = await startFleet(collector.url, tokens, runId);
  const connectS = (performance.now() - t0) / 1000;
  console.log(`${fleet.length} seats enrolled and connected in ${connectS.toFixed(1)} s`);
  // The two accounts the workflow needs, made as `seatguard user add` makes them (password on stdin).
  for (const [username, role] of [
    ['duty01', 'duty'],
    ['maint01', 'maintainer'],
  ] as const) {
    const errors: string[] = [];
    const io = { out: { write: () => true }, err: { write: (s: string) => errors.push(s) > 0 }, stdin: Readable.from([`${PASSWORD}\n`]) };
    const code = await runUserAdd({ data: dataDir, username, roles: [role], departments: [], allDepartments: true }, io);
    if (code !== 0) throw new Error(`user add ${username}: ${errors.join('')}`);
  }
  const duty = await login(collector.url, 'duty01', PASSWORD);
  const maint = await login(collector.url, 'maint01', PASSWORD);

  // Evenly spread sample of seats, each with a blocked stick on port 1-2.
  const step = fleet.length / samples;
  const sampled = Array.from({ length: samples }, (_, i) => fleet[Math.floor(i * step)] as BenchSeat);
  sampled.forEach((s, i) => s.platform.insert(stickFor(i), { port: '1-2' }));
  await waitFor(() => sampled.every((s) => s.platform.interfaceState('1-2:1.0')?.authorized === false && s.outbox.depth() === 0), 60_000, 'sticks blocked and reported');

  const requestIds: string[] = [];
  await pool(sampled, concurrency, async (s, i) => {
    const spec = stickFor(i);
    const r = await api<{ id: string }>(collector.url, duty, '/unlock-requests', {
      agent_id: s.agentId,
      device: { vendor_id: spec.vendor_id, product_id: spec.product_id, serial: spec.serial, hash: fakeDeviceHash(spec), port: '1-2' },
      reason: 'benchmark: copy the call report',
      duration_ms: 30 * 60_000,
    });
    if (r.status !== 201) throw new Error(`request for ${s.name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    requestIds[i] = r.json.id;
  });

  const propagation: number[] = [];
  const approveHttp: number[] = [];
  let lost = 0;
  await pool(sampled, concurrency, async (s, i) => {
    const authorized = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), TIMEOUT_MS);
      s.onAuthorized = (iface, at) => {
        if (iface !== '1-2:1.0') return;
        clearTimeout(timer);
        resolve(at);
      };
    });
    const start = performance.now();
    const r = await api<{ state: string }>(collector.url, maint, `/unlock-requests/${requestIds[i]}/approve`, { note: 'benchmark' });
    approveHttp.push(performance.now() - start);
    if (r.status !== 200 || r.json.state !== 'active') throw new Error(`approve ${requestIds[i]}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    const at = await authorized;
    s.onAuthorized = null;
    if (at === null) lost++;
    else propagation.push(at - start);
  });

  const round = (v: ReturnType<typeof summarize>) => ({ n: v.n, p50: +v.p50.toFixed(1), p95: +v.p95.toFixed(1), p99: +v.p99.toFixed(1), max: +v.max.toFixed(1) });
  const p = round(summarize(propagation));
  const h = round(summarize(approveHttp));
  const rssMiB = Math.round(process.memoryUsage().rss / 1024 / 1024);
  const row = (name: string, v: ReturnType<typeof summarize>) =>
    `${name.padEnd(38)} ${String(v.n).padStart(6)} ${v.p50.toFixed(1).padStart(8)} ${v.p95.toFixed(1).padStart(8)} ${v.p99.toFixed(1).padStart(8)} ${v.max.toFixed(1).padStart(8)}`;
  console.log(`\nunlock propagation with ${fleet.length} seats connected (${samples} approvals, ${concurrency} at a time), ms`);
  console.log(`${'measure'.padEnd(38)} ${'n'.padStart(6)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
  console.log(row('approve → storage authorized at seat', p));
  console.log(row('approve HTTP round trip', h));
  console.log(`lost (not authorized within ${TIMEOUT_MS / 1000} s): ${lost}; target p95 < 1000 ms: ${p.p95 < 1000 ? 'met' : 'NOT met'}; seats process RSS ${rssMiB} MiB`);

  const previous: unknown = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : null;
  const runs = typeof previous === 'object' && previous !== null && 'runs' in previous && typeof previous.runs === 'object' && previous.runs !== null ? previous.runs : {};
  writeFileSync(
    RESULTS,
    `${JSON.stringify(
      {
        benchmark: 'unlock-propagation',
        target: { p95_ms: 1000 },
        runs: {
          ...runs,
          [String(fleet.length)]: {
            at: new Date().toISOString(),
            seats: fleet.length,
            approvals: samples,
            concurrency,
            connect_s: Number(connectS.toFixed(1)),
            approve_to_authorized_ms: p,
            approve_http_ms: h,
            lost,
            seats_process_rss_mib: rssMiB,
            node: process.version,
          },
        },
      },
      null,
      2,
    )}\n`,
  );
  console.log(`results merged into ${RESULTS}`);
} finally {
  await stopFleet(fleet);
  await collector.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
