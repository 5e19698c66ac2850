/**
 * The ingest floor: the least any collector of this design has to do per event, and nothing more,
 * as its own process like the real collector. It terminates TLS, reads WebSocket frames, decodes
 * and validates each event with the protocol's own decoder, inserts the row with the ceiling's
 * statement into the collector's schema (openStore: same pragmas, synchronous=FULL) in group
 * commits of up to 500, and acks after the commit. No authentication, no derived tables, no audit
 * sealing, no alerts. The ingest suite runs it beside the real collector: if this cannot reach
 * half the ceiling, no amount of trimming the collector's own work can (docs/benchmarks.md).
 *   node dist/test/bench/ingest-floor-server.js --data DIR [--plain]
 * Prints `listening <url>` once it accepts connections; SIGTERM ends it.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { ensureGeneratedTls } from '../../collector/tls/tls-material.js';
import { openStore } from '../../collector/store/store.js';
import { AGENT_CHALLENGE_PATH } from '../../shared/protocol/agent-auth.js';
import { decodeAgentMessage } from '../../shared/protocol/decode.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/version.js';

const argAt = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const dataDir = argAt('data');
if (!dataDir) throw new Error('--data DIR is required');
const plain = process.argv.includes('--plain');

const store = openStore(join(dataDir, 'floor.db'));
const insert = store.db.prepare('INSERT OR IGNORE INTO events (agent_id, seq, type, ts, received_at, body) VALUES (?, ?, ?, ?, ?, ?)');
const addAgent = store.db.prepare(
  "INSERT OR IGNORE INTO agents (agent_id, seat_name, hostname, platform, public_key, enrolled_at) VALUES (?, ?, ?, 'fake', 'x', ?)",
);

interface Pending {
  ws: WebSocket;
  agentId: string;
  seq: number;
  type: string;
  ts: string;
  body: string;
  receivedAt: string;
}
let pending: Pending[] = [];
let scheduled = false;
const write = store.db.transaction((batch: Pending[]) => {
  for (const p of batch) insert.run(p.agentId, p.seq, p.type, p.ts, p.receivedAt, p.body);
});

function commit(): void {
  scheduled = false;
  while (pending.length > 0) {
    const batch = pending.slice(0, 500);
    pending = pending.slice(batch.length);
    write.immediate(batch);
    const bySocket = new Map<WebSocket, number[]>();
    for (const p of batch) {
      const seqs = bySocket.get(p.ws);
      if (seqs) seqs.push(p.seq);
      else bySocket.set(p.ws, [p.seq]);
    }
    const ts = new Date().toISOString();
    for (const [ws, seqs] of bySocket) ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'ack', id: `a-${seqs[0]}`, ts, body: { seqs } }));
  }
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  if (req.url?.startsWith(AGENT_CHALLENGE_PATH)) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ nonce: 'floor', expires_at: new Date(Date.now() + 60_000).toISOString() }));
    return;
  }
  res.writeHead(404).end();
}

const server = plain ? createHttpServer(onRequest) : createHttpsServer({ ...(await tlsOptions(dataDir)) }, onRequest);
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 64 * 1024 });
let nextAgent = 0;
wss.on('connection', (ws) => {
  const agentId = `agt_floor_${nextAgent++}`;
  addAgent.run(agentId, agentId, agentId, new Date().toISOString());
  ws.on('message', (data: Buffer) => {
    const r = decodeAgentMessage(data);
    if (!r.ok) throw new Error(`floor server: undecodable frame ${r.code}`);
    const m = r.msg;
    if (m.type === 'hello') {
      ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'welcome', id: 'w', ts: new Date().toISOString(), body: { agent_id: agentId, last_seq: 0, heartbeat_interval_ms: 30_000, server_time: new Date().toISOString() } }));
      return;
    }
    if (!('seq' in m)) return;
    pending.push({ ws, agentId, seq: m.seq, type: m.type, ts: m.ts, body: JSON.stringify(m.body), receivedAt: new Date().toISOString() });
    if (pending.length >= 500) commit();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(commit);
    }
  });
});

async function tlsOptions(dir: string): Promise<{ cert: string; key: string }> {
  const m = await ensureGeneratedTls({ dataDir: dir });
  return { cert: m.certPem, key: m.keyPem };
}

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  console.log(`listening ${plain ? 'http' : 'https'}://127.0.0.1:${addr.port}`);
});
process.on('SIGTERM', () => {
  commit();
  wss.close();
  server.close();
  store.close();
  process.exit(0);
});
