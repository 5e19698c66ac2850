import { randomBytes } from 'node:crypto';
import { deriveSeatSecret } from '../../shared/domain/offline-code.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { AGENT_CHALLENGE_PATH, AUTH_HEADERS, ENROLL_PATH, parseAgentPublicKey, verifyChallenge } from '../../shared/protocol/agent-auth.js';
import { decodeAgentMessage } from '../../shared/protocol/decode.js';
import { collectorMessage } from '../../shared/protocol/encode.js';
import type { AgentMessage, CollectorMessage } from '../../shared/protocol/messages.js';
import type { ProtocolErrorCode } from '../../shared/protocol/codes.js';
import { AGENT_WS_PATH, MAX_FRAME_BYTES } from '../../shared/protocol/version.js';

/**
 * A small in-process collector that follows the agent contract (enroll, challenge, signed upgrade,
 * hello/welcome, ack after "commit", dedupe on seq) and lets a test misbehave on purpose: hold acks,
 * send slow_down/error/unknown frames, drop every connection. Events live in memory.
 */
export interface StoredEvent {
  seq: number;
  id: string;
  type: string;
  body: unknown;
}

export interface FakeCollector {
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
  /** A single-use token for POST /agent/v1/enroll. */
  createEnrollmentToken(): string;
  /** Events committed for the agent, in seq order, each seq once. */
  events(agentId: string): StoredEvent[];
  agentIds(): string[];
  /** Registers an already-enrolled agent (a restarted collector that kept its database). */
  registerAgent(agentId: string, publicKeyB64: string): void;
  /** Frames received per type (duplicates included). */
  received: Map<string, number>;
  hellos: Array<Extract<AgentMessage, { type: 'hello' }>['body']>;
  /** When false, events are stored but not acknowledged. */
  ackEvents: boolean;
  /** When true, upgrades are refused with 503. */
  refuseUpgrades: boolean;
  /** Sends a raw frame to every open session. */
  broadcast(frame: string): void;
  /** Terminates every agent socket (the agents reconnect). */
  dropAll(): void;
  connectedCount(): number;
}

/**
 * An `error` frame. The cast works around messages.ts typing `code` as never (a Union over a mapped
 * array); the runtime schema is right.
 */
export function errorFrame(code: ProtocolErrorCode, detail: string, refId?: string): string {
  const body = refId === undefined ? { code, detail } : { code, detail, ref_id: refId };
  return collectorMessage('error', body as Extract<CollectorMessage, { type: 'error' }>['body']);
}

export function createFakeCollector(opts: { heartbeatIntervalMs?: number; port?: number; offlineMasterKey?: Buffer } = {}): FakeCollector {
  const tokens = new Set<string>();
  const keys = new Map<string, string>();
  const nonces = new Set<string>();
  const store = new Map<string, Map<number, StoredEvent>>();
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  let server: Server | null = null;

  const fc: FakeCollector = {
    received: new Map(),
    hellos: [],
    ackEvents: true,
    refuseUpgrades: false,
    async start() {
      server = createServer((req, res) => void handleHttp(req, res));
      server.on('upgrade', (req: IncomingMessage, socket, head) => {
        socket.on('error', () => undefined);
        const agentId = String(req.headers[AUTH_HEADERS.agentId] ?? '');
        const nonce = String(req.headers[AUTH_HEADERS.nonce] ?? '');
        const sig = String(req.headers[AUTH_HEADERS.signature] ?? '');
        const pub = keys.get(agentId);
        const key = pub ? parseAgentPublicKey(pub) : null;
        const ok = !fc.refuseUpgrades && req.url === AGENT_WS_PATH && key !== null && nonces.delete(nonce) && verifyChallenge(key, agentId, nonce, sig);
        if (!ok) {
          socket.end(`HTTP/1.1 ${fc.refuseUpgrades ? 503 : 401} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => session(ws, agentId));
      });
      await new Promise<void>((resolve) => server?.listen(opts.port ?? 0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}` };
    },
    async stop() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      const s = server;
      server = null;
      if (s) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
    createEnrollmentToken() {
      const t = `sgt_${randomBytes(16).toString('base64url')}`;
      tokens.add(t);
      return t;
    },
    events(agentId) {
      return [...(store.get(agentId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
    },
    agentIds: () => [...keys.keys()],
    registerAgent(agentId, publicKeyB64) {
      keys.set(agentId, publicKeyB64);
    },
    broadcast(frame) {
      for (const ws of sockets) ws.send(frame);
    },
    dropAll() {
      for (const ws of sockets) ws.terminate();
    },
    connectedCount: () => sockets.size,
  };

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === AGENT_CHALLENGE_PATH) {
      const nonce = randomBytes(16).toString('base64url');
      nonces.add(nonce);
      return json(200, { nonce, expires_at: new Date(Date.now() + 60_000).toISOString() });
    }
    if (req.method === 'POST' && url.pathname === ENROLL_PATH) {
      let body: { token?: unknown; public_key?: unknown; seat_name?: unknown; hostname?: unknown };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch {
        return json(400, { error: { code: 'API_ERR_VALIDATION' } });
      }
      if (typeof body.token !== 'string' || !tokens.delete(body.token)) return json(401, { error: { code: 'ENROLL_ERR_TOKEN' } });
      if (typeof body.public_key !== 'string' || !parseAgentPublicKey(body.public_key)) return json(400, { error: { code: 'API_ERR_VALIDATION' } });
      const agentId = `agt_${randomBytes(6).toString('hex')}`;
      keys.set(agentId, body.public_key);
      const seatName = typeof body.seat_name === 'string' ? body.seat_name : String(body.hostname);
      if (opts.offlineMasterKey) {
        return json(200, { agent_id: agentId, seat_name: seatName, offline_secret: deriveSeatSecret(opts.offlineMasterKey, agentId).toString('base64') });
      }
      return json(200, { agent_id: agentId, seat_name: seatName });
    }
    json(404, { error: { code: 'API_ERR_NOT_FOUND' } });
  }

  function session(ws: WebSocket, agentId: string): void {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const decoded = decodeAgentMessage(data as Buffer);
      if (!decoded.ok) {
        ws.send(errorFrame(decoded.code, decoded.detail));
        return;
      }
      const msg = decoded.msg;
      fc.received.set(msg.type, (fc.received.get(msg.type) ?? 0) + 1);
      if (msg.type === 'hello') {
        fc.hellos.push(msg.body);
        const events = store.get(agentId);
        const lastSeq = events ? Math.max(0, ...events.keys()) : 0;
        ws.send(collectorMessage('welcome', { agent_id: agentId, last_seq: lastSeq, heartbeat_interval_ms: opts.heartbeatIntervalMs ?? 100, server_time: new Date().toISOString() }));
        return;
      }
      if (msg.type === 'heartbeat') return;
      let events = store.get(agentId);
      if (!events) store.set(agentId, (events = new Map()));
      if (!events.has(msg.seq)) events.set(msg.seq, { seq: msg.seq, id: msg.id, type: msg.type, body: msg.body });
      if (fc.ackEvents) ws.send(collectorMessage('ack', { seqs: [msg.seq] }));
    });
  }

  return fc;
}
