import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../shared/prng.js';
import { createEnrollmentService } from '../../collector/enrollment/enrollment-service.js';
import { openStore } from '../../collector/store/store.js';
import { silentLogger } from '../../shared/logger.js';
import { systemClock } from '../../shared/clock.js';
import { deviceFixture } from '../helpers/fake-agent.js';
import { killAllGroups, spawnGroup, waitUntil, type GroupProc } from '../helpers/fault-procs.js';
import { buildOnce, freePort, runCli } from '../helpers/spawn.js';

// Issue #6, "fault injection, as child processes on loopback": 20 real agents (fake USB platform,
// driven through stdin) and a real collector. While the seats generate ≥ 50 000 events, the
// collector is SIGKILLed at seeded random moments and restarted on the same port and data dir, and
// agents are SIGKILLed and restarted. Afterwards every seq an agent assigned must be stored exactly
// once, in order, and the audit chain must verify. Reproduce a run with SEATGUARD_FAULT_SEED=<seed>.

/**
 * How the children talk: 'tls' (the CLI default: https/wss, agents pin the collector CA) or
 * 'insecure-dev' (plain http/ws). The two argument builders below are the only places it acts.
 */
const TRANSPORT = 'tls' as 'insecure-dev' | 'tls';

const SEATS = 20;
const EVENTS_PER_SEAT = 2_500;
const TOTAL_EVENTS = SEATS * EVENTS_PER_SEAT;
const COLLECTOR_KILLS = 6;
const AGENT_KILLS = 8;
// A storage stick: usb.inserted + usb.blocked on insert, usb.removed on removal.
const EVENTS_PER_CYCLE = 3;
const PRODUCE_DEADLINE_MS = 120_000;
const DRAIN_DEADLINE_MS = 45_000;

const AGENT_LOGS = ['usb lock started', 'collector session ready', 'fake burst finished', 'fake burst stopped'];
// 'batch committed' (debug) carries how many events of a batch were new: the rest are replays.
const COLLECTOR_LOGS = ['collector listening', 'agent session ready', 'batch committed'];

function collectorArgs(dataDir: string, port: number): string[] {
  return [
    'collector', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--log-level', 'debug',
    ...(TRANSPORT === 'insecure-dev' ? ['--insecure-dev'] : []),
  ];
}

function agentArgs(url: string, stateDir: string, seatName: string, firstStart: { token: string; caFingerprint: string | null } | null): string[] {
  return [
    'agent', '--collector', url, '--state', stateDir, '--seat-name', seatName,
    '--platform', 'fake', '--fake-stdin', '--log-level', 'info',
    '--backoff-base-ms', '20', '--backoff-cap-ms', '300', '--resync-interval-ms', '0', '--flush-timeout-ms', '15000',
    ...(TRANSPORT === 'insecure-dev' ? ['--insecure-dev'] : []),
    ...(firstStart ? ['--enroll-token', firstStart.token] : []),
    ...(firstStart?.caFingerprint ? ['--ca-fingerprint', firstStart.caFingerprint] : []),
  ];
}

