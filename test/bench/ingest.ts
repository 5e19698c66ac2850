/**
 * Ingest: events per second stored and acknowledged by a collector (child process) from N raw
 * agents over loopback, against the ceiling of raw better-sqlite3 batched inserts of the same rows
 * into the same schema and pragmas, measured in this run. Over wss and over ws when the collector
 * serves TLS, reported side by side as a ratio.
 *   node dist/test/bench/ingest.js [--agents 20] [--events 5000] [--wss-first]
 */
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateAgentKeyPair } from '../../shared/protocol/agent-auth.js';
import { openStore } from '../../collector/store/store.js';
import { collectorHasTls, cpuSeconds, createTokens, enrollRaw, RawConnection, readArg, rssMiB, startCollectorProcess, tempDir, writeSuiteResult, type Figure, type Transport } from './lib.js';

const agents = readArg('agents', 20);
const perAgent = readArg('events', 5000);
const total = agents * perAgent;

function ceiling(): { rate: number; cpuUsPerRow: number } {
  const dir = tempDir('sg-bench-ceiling-');
  const store = openStore(join(dir, 'seatguard.db'));
  const db = store.db;
  const addAgent = db.prepare(
    "INSERT INTO agents (agent_id, seat_name, hostname, platform, public_key, enrolled_at) VALUES (?, ?, ?, 'fake', 'x', ?)",
  );
  for (let a = 0; a < agents; a++) addAgent.run(`agt_${a}`, `seat-${a}`, `seat-${a}`, new Date().toISOString());
  const insert = db.prepare('INSERT OR IGNORE INTO events (agent_id, seq, type, ts, received_at, body) VALUES (?, ?, ?, ?, ?, ?)');
  const conn = new RawConnection();
  const bodies = Array.from({ length: 1000 }, () => JSON.stringify((JSON.parse(conn.nextEvent()) as { body: unknown }).body));
  const batch = db.transaction((rows: Array<[string, number]>) => {
    const now = new Date().toISOString();
    for (const [agent, seq] of rows) insert.run(agent, seq, 'usb.blocked', now, now, bodies[seq % 1000]!);
  });
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let rows: Array<[string, number]> = [];
  for (let seq = 1; seq <= perAgent; seq++) {
    for (let a = 0; a < agents; a++) {
      rows.push([`agt_${a}`, seq]);
      if (rows.length === 500) {
        batch.immediate(rows);
        rows = [];
      }
    }
  }
  if (rows.length) batch.immediate(rows);
  const secs = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  store.close();
  return { rate: total / secs, cpuUsPerRow: (cpu.user + cpu.system) / total };
}

async function live(transport: Transport): Promise<{ transport: Transport; rate: number; rssMiB: number; cpuUsPerEvent: number }> {
  const c = await startCollectorProcess({ transport });
  try {
    const tokens = createTokens(c.dataDir, agents);
    const conns: RawConnection[] = [];
    for (let a = 0; a < agents; a++) conns.push(await RawConnection.open(c.url, await enrollRaw(c.url, tokens[a]!, `bench-${a}`, c.ca), c.ca));
    const start = performance.now();
    const cpu0 = cpuSeconds(c.child.pid!);
    await Promise.all(conns.map((conn) => conn.sendAll(perAgent, 500)));
    const secs = (performance.now() - start) / 1000;
    const cpuUsPerEvent = ((cpuSeconds(c.child.pid!) - cpu0) * 1e6) / total;
    const rss = rssMiB(c.child.pid!);
    for (const conn of conns) conn.close();
    // c.transport: what the collector actually served (a TLS-by-default build without --insecure-dev serves wss).
    return { transport: c.transport, rate: total / secs, rssMiB: rss, cpuUsPerEvent };
  } finally {
    await c.stop();
  }
}

/**
 * The same load against ingest-floor-server.ts (TLS, frames, decode, insert, ack; nothing else),
 * as its own process: the most any collector of this design can do on this machine.
 */
async function floor(transport: Transport): Promise<{ rate: number; cpuUsPerEvent: number }> {
  const dataDir = tempDir('sg-bench-floor-');
  const args = [join(import.meta.dirname, 'ingest-floor-server.js'), '--data', dataDir, ...(transport === 'ws' ? ['--plain'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout });
      lines.on('line', (l) => {
        const m = /^listening (\S+)$/.exec(l);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`floor server exited ${code}`)));
    });
    const ca = transport === 'wss' ? [readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8')] : undefined;
    const key = createPrivateKey(generateAgentKeyPair().privateKeyPem);
    const conns: RawConnection[] = [];
    for (let a = 0; a < agents; a++) conns.push(await RawConnection.open(url, { agentId: `floor-${a}`, privateKey: key }, ca));
    const start = performance.now();
    const cpu0 = cpuSeconds(child.pid!);
    await Promise.all(conns.map((conn) => conn.sendAll(perAgent, 500)));
    const secs = (performance.now() - start) / 1000;
    const cpuUsPerEvent = ((cpuSeconds(child.pid!) - cpu0) * 1e6) / total;
    for (const conn of conns) conn.close();
    return { rate: total / secs, cpuUsPerEvent };
  } finally {
    child.kill('SIGTERM');
  }
}

