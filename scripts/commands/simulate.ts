import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { systemClock } from '../../shared/clock.js';
import { mulberry32 } from '../../shared/prng.js';
import { AppError, formatError, isAppError } from '../../shared/errors.js';
import { createLogger, silentLogger, type Logger } from '../../shared/logger.js';
import type { LevelWithSilent } from 'pino';
import { createAgent, type Agent } from '../../agent/agent.js';
import { AGENT_VERSION } from '../../agent/config.js';
import { enrollAgent, ensureIdentity, type AgentIdentity } from '../../agent/identity.js';
import { loadDeviceFixtures, type FakeDeviceSpec } from '../../agent/platform/fake/device-spec.js';
import { FakeUsbPlatform } from '../../agent/platform/fake/fake-platform.js';
import { createOutbox, type Outbox } from '../../agent/store/outbox.js';
import { createCollectorClient, type CollectorClient } from '../../agent/transport/collector-client.js';
import { establishCollectorCa, type PinnedCa } from '../../agent/transport/ca-pin.js';
import { caFingerprintOfPem, normalizeCaFingerprint } from '../../shared/ca-fingerprint.js';
import { createEnrollmentService } from '../../collector/enrollment/enrollment-service.js';
import { openStore } from '../../collector/store/store.js';

/**
 * Many simulated seats in one process: each is a real agent (enforcement loop, SQLite outbox, ws
 * client, Ed25519 identity) on its own FakeUsbPlatform, producing seat-like USB traffic from a
 * seeded random source. Bounded in seats and time, loopback collectors only.
 */

/** Hard limits: a simulation is a load test of one local collector, not a tool to flood anything. */
export const SIMULATION_LIMITS = { maxSeats: 2_000, maxDurationS: 3_600 } as const;

export interface SimulatedFleetOptions {
  /** Collector base URL; must be loopback (127.0.0.0/8, ::1, localhost). */
  collectorUrl: string;
  /** The collector CA every seat trusts (required for https; the CLI reads it from --collector-data or pins --ca-fingerprint). */
  ca?: PinnedCa | null;
  /** Number of seats, 1..2000. */
  seats: number;
  /** Seconds of traffic; 0 runs until stop(). Default 60, at most 3600. */
  durationS?: number;
  /** Single-use enrollment tokens (one per seat not yet enrolled), or a factory that makes one. */
  enrollTokens?: readonly string[] | (() => string | Promise<string>);
  /** Per-seat identity + outbox under DIR/seat-NNNN; default: everything in memory. */
  stateDir?: string;
  /** Seed of the traffic generator. Default 1. */
  seed?: number;
  /** Mean time between two actions on one seat, ms. Default 5 000. */
  meanActionIntervalMs?: number;
  /** Connects are spread over this window so the fleet does not arrive at once. Default min(seats·20, 10 000) ms. */
  startSpreadMs?: number;
  /** Device fixtures folder. Default: test/fixtures/devices of this checkout. */
  fixturesDir?: string;
  log?: Logger;
  /** Agent reconnect backoff (defaults 1 000 / 60 000 ms, as in production). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export interface FleetStats {
  seats: number;
  enrolled: number;
  connected: number;
  /** Events appended to outboxes (all seats). */
  eventsQueued: number;
  /** Events still waiting for an ack. */
  outboxDepth: number;
  actions: Record<string, number>;
  enrollFailures: number;
  elapsedMs: number;
}

export interface SimulatedFleet {
  stats(): FleetStats;
  /** Resolves when the duration is over and every seat has stopped. */
  done: Promise<FleetStats>;
  /** Stops every seat now (graceful: agent.stopping is sent when the collector is reachable). */
  stop(): Promise<FleetStats>;
}

interface Seat {
  name: string;
  platform: FakeUsbPlatform;
  outbox: Outbox;
  agent: Agent;
  client: CollectorClient | null;
  timer: NodeJS.Timeout | null;
  rand: () => number;
  serial: number;
}

/** True for loopback hosts only. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Finds test/fixtures/devices by walking up from this file (works from the sources and from dist/). */
export function defaultFixturesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'test', 'fixtures', 'devices');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'device fixtures not found; pass fixturesDir'));
}

