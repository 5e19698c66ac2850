/**
 * Ingest: events per second stored and acknowledged by a collector (child process) from N raw
 * agents over loopback, against the ceiling of raw better-sqlite3 batched inserts of the same rows
 * into the same schema and pragmas, measured in this run.
 *   node dist/test/bench/ingest.js [--agents 20] [--events 5000]
 */
import { join } from 'node:path';
import { openStore } from '../../collector/store/store.js';
import { createTokens, enrollRaw, RawConnection, readArg, startCollectorProcess, tempDir, writeSuiteResult, type Figure } from './lib.js';

const agents = readArg('agents', 20);
const perAgent = readArg('events', 5000);
const total = agents * perAgent;

function ceiling(): number {
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
  store.close();
  return total / secs;
}

async function live(): Promise<{ rate: number; rssMiB: number }> {
  const c = await startCollectorProcess();
  try {
    const tokens = createTokens(c.dataDir, agents);
    const conns: RawConnection[] = [];
    for (let a = 0; a < agents; a++) conns.push(await RawConnection.open(c.url, await enrollRaw(c.url, tokens[a]!, `bench-${a}`)));
    const start = performance.now();
    await Promise.all(conns.map((conn) => conn.sendAll(perAgent, 500)));
    const secs = (performance.now() - start) / 1000;
    const { rssMiB } = await import('./lib.js');
    const rss = rssMiB(c.child.pid!);
    for (const conn of conns) conn.close();
    return { rate: total / secs, rssMiB: rss };
  } finally {
    await c.stop();
  }
}

const ceil = ceiling();
const l = await live();
const figures: Figure[] = [
  { suite: 'ingest', name: `raw better-sqlite3 batched inserts (500/tx), ${total} rows`, value: Math.round(ceil), unit: 'rows/s' },
  {
    suite: 'ingest',
    name: `collector ingest, ${agents} agents × ${perAgent} events, acked after commit (ws, loopback)`,
    value: Math.round(l.rate),
    unit: 'events/s',
    baseline: { name: 'raw inserts', value: Math.round(ceil) },
    ratio: l.rate / ceil,
    limit: { value: 0.5, kind: 'ratio-min' },
  },
  { suite: 'ingest', name: 'collector RSS after the run', value: Math.round(l.rssMiB), unit: 'MiB' },
];
writeSuiteResult('ingest', figures, { agents, perAgent });
for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? `  (ratio ${f.ratio.toFixed(2)})` : ''}`);
