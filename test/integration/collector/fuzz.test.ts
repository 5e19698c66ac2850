import { connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAgentMessage } from '../../../shared/protocol/decode.js';
import { mulberry32 } from '../../../shared/prng.js';
import type { CollectorMessage } from '../../../shared/protocol/messages.js';
import { AGENT_WS_PATH, MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import {
  authHeaders,
  challenge,
  connect,
  connectReady,
  enroll,
  heartbeatFrame,
  helloFrame,
  insertedEvent,
  openSocket,
  startCollector,
  type RawAgent,
  type Running,
  type TestAgent,
} from './harness.js';

const SEED = 0x5ea7;
const FRAMES = 100_000;
const BATCH = 250;
const SENTINEL_BASE = 50_000_000;

type Frame = string | Buffer;
type Expect = 'error' | 'ack' | 'none' | 'close';

function makeGenerator(seed: number) {
  const r = mulberry32(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const hostileStrings = ['', '\u0000', '\u202e\u0007', 'A'.repeat(300), '../../etc/passwd', '<script>x</script>', '\ud800', '💥'.repeat(50)];
  const randomValue = (depth = 0): unknown => {
    switch (int(depth > 2 ? 6 : 8)) {
      case 0: return int(2) === 0 ? -int(1e9) : r() * 1e300;
      case 1: return pick(hostileStrings);
      case 2: return null;
      case 3: return int(2) === 0;
      case 4: return Number.MAX_SAFE_INTEGER + int(10);
      case 5: return pick([NaN, Infinity, -0, 1.5]);
      case 6: return Array.from({ length: int(4) }, () => randomValue(depth + 1));
      default: return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`k${i}`, randomValue(depth + 1)]));
    }
  };
  // A deep copy: mutations must not reach the harness's shared sample device.
  const validEvent = () => structuredClone(insertedEvent(1 + int(1_000_000))) as Record<string, unknown>;
  // Paths into a valid usb.inserted event that a mutation may hit.
  const paths: string[][] = [['v'], ['type'], ['id'], ['ts'], ['seq'], ['body'], ['body', 'device'], ['body', 'present_at_start'],
    ['body', 'device', 'vendor_id'], ['body', 'device', 'interfaces'], ['body', 'device', 'serial'], ['body', 'device', 'port'], ['body', 'device', 'hash']];
  const mutate = (o: Record<string, unknown>): Record<string, unknown> => {
    const path = pick(paths);
    let cur = o as Record<string, unknown>;
    for (const k of path.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
    const last = path[path.length - 1]!;
    if (int(5) === 0) delete cur[last];
    else cur[last] = randomValue();
    if (int(4) === 0) o[`x${int(3)}`] = randomValue();
    return o;
  };
  const deep = (n: number) => (int(2) === 0 ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n));
  return (): Frame => {
    switch (int(14)) {
      case 0: return Buffer.from(Array.from({ length: int(200) }, () => int(256)));
      case 1: return Array.from({ length: int(120) }, () => String.fromCharCode(32 + int(95))).join('');
      case 2: { const s = JSON.stringify(validEvent()); return s.slice(0, int(s.length)); }
      case 3: case 4: case 5: return JSON.stringify(mutate(validEvent()));
      case 6: return JSON.stringify(pick([[], 1, 'str', null, true, { v: PROTOCOL_VERSION }, { ...validEvent(), body: [] }, { ...validEvent(), seq: '7' }]));
      case 7: {
        // Oversized: most just above the decoder limit, a few above the socket limit.
        const size = int(200) === 0 ? MAX_FRAME_BYTES * 4 + 10 : MAX_FRAME_BYTES + int(2000);
        const e = validEvent();
        (e.body as Record<string, unknown>).device = { ...(e.body as { device: object }).device, serial: 'S'.repeat(size) };
        return JSON.stringify(e);
      }
      case 8: return deep(1 + int(20_000));
      case 9: return JSON.stringify({ ...validEvent(), type: pick(['usb.nope', '__proto__', 'constructor', 'hello ', 'ACK']) });
      case 10: return JSON.stringify({ ...validEvent(), v: pick([0, 2, 99, '1', null]) });
      case 11: return JSON.stringify(helloFrame('agent-' + int(100)));
      case 12: return Buffer.from(JSON.stringify(validEvent()));
      default: return JSON.stringify(validEvent());
    }
  };
}