function validate(opts: SimulatedFleetOptions): string[] {
  const problems: string[] = [];
  if (!isLoopbackUrl(opts.collectorUrl)) problems.push('collectorUrl must be a loopback URL');
  if (opts.collectorUrl.startsWith('https:') && !opts.ca) problems.push('an https collector needs its CA (--collector-data DIR or --ca-fingerprint)');
  if (!Number.isInteger(opts.seats) || opts.seats < 1 || opts.seats > SIMULATION_LIMITS.maxSeats) {
    problems.push(`seats must be an integer from 1 to ${SIMULATION_LIMITS.maxSeats}`);
  }
  const d = opts.durationS ?? 60;
  if (!Number.isFinite(d) || d < 0 || d > SIMULATION_LIMITS.maxDurationS) problems.push(`duration must be 0..${SIMULATION_LIMITS.maxDurationS} s`);
  const mean = opts.meanActionIntervalMs ?? 5_000;
  if (!Number.isFinite(mean) || mean < 10) problems.push('meanActionIntervalMs must be at least 10');
  return problems;
}

const ACTIONS = [
  { name: 'stick', weight: 35, fixture: 'sandisk-ultra-fit' },
  { name: 'remove', weight: 30, fixture: null },
  { name: 'keyboard', weight: 8, fixture: 'logitech-k120' },
  { name: 'headset', weight: 8, fixture: 'cmedia-headset' },
  { name: 'phone', weight: 8, fixture: 'samsung-mtp-phone' },
  { name: 'composite', weight: 6, fixture: 'composite-hid-storage' },
  { name: 'hostile', weight: 5, fixture: 'hostile-strings' },
] as const;
const TOTAL_WEIGHT = ACTIONS.reduce((n, a) => n + a.weight, 0);
const MAX_DEVICES_PER_SEAT = 6;

