import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger, type Logger } from '../../../shared/logger.js';
import { collectorMessage } from '../../../shared/protocol/encode.js';
import { PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import { generateAgentKeyPair } from '../../../shared/protocol/agent-auth.js';
import { createOutbox, type Outbox } from '../../../agent/store/outbox.js';
import { createCollectorClient, type CollectorClient } from '../../../agent/transport/collector-client.js';
import { enrollAgent } from '../../../agent/identity.js';
import { createFakeCollector, errorFrame, type FakeCollector } from '../../helpers/fake-collector.js';
import { eventually } from '../../helpers/eventually.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function fakeCollector(port?: number): Promise<{ fc: FakeCollector; url: string }> {
  const fc = createFakeCollector({ heartbeatIntervalMs: 100, ...(port ? { port } : {}) });
  const { url } = await fc.start();
  cleanups.push(() => fc.stop());
  return { fc, url };
}

async function enrolled(url: string, fc: FakeCollector) {
  return enrollAgent({ collectorUrl: url, token: fc.createEnrollmentToken(), hostname: 'seat-1', platform: 'fake' });
}

function client(url: string, identity: { agentId: string; privateKey: KeyObject }, outbox: Outbox, extra: { sendWindow?: number; log?: Logger } = {}): CollectorClient {
  const c = createCollectorClient({
    collectorUrl: url,
    identity,
    outbox,
    log: extra.log ?? silentLogger(),
    hello: { agent_version: '0.1.0', platform: 'fake', hostname: 'seat-1' },
    lockState: () => 'locked',
    backoffBaseMs: 10,
    backoffCapMs: 50,
    ...(extra.sendWindow ? { sendWindow: extra.sendWindow } : {}),
  });
  cleanups.push(() => c.stop());
  return c;
}

function memOutbox(): Outbox {
  const o = createOutbox({ path: ':memory:' });
  cleanups.push(() => o.close());
  return o;
}

function appendN(o: Outbox, n: number, from = 0): void {
  for (let i = 0; i < n; i++) o.append('agent.stopping', { reason: `r${from + i}` });
}

function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: dest }), lines };
}