// wss is what agents use (issue 6); plain ws needs --insecure-dev. Both run when the collector
// build can serve both, so the cost of TLS is a ratio measured side by side.
const both = collectorHasTls();
const ceilRun = ceiling();
const ceil = ceilRun.rate;
// `--wss-first`: the two collectors run one after the other, so swapping them shows how much of
// wss/ws is the order meeting the machine's other load rather than TLS.
const order: Transport[] = process.argv.includes('--wss-first') ? ['wss', 'ws'] : ['ws', 'wss'];
const runs = [];
for (const t of both ? order : ['ws' as const]) runs.push(await live(t));
const floorRun = await floor(both ? 'wss' : 'ws');
const ws = runs.find((r) => r.transport === 'ws');
const wss = runs.find((r) => r.transport === 'wss');
const main = wss ?? ws!;
const ingestFigure = (r: { transport: Transport; rate: number }): Figure => ({
  suite: 'ingest',
  name: `collector ingest, ${agents} agents × ${perAgent} events, acked after commit (${r.transport}, loopback)`,
  value: Math.round(r.rate),
  unit: 'events/s',
  baseline: { name: 'raw inserts', value: Math.round(ceil) },
  ratio: r.rate / ceil,
  // The target is for what agents use: wss when the collector has it.
  ...(r === main ? { limit: { value: 0.5, kind: 'ratio-min' as const } } : {}),
});
const figures: Figure[] = [
  { suite: 'ingest', name: `raw better-sqlite3 batched inserts (500/tx, events table with its indexes), ${total} rows`, value: Math.round(ceil), unit: 'rows/s' },
  ...runs.map(ingestFigure),
  ws && wss
    ? {
        suite: 'ingest',
        name: 'TLS cost: wss ingest / ws ingest, same run',
        value: Math.round(wss.rate),
        unit: 'events/s',
        baseline: { name: 'ws', value: Math.round(ws.rate) },
        ratio: wss.rate / ws.rate,
      }
    : { suite: 'ingest', name: 'TLS cost: wss / ws', value: NaN, unit: '', note: `not measured: this collector build serves only ${main.transport}` },
  // Throughput on this shared 2-core machine swings with the other processes' load; CPU time per
  // event does much less, so it is reported beside it (the ceiling's CPU per row is its baseline).
  ...runs.map((r): Figure => ({
    suite: 'ingest',
    name: `collector CPU per event (${r.transport}): everything the process did, incl. decoding, alerts and acks`,
    value: Number(r.cpuUsPerEvent.toFixed(1)),
    unit: 'µs',
    baseline: { name: 'raw insert CPU per row (µs)', value: Number(ceilRun.cpuUsPerRow.toFixed(1)) },
    ratio: ceilRun.cpuUsPerRow / r.cpuUsPerEvent,
    // Below 1 core the collector was waiting (for the clients, the disk or the other processes), not computing.
    note: `collector busy ${((r.cpuUsPerEvent * r.rate) / 1e6).toFixed(2)} of a core during the run`,
  })),
  { suite: 'ingest', name: `collector RSS after the run (${main.transport})`, value: Math.round(main.rssMiB), unit: 'MiB' },
  {
    suite: 'ingest',
    name: `ingest floor, same load (${both ? 'wss' : 'ws'}): TLS + frames + decode + insert + ack only, no auth, derived tables, audit or alerts (test/bench/ingest-floor-server.ts)`,
    value: Math.round(floorRun.rate),
    unit: 'events/s',
    baseline: { name: 'raw inserts', value: Math.round(ceil) },
    ratio: floorRun.rate / ceil,
    note: `floor CPU ${floorRun.cpuUsPerEvent.toFixed(1)} µs/event; the collector's ingest is ${(main.rate / floorRun.rate).toFixed(2)} of the floor`,
  },
];
writeSuiteResult('ingest', figures, { agents, perAgent, transports: runs.map((r) => r.transport) });
for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? `  (ratio ${f.ratio.toFixed(2)})` : ''}${f.note ? ` — ${f.note}` : ''}`);