/** Starts a simulated fleet; resolves once every seat has been set up (enrolled or failed). */
export async function runSimulatedFleet(opts: SimulatedFleetOptions): Promise<SimulatedFleet> {
  const problems = validate(opts);
  if (problems.length > 0) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', problems.join('; ')), { details: { problems } });
  const log = (opts.log ?? silentLogger()).child({ component: 'simulator' });
  const fixtures = loadDeviceFixtures(opts.fixturesDir ?? defaultFixturesDir());
  const fixture = (name: string): FakeDeviceSpec => {
    const f = fixtures.get(name);
    if (!f) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', `fixture ${name} missing`));
    return structuredClone(f);
  };
  const seed = opts.seed ?? 1;
  const mean = opts.meanActionIntervalMs ?? 5_000;
  const durationMs = (opts.durationS ?? 60) * 1_000;
  const spread = opts.startSpreadMs ?? Math.min(opts.seats * 20, 10_000);
  const startedAt = systemClock.monotonic();
  // Seat names must be unique per collector; in-memory runs get a run id so reruns do not collide.
  const runId = opts.stateDir ? 'seat' : `sim${Math.floor(mulberry32(seed ^ Date.now())() * 1e6).toString(36)}`;
  const actions: Record<string, number> = {};
  let eventsQueued = 0;
  let enrollFailures = 0;
  let stopped = false;
  const seats: Seat[] = [];
  const tokens = Array.isArray(opts.enrollTokens) ? [...(opts.enrollTokens as readonly string[])] : null;
  const nextToken = async (): Promise<string | null> => {
    if (typeof opts.enrollTokens === 'function') return opts.enrollTokens();
    return tokens?.shift() ?? null;
  };

  const ca = opts.collectorUrl.startsWith('https:') ? (opts.ca ?? null) : null;

  async function identityFor(name: string, dir: string | null): Promise<AgentIdentity> {
    if (dir) {
      const token = existsSync(join(dir, 'agent.json')) ? null : await nextToken();
      return ensureIdentity({ stateDir: dir, collectorUrl: opts.collectorUrl, enrollToken: token, hostname: name, platform: 'fake', seatName: name, log: silentLogger(), ca });
    }
    const token = await nextToken();
    if (!token) throw new AppError('AGENT_ERR_ENROLL', formatError('AGENT_ERR_ENROLL', 'no enrollment token left'));
    const e = await enrollAgent({ collectorUrl: opts.collectorUrl, token, hostname: name, platform: 'fake', seatName: name, ca: ca?.pem ?? null });
    return { agentId: e.agentId, collectorUrl: opts.collectorUrl, seatName: e.seatName, privateKey: e.privateKey };
  }

  function act(seat: Seat): void {
    let r = seat.rand() * TOTAL_WEIGHT;
    const action = ACTIONS.find((a) => (r -= a.weight) < 0) ?? ACTIONS[0];
    void seat.platform.listDevices().then((ports) => {
      if (stopped) return;
      // The keyboard and headset present at start stay; only what the simulation plugged is removed.
      const removable = ports.filter((p) => p !== '1-1' && p !== '1-2');
      if (action.name === 'remove' || ports.length >= MAX_DEVICES_PER_SEAT) {
        const victim = removable[Math.floor(seat.rand() * removable.length)];
        if (victim) {
          seat.platform.remove(victim);
          actions.remove = (actions.remove ?? 0) + 1;
        }
        return;
      }
      const spec = fixture(action.fixture ?? 'sandisk-ultra-fit');
      if (action.name === 'stick' || action.name === 'composite') spec.serial = `SIM${(seat.serial++).toString().padStart(8, '0')}`;
      if (action.name === 'hostile') spec.product = `${spec.product ?? ''}${'\u0007<b>X</b>'.repeat(1 + Math.floor(seat.rand() * 2000))}`;
      try {
        seat.platform.insert(spec);
        actions[action.name] = (actions[action.name] ?? 0) + 1;
      } catch (err) {
        log.debug({ err }, 'simulated insert skipped');
      }
    });
  }

  function schedule(seat: Seat): void {
    if (stopped) return;
    // Exponential inter-arrival times: a Poisson process per seat.
    const wait = Math.min(mean * 20, -Math.log(1 - seat.rand()) * mean);
    seat.timer = setTimeout(() => {
      act(seat);
      schedule(seat);
    }, wait);
    seat.timer.unref();
  }

  async function startSeat(i: number): Promise<void> {
    const name = `${runId}-${String(i + 1).padStart(4, '0')}`;
    const dir = opts.stateDir ? join(opts.stateDir, name) : null;
    if (dir) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const platform = new FakeUsbPlatform();
    platform.insert(fixture('logitech-k120'), { port: '1-1' });
    platform.insert(fixture('cmedia-headset'), { port: '1-2' });
    const outbox = createOutbox({ path: dir ? join(dir, 'outbox.db') : ':memory:' });
    outbox.onAppend(() => eventsQueued++);
    const agent = createAgent({ platform: { name: 'fake', usb: platform }, outbox, log: silentLogger(), clock: systemClock, config: { resyncIntervalMs: 30_000, flushTimeoutMs: 2_000 } });
    const seat: Seat = { name, platform, outbox, agent, client: null, timer: null, rand: mulberry32(seed * 1_000_003 + i), serial: 1 };
    seats.push(seat);
    await agent.start();
    let identity: AgentIdentity;
    try {
      identity = await identityFor(name, dir);
    } catch (err) {
      enrollFailures++;
      log.warn({ err, seat: name }, 'simulated seat could not enroll; it enforces but does not report');
      return;
    }
    const client = createCollectorClient({
      collectorUrl: opts.collectorUrl,
      ca,
      identity,
      outbox,
      log: silentLogger(),
      hello: { agent_version: AGENT_VERSION, platform: 'fake', hostname: name },
      lockState: () => agent.lockState(),
      ...(opts.backoffBaseMs === undefined ? {} : { backoffBaseMs: opts.backoffBaseMs }),
      ...(opts.backoffCapMs === undefined ? {} : { backoffCapMs: opts.backoffCapMs }),
    });
    seat.client = client;
    agent.connect(client);
    schedule(seat);
  }

  const setups: Array<Promise<void>> = [];
  for (let i = 0; i < opts.seats && !stopped; i++) {
    setups.push(startSeat(i).catch((err: unknown) => log.error({ err }, 'simulated seat failed to start')));
    if (spread > 0 && opts.seats > 1) await new Promise((r) => setTimeout(r, spread / opts.seats));
  }
  await Promise.all(setups);
  log.info({ seats: seats.length, enroll_failures: enrollFailures }, 'simulated fleet running');

  const stats = (): FleetStats => ({
    seats: seats.length,
    enrolled: seats.filter((s) => s.client).length,
    connected: seats.filter((s) => s.client?.status().ready).length,
    eventsQueued,
    outboxDepth: seats.reduce((n, s) => n + s.outbox.depth(), 0),
    actions: { ...actions },
    enrollFailures,
    elapsedMs: Math.round(systemClock.monotonic() - startedAt),
  });

  let resolveDone!: (s: FleetStats) => void;
  const done = new Promise<FleetStats>((r) => (resolveDone = r));
  let stopping: Promise<FleetStats> | null = null;
  let endTimer: NodeJS.Timeout | null = null;
  const stop = (): Promise<FleetStats> => {
    stopping ??= (async () => {
      stopped = true;
      if (endTimer) clearTimeout(endTimer);
      for (const s of seats) if (s.timer) clearTimeout(s.timer);
      await Promise.all(seats.map((s) => s.agent.stop('simulation finished').catch(() => undefined)));
      const final = stats();
      for (const s of seats) s.outbox.close();
      log.info({ ...final }, 'simulated fleet stopped');
      resolveDone(final);
      return final;
    })();
    return stopping;
  };
  if (durationMs > 0) endTimer = setTimeout(() => void stop(), Math.max(0, durationMs - (systemClock.monotonic() - startedAt)));
  return { stats, done, stop };
}

