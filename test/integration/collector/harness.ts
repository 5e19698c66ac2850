import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createCollector, type Collector, type CollectorOptions } from '../../../collector/collector.js';
import { decodeCollectorMessage } from '../../../shared/protocol/decode.js';
import type { CollectorMessage } from '../../../shared/protocol/messages.js';
import {
  AGENT_CHALLENGE_PATH,
  AUTH_HEADERS,
  ENROLL_PATH,
  generateAgentKeyPair,
  signChallenge,
} from '../../../shared/protocol/agent-auth.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import { caFetch, type CaFetch } from '../../helpers/ca-fetch.js';

export interface Running {
  collector: Collector;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** The collector CA (null with insecureDev, the harness default). */
  caPem: string | null;
  caFingerprint: string | null;
  /** fetch() that trusts this collector's CA (plain fetch behaviour over http). */
  fetch: CaFetch;
  /** Stops the collector (idempotent) and removes the temp dir unless `keepDir`. */
  cleanup(opts?: { keepDir?: boolean }): Promise<void>;
}

export function tempDir(prefix = 'seatguard-collector-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * A real collector on 127.0.0.1:0 with a real SQLite file in a temp dir; fast timers. Plain http
 * (insecureDev) unless the test passes `insecureDev: false`: suites about other things keep their
 * plain fetch; the TLS suites (test/integration/agent/tls-pinning.test.ts …) ask for TLS.
 */
export async function startCollector(opts: Partial<CollectorOptions> = {}): Promise<Running> {
  const dataDir = opts.dataDir ?? tempDir();
  const collector = createCollector({ commitIntervalMs: 2, insecureDev: true, ...opts, dataDir, host: '127.0.0.1', port: 0 });
  const { url, caFingerprint } = await collector.start();
  const caPem = collector.tls?.caPem ?? null;
  return {
    collector,
    url,
    wsUrl: url.replace(/^http/, 'ws') + AGENT_WS_PATH,
    dataDir,
    caPem,
    caFingerprint,
    fetch: caFetch(caPem),
    async cleanup({ keepDir = false } = {}) {
      await collector.stop();
      if (!keepDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestAgent {
  agentId: string;
  seatName: string;
  privateKey: KeyObject;
  publicKeyB64: string;
}

export async function postJson(url: string, body: unknown, fetchFn: CaFetch = fetch): Promise<{ status: number; json: unknown }> {
  const res = await fetchFn(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

// Tests navigate answers freely (res.json.seats[0].online); the assertions are the type check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function getJson(url: string, token?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: await res.json() };
}

/** Enrolls a fresh Ed25519 key with `token`; throws unless the collector answers 200. */
export async function enroll(url: string, token: string, extra: { hostname?: string; seat_name?: string } = {}, fetchFn: CaFetch = fetch): Promise<TestAgent> {
  const keys = generateAgentKeyPair();
  const res = await postJson(url + ENROLL_PATH, {
    token,
    public_key: keys.publicKeyB64,
    hostname: extra.hostname ?? 'seat-host-01',
    platform: 'linux',
    ...(extra.seat_name === undefined ? {} : { seat_name: extra.seat_name }),
  }, fetchFn);
  if (res.status !== 200) throw new Error(`enroll failed: ${res.status} ${JSON.stringify(res.json)}`);
  const body = res.json as { agent_id: string; seat_name: string };
  return {
    agentId: body.agent_id,
    seatName: body.seat_name,
    privateKey: createPrivateKey(keys.privateKeyPem),
    publicKeyB64: keys.publicKeyB64,
  };
}

export async function challenge(url: string, agentId: string, fetchFn: CaFetch = fetch): Promise<string> {
  const res = await fetchFn(`${url}${AGENT_CHALLENGE_PATH}?agent_id=${encodeURIComponent(agentId)}`);
  if (res.status !== 200) throw new Error(`challenge failed: ${res.status}`);
  return ((await res.json()) as { nonce: string }).nonce;
}

/** A raw agent-side socket that records everything the collector sends. */
export class RawAgent {
  readonly received: CollectorMessage[] = [];
  readonly rawFrames: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
      this.rawFrames.push(text);
      const d = decodeCollectorMessage(text);
      if (d.ok === true) this.received.push(d.msg);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits for the first message (after `from`) matching `pred`. */
  async next<T extends CollectorMessage>(pred: (m: CollectorMessage) => m is T, timeoutMs?: number, from?: number): Promise<T>;
  async next(pred: (m: CollectorMessage) => boolean, timeoutMs?: number, from?: number): Promise<CollectorMessage>;
  async next(pred: (m: CollectorMessage) => boolean, timeoutMs = 5_000, from = 0): Promise<CollectorMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.slice(from).find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.received.map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Every seq acknowledged so far. */
  ackedSeqs(): number[] {
    return this.received.flatMap((m) => (m.type === 'ack' ? m.body.seqs : []));
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await this.closed;
  }
}

export type UpgradeOutcome = { ok: true; agent: RawAgent } | { ok: false; status: number; body: string };

/** Opens the agent socket with the given headers (trusting `ca` for wss); resolves with the socket or the HTTP refusal. */
export function openSocket(wsUrl: string, headers: Record<string, string>, ca?: string | null): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers, ...(ca ? { ca } : {}) });
    let settled = false;
    let lastError: unknown = new Error('socket closed before the upgrade completed');
    ws.once('open', () => {
      settled = true;
      resolve({ ok: true, agent: new RawAgent(ws) });
    });
    ws.once('unexpected-response', (_req, res) => {
      settled = true;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ ok: false, status: res.statusCode ?? 0, body }));
    });
    // A refused TCP connection (no HTTP answer at all) ends as error + close.
    ws.on('error', (err) => (lastError = err));
    ws.once('close', () => {
      if (!settled) reject(lastError);
    });
  });
}

