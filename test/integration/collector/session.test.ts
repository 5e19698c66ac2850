import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../collector/store/store.js';
import { deviceKey } from '../../../shared/domain/usb.js';
import type { CollectorMessage } from '../../../shared/protocol/messages.js';
import { CLOSE_CODES, MAX_FRAME_BYTES, PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import { eventually } from '../../helpers/eventually.js';
import {
  SAMPLE_DEVICE,
  connect,
  connectReady,
  enroll,
  heartbeatFrame,
  helloFrame,
  insertedEvent,
  startCollector,
  stoppingEvent,
  type Running,
} from './harness.js';

type ErrorMsg = Extract<CollectorMessage, { type: 'error' }>;
const isError = (m: CollectorMessage): m is ErrorMsg => m.type === 'error';
const isAck = (m: CollectorMessage): m is Extract<CollectorMessage, { type: 'ack' }> => m.type === 'ack';

describe('agent session (hello, events, acks, heartbeats)', () => {
  let run: Running | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });

  it('answers hello with welcome carrying the agent id, last_seq and heartbeat interval', async () => {
    run = await startCollector({ heartbeatIntervalMs: 1_234 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn, welcome } = await connectReady(run, agent);
    expect(welcome.body).toMatchObject({ agent_id: agent.agentId, last_seq: 0, heartbeat_interval_ms: 1_234 });
    expect(Date.parse(welcome.body.server_time)).not.toBeNaN();
    expect(run.collector.store.agents.get(agent.agentId)?.online).toBe(1);
    await conn.close();
  });

  it('acknowledges events only once they are committed', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    const store = run.collector.store;
    const notYetStored: number[] = [];
    conn.ws.on('message', (data) => {
      // Checked synchronously on arrival: every acked seq must already be in the database.
      const msg = JSON.parse(String(data)) as { type: string; body: { seqs?: number[] } };
      if (msg.type !== 'ack') return;
      const stored = new Set(store.events.listForAgent({ agentId: agent.agentId, after: 0, limit: 100 }).map((e) => e.seq));
      for (const s of msg.body.seqs ?? []) if (!stored.has(s)) notYetStored.push(s);
    });
    for (const seq of [1, 2, 3]) conn.send(stoppingEvent(seq));
    await eventually(() => expect(conn.ackedSeqs().sort()).toEqual([1, 2, 3]));
    expect(notYetStored).toEqual([]);
    expect(store.agents.get(agent.agentId)?.last_seq).toBe(3);
    await conn.close();
  });

  it('stores a duplicate (agent, seq) once and still acknowledges it', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    conn.send(stoppingEvent(1, 'first'));
    await eventually(() => conn.ackedSeqs().includes(1));
    const before = conn.received.length;
    conn.send(stoppingEvent(1, 'replayed with other content'));
    await conn.next((m) => isAck(m) && m.body.seqs.includes(1), 5_000, before);
    const rows = run.collector.store.events.listForAgent({ agentId: agent.agentId, after: 0, limit: 10 });
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.body)).toEqual({ reason: 'first' });
    await conn.close();
  });

  it('reports the committed last_seq in welcome after a reconnect', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const first = await connectReady(run, agent);
    for (let seq = 1; seq <= 5; seq++) first.conn.send(stoppingEvent(seq));
    await eventually(() => first.conn.ackedSeqs().length === 5);
    await first.conn.close();
    const second = await connectReady(run, agent, 5);
    expect(second.welcome.body.last_seq).toBe(5);
    await second.conn.close();
  });

  it('refuses a hello for another agent id with an error and closes: A cannot speak as B', async () => {
    run = await startCollector();
    const a = await enroll(run.url, run.collector.createEnrollmentToken());
    const b = await enroll(run.url, run.collector.createEnrollmentToken());
    const conn = await connect(run, a);
    const hello = helloFrame(b.agentId);
    conn.send(hello);
    conn.send(stoppingEvent(1));
    const err = await conn.next(isError);
    expect(err.body).toMatchObject({ code: 'PROTO_ERR_INVALID_MESSAGE', ref_id: hello.id });
    expect((await conn.closed).code).toBe(CLOSE_CODES.protocolError);
    expect(run.collector.store.events.count()).toBe(0);
    expect(run.collector.store.agents.get(b.agentId)?.online).toBe(0);
  });

  it('refuses events sent before hello without storing them', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const conn = await connect(run, agent);
    const ev = stoppingEvent(1);
    conn.send(ev);
    const err = await conn.next(isError);
    expect(err.body).toMatchObject({ code: 'PROTO_ERR_NOT_EXPECTED', ref_id: ev.id });
    conn.send(helloFrame(agent.agentId));
    const welcome = await conn.next((m) => m.type === 'welcome');
    expect(welcome.type).toBe('welcome');
    expect(run.collector.store.events.count()).toBe(0);
    await conn.close();
  });

  it('answers invalid frames with the right error code and keeps the connection working', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    const hostile = insertedEvent(2, { ...SAMPLE_DEVICE, product: 'Evil\u0007Stick\u202e' });
    const cases: Array<{ frame: unknown; code: string; ref?: string }> = [
      { frame: '{not json', code: 'PROTO_ERR_INVALID_JSON' },
      { frame: '[1,2,3]', code: 'PROTO_ERR_NOT_OBJECT' },
      { frame: { ...stoppingEvent(9), v: 2, id: 'v2-frame' }, code: 'PROTO_ERR_VERSION', ref: 'v2-frame' },
      { frame: { v: PROTOCOL_VERSION, type: 'usb.exploded', id: 'unk-1', ts: new Date().toISOString(), seq: 9, body: {} }, code: 'PROTO_ERR_UNKNOWN_TYPE', ref: 'unk-1' },
      { frame: hostile, code: 'PROTO_ERR_INVALID_MESSAGE', ref: hostile.id },
      { frame: { ...stoppingEvent(9), extra: 1, id: 'extra-1' }, code: 'PROTO_ERR_INVALID_MESSAGE', ref: 'extra-1' },
      { frame: { ...stoppingEvent(9), seq: 0, id: 'seq-0' }, code: 'PROTO_ERR_INVALID_MESSAGE', ref: 'seq-0' },
      { frame: helloFrame(agent.agentId), code: 'PROTO_ERR_NOT_EXPECTED' },
    ];
    for (const c of cases) {
      const from = conn.received.length;
      conn.send(c.frame);
      const err = await conn.next(isError, 5_000, from);
      expect(err.body.code, JSON.stringify(c.frame).slice(0, 80)).toBe(c.code);
      if (c.ref) expect(err.body.ref_id).toBe(c.ref);
    }
    conn.send(stoppingEvent(1));
    await eventually(() => conn.ackedSeqs().includes(1));
    expect(run.collector.store.events.count()).toBe(1);
    await conn.close();
  });

  it('closes a connection with 4400 after too many protocol errors', async () => {
    run = await startCollector({ maxProtocolErrors: 5 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    for (let i = 0; i < 5; i++) conn.send('garbage');
    expect((await conn.closed).code).toBe(CLOSE_CODES.protocolError);
    expect(conn.received.filter(isError)).toHaveLength(5);
  });

  it('answers a frame over the protocol limit with PROTO_ERR_TOO_LARGE and keeps the session', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    conn.send(stoppingEvent(1, 'x'.repeat(MAX_FRAME_BYTES)));
    await eventually(() => expect(conn.received.filter(isError).map((e) => e.body.code)).toContain('PROTO_ERR_TOO_LARGE'));
    expect(run.collector.store.events.count()).toBe(0);
    conn.send(stoppingEvent(1));
    await eventually(() => conn.ackedSeqs().includes(1));
    await conn.close();
  });

  it('cuts off a frame far over the limit at the WebSocket layer (1009) and keeps serving other connections', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    conn.send(stoppingEvent(1, 'x'.repeat(MAX_FRAME_BYTES * 4)));
    expect((await conn.closed).code).toBe(1009);
    expect(run.collector.store.events.count()).toBe(0);
    const again = await connectReady(run, agent);
    again.conn.send(stoppingEvent(1));
    await eventually(() => again.conn.ackedSeqs().includes(1));
    await again.conn.close();
  });

  it('updates the seat from heartbeats (lock state, outbox depth, last seen)', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    conn.send(heartbeatFrame('degraded', 42));
    await eventually(() => expect(run!.collector.store.agents.get(agent.agentId)).toMatchObject({ lock_state: 'degraded', outbox_depth: 42 }));
    const seenAt = run.collector.store.agents.get(agent.agentId)?.last_seen;
    expect(seenAt && Date.parse(seenAt)).toBeGreaterThan(Date.now() - 60_000);
    await conn.close();
    await eventually(() => run!.collector.store.agents.get(agent.agentId)?.online === 0);
  });

  it('terminates a socket that stops answering pings and marks the seat offline', async () => {
    // Not much shorter: client and collector share this process, so a stalled event loop could run
    // the ping timer before the (already received) pong of a healthy socket is read.
    run = await startCollector({ pingIntervalMs: 250 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    // A frozen peer: nothing is read any more, so no pong goes back.
    (conn.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(() => run!.collector.store.agents.get(agent.agentId)?.online === 0, 5_000);
    expect(run.collector.stats().agentsConnected).toBe(0);
    conn.ws.terminate();
  });

  it('closes an authenticated socket that never sends hello', async () => {
    run = await startCollector({ helloTimeoutMs: 50 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const conn = await connect(run, agent);
    expect((await conn.closed).code).toBe(CLOSE_CODES.protocolError);
  });

  it('tells an agent to slow down and closes with 4429 when the ingest queue is full', async () => {
    run = await startCollector({ maxPending: 5, commitIntervalMs: 60_000, maxBatch: 10_000 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    for (let seq = 1; seq <= 8; seq++) conn.send(stoppingEvent(seq));
    const slow = await conn.next((m) => m.type === 'slow_down');
    expect(slow.type === 'slow_down' && slow.body.retry_after_ms).toBeGreaterThan(0);
    expect((await conn.closed).code).toBe(CLOSE_CODES.overloaded);
    // The queued five are still committed (here by the final flush); the rest were never taken.
    expect(run.collector.stats().pendingEvents).toBe(5);
    await run.collector.stop();
    const reopened = openStore(join(run.dataDir, 'collector.db'));
    try {
      expect(reopened.events.listForAgent({ agentId: agent.agentId, after: 0, limit: 10 }).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    } finally {
      reopened.close();
    }
  });

  it('records devices and where they were seen from usb events', async () => {
    run = await startCollector();
    const a = await enroll(run.url, run.collector.createEnrollmentToken());
    const b = await enroll(run.url, run.collector.createEnrollmentToken());
    const ca = await connectReady(run, a);
    const cb = await connectReady(run, b);
    ca.conn.send(insertedEvent(1));
    ca.conn.send(insertedEvent(2));
    cb.conn.send(insertedEvent(1));
    cb.conn.send({ ...insertedEvent(2), type: 'usb.removed', body: { device: SAMPLE_DEVICE } });
    await eventually(() => ca.conn.ackedSeqs().length === 2 && cb.conn.ackedSeqs().length === 2);
    const key = deviceKey(SAMPLE_DEVICE);
    expect(run.collector.store.devices.get(key)).toMatchObject({ vendor_id: '0781', product: 'Cruzer Blade', serial: SAMPLE_DEVICE.serial });
    const sightings = run.collector.store.devices.sightings(key);
    expect(Object.fromEntries(sightings.map((s) => [s.agent_id, s.count]))).toEqual({ [a.agentId]: 2, [b.agentId]: 1 });
    await ca.conn.close();
    await cb.conn.close();
  });

  it('answers a frame whose id is unreadable with an error that carries no ref_id', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    conn.send({ v: PROTOCOL_VERSION, type: 'heartbeat', id: 'bad id with spaces', ts: new Date().toISOString(), body: {} });
    const err = await conn.next(isError);
    expect(err.body.code).toBe('PROTO_ERR_INVALID_MESSAGE');
    expect(err.body.ref_id).toBeUndefined();
    await conn.close();
  });
});