interface SimulateCliOptions {
  collector: string;
  seats: string;
  duration: string;
  enrollToken?: string[];
  enrollTokensFile?: string;
  collectorData?: string;
  state?: string;
  seed: string;
  meanIntervalMs: string;
  logLevel: string;
  caFingerprint?: string;
  insecureDev?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * `seatguard simulate --collector URL --seats N [--duration S] [--enroll-token T ...]
 * [--enroll-tokens-file F | --collector-data DIR] [--state DIR] [--seed N]`.
 */
export function registerSimulateCommand(program: Command): Command {
  return program
    .command('simulate')
    .description('run N simulated seats (fake USB platform) against a local collector')
    .requiredOption('--collector <url>', 'collector base URL (loopback only)')
    .requiredOption('--seats <n>', `number of seats (1-${SIMULATION_LIMITS.maxSeats})`)
    .option('--duration <s>', `seconds of traffic, 0 = until Ctrl-C (max ${SIMULATION_LIMITS.maxDurationS})`, '60')
    .option('--enroll-token <token>', 'single-use enrollment token; repeat once per seat', collect)
    .option('--enroll-tokens-file <file>', 'file with one enrollment token per line')
    .option('--collector-data <dir>', "mint tokens directly in a local collector's data dir (same machine)")
    .option('--state <dir>', 'keep per-seat identity and outbox here (reruns reuse the enrollment)')
    .option('--seed <n>', 'traffic seed', '1')
    .option('--mean-interval-ms <ms>', 'mean time between two actions on one seat', '5000')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
    .option('--ca-fingerprint <sha256>', 'pin the collector CA (default with --collector-data: DIR/tls/ca.pem)')
    .option('--insecure-dev', 'allow an http:// collector (development only)')
    .action(async (o: SimulateCliOptions, cmd: Command) => {
      const log = createLogger({ level: o.logLevel as LevelWithSilent, name: 'seatguard-simulate' });
      let enrollTokens: SimulatedFleetOptions['enrollTokens'] = [
        ...(o.enrollToken ?? []),
        ...(o.enrollTokensFile ? readFileSync(o.enrollTokensFile, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean) : []),
      ];
      let closeStore: (() => void) | null = null;
      if (o.collectorData) {
        const store = openStore(join(o.collectorData, 'collector.db'));
        const service = createEnrollmentService({ store, clock: systemClock, log: silentLogger() });
        enrollTokens = () => service.createToken({ ttlMs: 3_600_000 });
        closeStore = () => store.close();
      }
      let fleet: SimulatedFleet;
      try {
        const ca = await simulatorCa(o, log);
        fleet = await runSimulatedFleet({
          collectorUrl: o.collector,
          ca,
          seats: Number(o.seats),
          durationS: Number(o.duration),
          enrollTokens,
          ...(o.state ? { stateDir: o.state } : {}),
          seed: Number(o.seed),
          meanActionIntervalMs: Number(o.meanIntervalMs),
          log,
        });
      } catch (err) {
        closeStore?.();
        const code = isAppError(err) ? err.code : 'CLI_ERR_USAGE';
        cmd.error(`${code}: ${err instanceof Error ? err.message : String(err)}`, { exitCode: 2, code });
      }
      const progress = setInterval(() => log.info({ ...fleet.stats() }, 'simulation progress'), 10_000);
      progress.unref();
      const onSignal = () => void fleet.stop();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const final = await fleet.done;
      clearInterval(progress);
      closeStore?.();
      console.log(JSON.stringify(final, null, 2));
      process.exit(0);
    });
}

/** The CA simulated seats trust: pinned by --ca-fingerprint, else the one in --collector-data DIR/tls. */
async function simulatorCa(o: SimulateCliOptions, log: Logger): Promise<PinnedCa | null> {
  const url = o.collector.replace(/\/+$/, '');
  if (url.startsWith('http:')) {
    if (!o.insecureDev) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', 'the collector URL is http:// (unencrypted); use https:// or pass --insecure-dev'));
    return null;
  }
  const pin = o.caFingerprint === undefined ? null : normalizeCaFingerprint(o.caFingerprint);
  if (o.caFingerprint !== undefined && !pin) throw new AppError('CONFIG_ERR_INVALID', formatError('CONFIG_ERR_INVALID', '--ca-fingerprint is not a SHA-256 fingerprint'));
  const caFile = o.collectorData ? join(o.collectorData, 'tls', 'ca.pem') : null;
  if (caFile && existsSync(caFile) && !pin) {
    const pem = readFileSync(caFile, 'utf8');
    return { pem, fingerprint: caFingerprintOfPem(pem) };
  }
  return establishCollectorCa({ collectorUrl: url, stateDir: null, pin, log });
}