/** What the collector must answer, from the shared decoder (the same rules the collector applies). */
function expected(frame: Frame, helloDone: boolean): Expect {
  const bytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
  if (bytes > MAX_FRAME_BYTES * 4) return 'close';
  const d = decodeAgentMessage(frame);
  if (d.ok !== true) return 'error';
  if (!helloDone || d.msg.type === 'hello') return 'error';
  if (d.msg.type === 'heartbeat') return 'none';
  return 'ack';
}

const isError = (m: CollectorMessage) => m.type === 'error';

describe('protocol fuzz', () => {
  let run: Running;
  let fuzzer: TestAgent;
  let honest: TestAgent;

  beforeAll(async () => {
    run = await startCollector({ maxProtocolErrors: 1_000 });
    fuzzer = await enroll(run.url, run.collector.createEnrollmentToken());
    honest = await enroll(run.url, run.collector.createEnrollmentToken());
  });
  afterAll(async () => {
    await run.cleanup();
  });

  it('answers 100,000 hostile frames with errors or a close, never crashes, and keeps acking a well-behaved agent', async () => {
    // The well-behaved agent sends in small acked batches for as long as the fuzzing runs.
    const { conn: good } = await connectReady(run, honest);
    let goodClosed = false;
    void good.closed.then(() => (goodClosed = true));
    let fuzzing = true;
    let goodSeq = 0;
    const goodLoop = (async (): Promise<null> => {
      while (fuzzing) {
        for (let i = 0; i < 10; i++) good.send(insertedEvent(++goodSeq));
        const last = goodSeq;
        await good.next((m) => m.type === 'ack' && m.body.seqs.includes(last), 10_000);
      }
      return null;
    })().catch((err: unknown) => err);

    const gen = makeGenerator(SEED);
    let sent = 0;
    let batches = 0;
    let countedBatches = 0;
    let closes = 0;
    let conn: RawAgent | null = null;
    let open = false;
    let preHelloErrors = 0;

    const reconnect = async () => {
      conn = await connect(run, fuzzer);
      open = true;
      const c = conn;
      void c.closed.then(() => {
        if (conn === c) open = false;
      });
      // Events before hello: each must be refused with an error frame.
      const from = c.received.length;
      c.send(insertedEvent(1));
      c.send(heartbeatFrame());
      c.send(helloFrame(fuzzer.agentId));
      await c.next((m) => m.type === 'welcome', 5_000, from);
      expect(c.received.slice(from).filter(isError)).toHaveLength(2);
      preHelloErrors += 2;
    };

    while (sent < FRAMES) {
      if (!open || conn === null) await reconnect();
      const c = conn!;
      const from = c.received.length;
      let errorsWanted = 0;
      let closeWanted = false;
      for (let i = 0; i < BATCH && sent < FRAMES; i++, sent++) {
        const f = gen();
        const e = expected(f, true);
        if (e === 'error') errorsWanted++;
        if (e === 'close') closeWanted = true;
        if (c.ws.readyState !== c.ws.OPEN) break;
        // Straight to the socket: Buffers go out as binary frames, strings as text frames.
        c.ws.send(f);
      }
      batches++;
      const sentinel = SENTINEL_BASE + batches;
      if (c.ws.readyState === c.ws.OPEN) c.send(insertedEvent(sentinel));
      const outcome = await Promise.race([
        c.next((m) => m.type === 'ack' && m.body.seqs.includes(sentinel), 15_000, from).then(() => 'answered' as const),
        c.closed.then(() => 'closed' as const),
      ]);
      const errors = c.received.slice(from).filter(isError).length;
      if (outcome === 'answered' && !closeWanted) {
        // Every frame predicted invalid got exactly one error frame back.
        expect(errors).toBe(errorsWanted);
        countedBatches++;
      } else {
        // Closed (too many errors or a frame over the socket limit): never more errors than frames.
        expect(errors).toBeLessThanOrEqual(errorsWanted);
        closes++;
        if (outcome === 'answered') await c.close();
        open = false;
      }
    }
    fuzzing = false;
    // null: every batch of the well-behaved agent was acked within 10 s throughout.
    expect(await goodLoop).toBeNull();

    expect(sent).toBe(FRAMES);
    expect(countedBatches).toBeGreaterThan(batches / 2);
    expect(closes).toBeGreaterThan(0);
    expect(preHelloErrors).toBeGreaterThan(0);
    expect(goodClosed).toBe(false);
    // The collector is still healthy and stored the honest agent's events exactly once, in full.
    const rows = run.collector.store.db
      .prepare('SELECT seq, count(*) AS n FROM events WHERE agent_id = ? GROUP BY seq ORDER BY seq')
      .all(honest.agentId) as Array<{ seq: number; n: number }>;
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: goodSeq }, (_, i) => i + 1));
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(goodSeq).toBeGreaterThan(0);
    await good.close();
  }, 120_000);

  it('refuses unauthenticated upgrades (garbage requests, bad signatures) before any WebSocket opens', async () => {
    const r = mulberry32(SEED + 1);
    const int = (n: number) => Math.floor(r() * n);
    const { port } = new URL(run.url);
    const junkHeader = () => Array.from({ length: int(60) }, () => String.fromCharCode(int(2) === 0 ? 32 + int(95) : int(256))).join('');
    // Raw TCP: hostile request lines and headers; the answer must never be 101 Switching Protocols.
    const raw = async (): Promise<string> =>
      new Promise((resolve) => {
        const s = tcpConnect(Number(port), '127.0.0.1');
        let got = '';
        s.on('data', (d) => {
          got += d.toString('latin1');
          if (got.includes('\r\n\r\n')) s.destroy();
        });
        s.on('error', () => undefined);
        s.on('close', () => resolve(got));
        const lines = [
          int(3) === 0 ? junkHeader() : `GET ${int(2) === 0 ? AGENT_WS_PATH : '/' + junkHeader()} HTTP/1.1`,
          'Host: 127.0.0.1',
          'Upgrade: websocket',
          'Connection: Upgrade',
          'Sec-WebSocket-Version: 13',
          'Sec-WebSocket-Key: ' + (int(2) === 0 ? 'dGhlIHNhbXBsZSBub25jZQ==' : junkHeader()),
          `x-seatguard-agent-id: ${junkHeader()}`,
          `x-seatguard-nonce: ${junkHeader()}`,
          `x-seatguard-signature: ${junkHeader()}`,
          ...Array.from({ length: int(5) }, () => `${junkHeader()}: ${junkHeader()}`),
        ];
        s.end(Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'));
      });
    let rawRefused = 0;
    for (let i = 0; i < 300; i++) {
      const answer = await raw();
      expect(answer.startsWith('HTTP/1.1 101')).toBe(false);
      if (answer.length > 0) rawRefused++;
    }
    expect(rawRefused).toBeGreaterThan(0);

    // Real ws clients with a fresh nonce but a wrong or garbled signature: HTTP refusal, no socket.
    for (let i = 0; i < 200; i++) {
      const nonce = await challenge(run.url, fuzzer.agentId);
      const sig = i % 2 === 0 ? Buffer.from(Array.from({ length: 64 }, () => int(256))).toString('base64') : junkHeader().replace(/[^\x21-\x7e]/g, 'x');
      const out = await openSocket(run.wsUrl, authHeaders(fuzzer, nonce, sig));
      expect(out.ok).toBe(false);
      if (out.ok === false) expect(out.status).toBeGreaterThanOrEqual(400);
    }
    // Still serving authenticated agents afterwards.
    const { conn } = await connectReady(run, honest, 0);
    await conn.close();
  }, 60_000);
});