/** sha256:<hex> over the DER of the collector's CA, as an agent pins it. */
function caFingerprint(dataDir: string): string {
  const der = new X509Certificate(readFileSync(join(dataDir, 'tls', 'ca.pem'))).raw;
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

/** The agent's own record of what it assigned: highest seq ever and rows not yet acknowledged. */
function readOutbox(stateDir: string): { lastSeq: number; depth: number } | null {
  const path = join(stateDir, 'outbox.db');
  if (!existsSync(path)) return null;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const lastSeq = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'last_seq'").get()?.value ?? 0;
      const depth = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox').get()?.n ?? 0;
      return { lastSeq, depth };
    } finally {
      db.close();
    }
  } catch {
    // Mid-creation or mid-recovery after a SIGKILL: the next poll reads it.
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seat {
  name: string;
  state: string;
  token: string;
  /** Every process this seat has had; the last one is current. */
  procs: GroupProc[];
  kills: number;
  lastSeq: number;
}

const roots: string[] = [];
afterEach(async () => {
  await killAllGroups();
});
afterAll(() => {
  if (process.env.SEATGUARD_FAULT_KEEP) return;
  for (const d of roots.splice(0)) rmSync(d, { recursive: true, force: true });
});
beforeAll(() => buildOnce(), 120_000);

describe('fault injection: 20 seats, collector and agents SIGKILLed', () => {
  it('stores every assigned event exactly once and in per-agent order, and the audit chain verifies', async () => {
    const started = Date.now();
    const seed = process.env.SEATGUARD_FAULT_SEED ? Number(process.env.SEATGUARD_FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
    console.log(`fault-injection seed=${seed} transport=${TRANSPORT} (rerun with SEATGUARD_FAULT_SEED=${seed})`);
    const collectorRng = mulberry32(seed);
    const agentRng = mulberry32(seed ^ 0x5bd1e995);

    const root = mkdtempSync(join(tmpdir(), 'sg-fault-'));
    roots.push(root);
    const data = join(root, 'collector');
    const port = await freePort();
    const url = `${TRANSPORT === 'tls' ? 'https' : 'http'}://127.0.0.1:${port}`;

    let collectorKills = 0;
    const collectorLives: GroupProc[] = [];
    async function startCollector(): Promise<GroupProc> {
      const c = spawnGroup(`collector#${collectorLives.length + 1}`, collectorArgs(data, port), { track: COLLECTOR_LOGS });
      collectorLives.push(c);
      try {
        await waitUntil('collector listening', () => c.count('collector listening') > 0 || !c.alive(), 30_000);
      } catch (err) {
        throw new Error(`${String(err)}\n${c.tail()}`, { cause: err });
      }
      if (!c.alive()) throw new Error(`collector exited at start (${String(await c.exited)})\n${c.tail()}`);
      return c;
    }
    let collector = await startCollector();

    // Enrollment tokens minted in the local data dir, as `seatguard simulate --collector-data` does
    // (a `token create` process per seat would cost ~1 s of CPU each on this machine).
    const fingerprint = TRANSPORT === 'tls' ? caFingerprint(data) : null;
    const store = openStore(join(data, 'collector.db'));
    const seats: Seat[] = [];
    try {
      const enrollment = createEnrollmentService({ store, clock: systemClock, log: silentLogger() });
      for (let i = 1; i <= SEATS; i++) {
        const name = `fault-seat-${String(i).padStart(2, '0')}`;
        const state = join(root, name);
        mkdirSync(state, { mode: 0o700 });
        seats.push({ name, state, token: enrollment.createToken({ ttlMs: 3_600_000 }), procs: [], kills: 0, lastSeq: 0 });
      }
    } finally {
      store.close();
    }

    const current = (s: Seat): GroupProc | undefined => s.procs.at(-1);
    function startAgent(s: Seat, enroll: boolean): GroupProc {
      const p = spawnGroup(`${s.name}#${s.procs.length + 1}`, agentArgs(url, s.state, s.name, enroll ? { token: s.token, caFingerprint: fingerprint } : null), {
        stdin: true,
        track: AGENT_LOGS,
      });
      s.procs.push(p);
      return p;
    }
    for (const s of seats) startAgent(s, true);
    // Enrollment is not part of the fault model: chaos starts once every seat holds its identity.
    await waitUntil('every seat enrolled and connected', () => seats.every((s) => (current(s)?.count('collector session ready') ?? 0) > 0), 60_000, 100);
    const enrolledAt = Date.now();

    const refresh = (s: Seat) => {
      const o = readOutbox(s.state);
      if (o && o.lastSeq > s.lastSeq) s.lastSeq = o.lastSeq;
      return o;
    };

    let failure: unknown = null;
    // Agents the chaos loop killed; any other agent that dies fails the test.
    const chaosKilled = new Set<GroupProc>();
    const deadline = enrolledAt + PRODUCE_DEADLINE_MS;
    const remaining = () => Math.max(1, deadline - Date.now());

    // Each seat runs bursts until its outbox has assigned EVENTS_PER_SEAT seqs. A burst cut short by
    // a SIGKILL loses its unprocessed cycles; the next process gets a burst for what is missing.
    const device = deviceFixture('sandisk-ultra-fit');
    async function drive(s: Seat): Promise<void> {
      while (failure === null) {
        refresh(s);
        if (s.lastSeq >= EVENTS_PER_SEAT) return;
        const p = current(s);
        if (p && !p.alive() && !chaosKilled.has(p)) throw new Error(`${p.name} exited on its own (${String(await p.exited)})\n${p.tail()}`);
        if (!p?.alive() || p.count('usb lock started') === 0) {
          if (Date.now() > deadline) {
            throw new Error(`${s.name}: no started agent before the deadline (${p ? `${p.name} alive=${p.alive()}` : 'none'}, last_seq ${s.lastSeq})\n${p?.tail() ?? ''}`);
          }
          await sleep(50);
          continue;
        }
        const ended = p.count('fake burst finished') + p.count('fake burst stopped');
        const cycles = Math.ceil((EVENTS_PER_SEAT - s.lastSeq) / EVENTS_PER_CYCLE);
        p.send(JSON.stringify({ op: 'burst', count: cycles, device }));
        await waitUntil(`${s.name}: burst of ${cycles} to end`, () => failure !== null || !p.alive() || p.count('fake burst finished') + p.count('fake burst stopped') > ended, remaining(), 50);
      }
    }

    // A collector kill comes once a random number of seats (0..all) is back on this collector life,
    // plus a random delay: some kills land in the reconnect storm (mid hello/welcome), others in the
    // middle of steady streaming.
    async function collectorChaos(): Promise<void> {
      for (let k = 0; k < COLLECTOR_KILLS && failure === null; k++) {
        const back = Math.floor(collectorRng() * (SEATS + 1));
        // Bounded: on a loaded machine the kill simply comes with fewer seats back.
        await waitUntil(`${back} seats back on the collector`, () => failure !== null || collector.count('agent session ready') >= back, Math.min(20_000, remaining())).catch(() => undefined);
        await sleep(Math.floor(collectorRng() * 1_500));
        if (failure !== null) return;
        expect(await collector.stop('SIGKILL')).toBe('SIGKILL');
        collectorKills++;
        await sleep(50 + Math.floor(collectorRng() * 700));
        collector = await startCollector();
      }
    }

    let agentKills = 0;
    async function agentChaos(): Promise<void> {
      for (let k = 0; k < AGENT_KILLS && failure === null; k++) {
        await sleep(500 + Math.floor(agentRng() * 3_500));
        const running = seats.filter((s) => current(s)?.alive());
        const victim = running[Math.floor(agentRng() * running.length)];
        if (!victim || failure !== null) continue;
        const proc = current(victim);
        if (proc) chaosKilled.add(proc);
        expect(await proc?.stop('SIGKILL')).toBe('SIGKILL');
        victim.kills++;
        agentKills++;
        await sleep(Math.floor(agentRng() * 600));
        startAgent(victim, false);
      }
    }

    const guard = (p: Promise<void>) =>
      p.catch((err: unknown) => {
        failure ??= err;
        throw err;
      });
    await Promise.all([guard(collectorChaos()), guard(agentChaos()), ...seats.map((s) => guard(drive(s)))]);
    const producedAt = Date.now();

    // Everything is back: wait for every outbox to drain, then stop gracefully (agent.stopping is
    // the last event of each seat and must arrive too).
    expect(collector.alive()).toBe(true);
    expect(seats.every((s) => current(s)?.alive())).toBe(true);
    await waitUntil(
      'every outbox drained',
      () => seats.every((s) => refresh(s)?.depth === 0),
      DRAIN_DEADLINE_MS,
      250,
    ).catch((err: unknown) => {
      const depths = seats.map((s) => `${s.name}=${readOutbox(s.state)?.depth ?? '?'}`).join(' ');
      throw new Error(`${String(err)}: ${depths}\n${seats.map((s) => current(s)?.tail() ?? '').join('\n')}\n${collector.tail()}`, { cause: err });
    });
    const exits = await Promise.all(seats.map((s) => current(s)?.stop('SIGTERM', 30_000)));
    expect(exits).toEqual(seats.map(() => 0));
    expect(await collector.stop('SIGTERM', 30_000)).toBe(0);
    const drainedAt = Date.now();

    // The oracle: each agent's outbox says which seqs it assigned (1..last_seq, all acknowledged);
    // the collector must hold exactly those, once each, stored in seq order.
    const db = new Database(join(data, 'collector.db'), { readonly: true, fileMustExist: true });
    let stored = 0;
    try {
      const agentRows = db.prepare<[], { agent_id: string; seat_name: string }>('SELECT agent_id, seat_name FROM agents ORDER BY seat_name').all();
      expect(agentRows.map((r) => r.seat_name)).toEqual(seats.map((s) => s.name));
      const seqsOf = db.prepare<[string], number>('SELECT seq FROM events WHERE agent_id = ? ORDER BY id').pluck();
      for (const s of seats) {
        const { agent_id: agentId } = JSON.parse(readFileSync(join(s.state, 'agent.json'), 'utf8')) as { agent_id: string };
        expect(agentRows.find((r) => r.seat_name === s.name)?.agent_id).toBe(agentId);
        const outbox = readOutbox(s.state);
        expect(outbox?.depth, s.name).toBe(0);
        const lastSeq = outbox?.lastSeq ?? -1;
        expect(lastSeq, s.name).toBeGreaterThanOrEqual(EVENTS_PER_SEAT);
        const seqs = seqsOf.all(agentId);
        // Position i must hold seq i+1: a gap, a duplicate or a reorder shows as the first mismatch.
        const firstBad = seqs.findIndex((seq, i) => seq !== i + 1);
        const mismatch = firstBad === -1 ? null : { expectedSeq: firstBad + 1, storedSeq: seqs[firstBad] };
        expect({ seat: s.name, count: seqs.length, mismatch }).toEqual({ seat: s.name, count: lastSeq, mismatch: null });
        stored += seqs.length;
      }
      expect(db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events').get()?.n).toBe(stored);
    } finally {
      db.close();
    }
    expect(stored).toBeGreaterThanOrEqual(TOTAL_EVENTS);

    const verify = runCli(['audit', 'verify', '--data', data]);
    expect(verify.status, `${verify.stdout}\n${verify.stderr}`).toBe(0);

    // Replays: events the collector received again after it had stored them (deduped on
    // (agent, seq)). Backlog: outbox rows waiting at a session start (sent again or for the first
    // time). Acks lost: rows the collector had stored whose ack never reached the agent.
    const batches = collectorLives.flatMap((c) => c.lines('batch committed'));
    const replays = batches.reduce((n, l) => n + Number(l.batch ?? 0) - Number(l.stored ?? 0), 0);
    const sessions = seats.flatMap((s) => s.procs.flatMap((p) => p.lines('collector session ready')));
    const backlog = sessions.reduce((n, l) => n + Number(l.depth ?? 0), 0);
    const ackLost = sessions.reduce((n, l) => n + Number(l.dropped ?? 0), 0);
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    console.log(
      `fault-injection summary: seed=${seed} transport=${TRANSPORT} events=${stored} seats=${SEATS} ` +
        `collector_kills=${collectorKills} agent_kills=${agentKills} (${seats.filter((s) => s.kills > 0).length} seats) sessions=${sessions.length} ` +
        `replays=${replays} (in ${batches.length} commits) backlog_at_session_start=${backlog} acks_lost=${ackLost} ` +
        `elapsed=${secs(Date.now() - started)}s (enroll ${secs(enrolledAt - started)}s, produce ${secs(producedAt - enrolledAt)}s, drain+stop ${secs(drainedAt - producedAt)}s)`,
    );
    expect(collectorKills).toBeGreaterThanOrEqual(5);
    expect(agentKills).toBeGreaterThanOrEqual(3);
  }, 170_000);
});