describe('createCollectorClient', () => {
  it('sends queued events in seq order, each stored once, and empties the outbox on ack', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const outbox = memOutbox();
    appendN(outbox, 25);
    client(url, id, outbox).start();
    await eventually(() => expect(outbox.depth()).toBe(0));
    const stored = fc.events(id.agentId);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(fc.hellos[0]).toMatchObject({ agent_id: id.agentId, last_seq: 25, platform: 'fake' });
  });

  it('sends events appended while connected without waiting for anything else', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const outbox = memOutbox();
    const c = client(url, id, outbox);
    c.start();
    await eventually(() => expect(c.status().ready).toBe(true));
    appendN(outbox, 3);
    await eventually(() => expect(fc.events(id.agentId)).toHaveLength(3));
  });

  it('keeps at most the window of events in flight until acks arrive', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    fc.ackEvents = false;
    const outbox = memOutbox();
    appendN(outbox, 20);
    const c = client(url, id, outbox, { sendWindow: 5 });
    c.start();
    await eventually(() => expect(fc.received.get('agent.stopping')).toBe(5));
    // A heartbeat after the window filled proves the link is live and nothing more was sent.
    const beats = fc.received.get('heartbeat') ?? 0;
    await eventually(() => expect(fc.received.get('heartbeat') ?? 0).toBeGreaterThan(beats));
    expect(fc.received.get('agent.stopping')).toBe(5);
    expect(c.status().inFlight).toBe(5);
    fc.ackEvents = true;
    fc.dropAll();
    await eventually(() => expect(outbox.depth()).toBe(0));
    expect(fc.events(id.agentId).map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('drops what the collector already committed (welcome.last_seq) instead of resending it', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    fc.ackEvents = false;
    const outbox = memOutbox();
    appendN(outbox, 3);
    const first = client(url, id, outbox);
    first.start();
    await eventually(() => expect(fc.events(id.agentId)).toHaveLength(3));
    await first.stop();
    expect(outbox.depth()).toBe(3);
    fc.ackEvents = true;
    client(url, id, outbox).start();
    await eventually(() => expect(outbox.depth()).toBe(0));
    expect(fc.received.get('agent.stopping')).toBe(3);
  });

  it('keeps retrying while the collector is down and delivers once it is back', async () => {
    const probe = await fakeCollector();
    const id = await enrolled(probe.url, probe.fc);
    const port = Number(new URL(probe.url).port);
    const outbox = memOutbox();
    appendN(outbox, 2);
    await probe.fc.stop();
    const c = client(probe.url, id, outbox);
    c.start();
    await eventually(() => expect(c.status().failures).toBeGreaterThanOrEqual(3));
    const back = createFakeCollector({ heartbeatIntervalMs: 100, port });
    cleanups.push(() => back.stop());
    await back.start();
    back.registerAgent(id.agentId, createPublicKey(id.privateKey).export({ type: 'spki', format: 'der' }).toString('base64'));
    await eventually(() => expect(back.events(id.agentId)).toHaveLength(2));
    await eventually(() => expect(outbox.depth()).toBe(0));
    expect(c.status()).toMatchObject({ ready: true, failures: 0 });
  });

  it('reconnects after the collector drops the connection and resends unacknowledged events', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const outbox = memOutbox();
    const c = client(url, id, outbox);
    c.start();
    await eventually(() => expect(c.status().ready).toBe(true));
    fc.ackEvents = false;
    appendN(outbox, 4);
    await eventually(() => expect(fc.events(id.agentId)).toHaveLength(4));
    fc.ackEvents = true;
    fc.dropAll();
    await eventually(() => expect(outbox.depth()).toBe(0));
    expect(fc.hellos.length).toBeGreaterThanOrEqual(2);
    expect(fc.events(id.agentId)).toHaveLength(4);
  });

  it('pauses sending on slow_down and resumes after retry_after_ms', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const outbox = memOutbox();
    const c = client(url, id, outbox);
    c.start();
    await eventually(() => expect(c.status().ready).toBe(true));
    fc.broadcast(collectorMessage('slow_down', { retry_after_ms: 400 }));
    // Wait for a heartbeat sent after slow_down arrived, so the pause is known to be in effect.
    const beats = fc.received.get('heartbeat') ?? 0;
    await eventually(() => expect(fc.received.get('heartbeat') ?? 0).toBeGreaterThan(beats));
    appendN(outbox, 1);
    expect(fc.received.get('agent.stopping')).toBeUndefined();
    await eventually(() => expect(fc.events(id.agentId)).toHaveLength(1));
  });

  it('ignores unknown collector message types and stays connected', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const outbox = memOutbox();
    const c = client(url, id, outbox);
    c.start();
    await eventually(() => expect(c.status().ready).toBe(true));
    fc.broadcast(JSON.stringify({ v: PROTOCOL_VERSION, type: 'policy.updated', id: 'c-1', ts: new Date().toISOString(), body: { anything: 1 } }));
    fc.broadcast('not json at all');
    appendN(outbox, 1);
    await eventually(() => expect(fc.events(id.agentId)).toHaveLength(1));
    expect(fc.hellos).toHaveLength(1);
  });

  it('logs collector error frames at warn with their code', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const { log, lines } = captureLog();
    const c = client(url, id, memOutbox(), { log });
    c.start();
    await eventually(() => expect(c.status().ready).toBe(true));
    fc.broadcast(errorFrame('PROTO_ERR_RATE', 'too fast'));
    await eventually(() => expect(lines.find((l) => l.msg === 'collector reported an error')).toMatchObject({ level: 40, code: 'PROTO_ERR_RATE' }));
  });

  it('sends heartbeats with the outbox depth and lock state', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    client(url, id, memOutbox()).start();
    await eventually(() => expect(fc.received.get('heartbeat') ?? 0).toBeGreaterThanOrEqual(2));
  });

  it('does not crash and keeps counting failures when the collector refuses its signature', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const stranger = generateAgentKeyPair();
    const wrongKey = createPrivateKey(stranger.privateKeyPem);
    const outbox = memOutbox();
    appendN(outbox, 1);
    const c = client(url, { agentId: id.agentId, privateKey: wrongKey }, outbox);
    c.start();
    await eventually(() => expect(c.status().failures).toBeGreaterThanOrEqual(3));
    expect(fc.events(id.agentId)).toHaveLength(0);
    expect(outbox.depth()).toBe(1);
  });

  it('stops cleanly while reconnecting and can be stopped twice', async () => {
    const outbox = memOutbox();
    const c = createCollectorClient({
      collectorUrl: 'http://127.0.0.1:9',
      identity: { agentId: 'agt_x', privateKey: createPrivateKey(generateAgentKeyPair().privateKeyPem) },
      outbox,
      log: silentLogger(),
      hello: { agent_version: '0.1.0', platform: 'fake', hostname: 'h' },
      lockState: () => 'unknown',
      backoffBaseMs: 10,
      backoffCapMs: 20,
    });
    c.start();
    await eventually(() => expect(c.status().failures).toBeGreaterThanOrEqual(2));
    await c.stop();
    await c.stop();
    const failures = c.status().failures;
    await new Promise((r) => setTimeout(r, 60));
    expect(c.status().failures).toBe(failures);
  });

  it('flush resolves once every event is acknowledged', async () => {
    const { fc, url } = await fakeCollector();
    const id = await enrolled(url, fc);
    const outbox = memOutbox();
    appendN(outbox, 10);
    const c = client(url, id, outbox);
    c.start();
    expect(await c.flush(5_000)).toBe(true);
    expect(outbox.depth()).toBe(0);
  });
});