export function authHeaders(agent: TestAgent, nonce: string, signature?: string): Record<string, string> {
  return {
    [AUTH_HEADERS.agentId]: agent.agentId,
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: signature ?? signChallenge(agent.privateKey, agent.agentId, nonce),
  };
}

/** challenge → signed upgrade; throws if refused. */
export async function connect(run: Running, agent: TestAgent): Promise<RawAgent> {
  const nonce = await challenge(run.url, agent.agentId, run.fetch);
  const out = await openSocket(run.wsUrl, authHeaders(agent, nonce), run.caPem);
  if (!out.ok) throw new Error(`upgrade refused: ${out.status} ${out.body}`);
  return out.agent;
}

let idCounter = 0;
export const msgId = (): string => `t-${++idCounter}`;
const ts = (): string => new Date().toISOString();

export function helloFrame(agentId: string, lastSeq = 0) {
  return {
    v: PROTOCOL_VERSION,
    type: 'hello',
    id: msgId(),
    ts: ts(),
    body: { agent_id: agentId, agent_version: '0.1.0', platform: 'linux', hostname: 'seat-host-01', last_seq: lastSeq },
  };
}

export function heartbeatFrame(lockState: 'locked' | 'degraded' | 'unknown' = 'locked', outboxDepth = 0) {
  return { v: PROTOCOL_VERSION, type: 'heartbeat', id: msgId(), ts: ts(), body: { uptime_s: 5, outbox_depth: outboxDepth, lock_state: lockState } };
}

export function stoppingEvent(seq: number, reason = 'test') {
  return { v: PROTOCOL_VERSION, type: 'agent.stopping', id: msgId(), ts: ts(), seq, body: { reason } };
}

export const SAMPLE_DEVICE = {
  port: '2-1',
  vendor_id: '0781',
  product_id: '5567',
  bcd_device: '0100',
  serial: '4C530001230517109291',
  manufacturer: 'SanDisk',
  product: 'Cruzer Blade',
  hash: 'q3S8Yw0dJ4cvS8cJ6ZkQk3pXl1b9kzq0kYb3Yw0dJ4c=',
  parent_hash: null,
  interfaces: ['08:06:50'],
  connect_type: 'hotplug',
};

export function insertedEvent(seq: number, device: Record<string, unknown> = SAMPLE_DEVICE) {
  return { v: PROTOCOL_VERSION, type: 'usb.inserted', id: msgId(), ts: ts(), seq, body: { device, present_at_start: false } };
}

/** Connects, sends hello and waits for welcome. */
export async function connectReady(run: Running, agent: TestAgent, lastSeq = 0): Promise<{ conn: RawAgent; welcome: Extract<CollectorMessage, { type: 'welcome' }> }> {
  const conn = await connect(run, agent);
  conn.send(helloFrame(agent.agentId, lastSeq));
  const welcome = await conn.next((m): m is Extract<CollectorMessage, { type: 'welcome' }> => m.type === 'welcome');
  return { conn, welcome };
}
