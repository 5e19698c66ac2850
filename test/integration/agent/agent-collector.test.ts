import { describe, expect, it } from 'vitest';
import { createCollector, type Collector } from '../../../collector/collector.js';
import { deviceFixture, startInProcessAgent, type InProcessAgent } from '../../helpers/fake-agent.js';
import { useCleanups } from '../../helpers/cleanups.js';
import { eventually } from '../../helpers/eventually.js';
import { caFetch } from '../../helpers/ca-fetch.js';

// The agent core against the real collector: real wss on 127.0.0.1 (the collector's own CA,
// pinned by fingerprint), real SQLite files on both ends.

interface ApiEvent {
  seq: number;
  type: string;
  body: Record<string, unknown>;
}

const { cleanups, tmp } = useCleanups();

async function collectorOn(dataDir: string, port = 0): Promise<{ collector: Collector; url: string }> {
  const collector = createCollector({ dataDir, port, heartbeatIntervalMs: 100, pingIntervalMs: 100 });
  let stopped = false;
  const { url } = await collector.start();
  cleanups.push(async () => {
    if (!stopped) await collector.stop();
  });
  const stop = collector.stop.bind(collector);
  collector.stop = async () => {
    stopped = true;
    await stop();
  };
  return { collector, url };
}

async function agentFor(url: string, collector: Collector, stateDir: string): Promise<InProcessAgent> {
  const a = await startInProcessAgent({
    collectorUrl: url,
    stateDir,
    token: collector.createEnrollmentToken(),
    seatName: 'seat-01',
    ...(collector.tls ? { caFingerprint: collector.tls.caFingerprint } : {}),
  });
  cleanups.push(() => a.stop());
  return a;
}

async function events(url: string, collector: Collector, agentId: string): Promise<ApiEvent[]> {
  const out: ApiEvent[] = [];
  let after = 0;
  for (;;) {
    const res = await caFetch(collector.tls?.caPem ?? null)(`${url}/api/v1/seats/${agentId}/events?after=${after}&limit=500`, { headers: { authorization: `Bearer ${collector.apiToken}` } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { events: ApiEvent[]; next_after: number | null };
    out.push(...page.events);
    if (page.next_after === null) return out;
    after = page.next_after;
  }
}

const contiguous = (list: ApiEvent[]) => list.map((e) => e.seq).join(',') === list.map((_, i) => i + 1).join(',');

describe('agent → collector', () => {
  it('stores an insertion exactly once, after agent.started', async () => {
    const { collector, url } = await collectorOn(tmp('sg-col-'));
    const a = await agentFor(url, collector, tmp('sg-agent-'));
    const port = a.platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(async () => expect((await events(url, collector, a.identity.agentId)).some((e) => e.type === 'usb.blocked')).toBe(true));
    await eventually(() => expect(a.outbox.depth()).toBe(0));
    const list = await events(url, collector, a.identity.agentId);
    expect(list.map((e) => e.type)).toEqual(['agent.started', 'lock.state', 'usb.inserted', 'usb.blocked']);
    expect(contiguous(list)).toBe(true);
    expect(list[2]?.body).toMatchObject({ present_at_start: false, device: { port, vendor_id: '0781', product_id: '5583' } });
  });

  it('delivers every event exactly once and in order across a collector restart on the same data dir', async () => {
    const dataDir = tmp('sg-col-');
    const first = await collectorOn(dataDir);
    const port = Number(new URL(first.url).port);
    const a = await agentFor(first.url, first.collector, tmp('sg-agent-'));
    // Plug and unplug one device at a time, each seen by the agent before it goes.
    const plug = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const p = a.platform.insert(deviceFixture(i % 2 === 0 ? 'sandisk-ultra-fit' : 'logitech-k120'));
        await eventually(() => expect(a.agent.snapshot().devices).toBe(1));
        a.platform.remove(p);
        await eventually(() => expect(a.agent.snapshot().devices).toBe(0));
      }
    };
    await plug(10);
    await eventually(() => expect(a.outbox.depth()).toBe(0));
    await first.collector.stop();
    // The agent keeps enforcing and queueing while the collector is down.
    await plug(10);
    expect(a.outbox.depth()).toBeGreaterThanOrEqual(25);
    const second = await collectorOn(dataDir, port);
    await plug(10);
    await eventually(() => expect(a.outbox.depth()).toBe(0), 10_000);
    const list = await events(second.url, second.collector, a.identity.agentId);
    expect(contiguous(list)).toBe(true);
    expect(list).toHaveLength(a.outbox.lastSeq());
    expect(list.filter((e) => e.type === 'usb.inserted')).toHaveLength(30);
    expect(list.filter((e) => e.type === 'usb.removed')).toHaveLength(30);
  });

  it('stores a hostile device string sanitized and capped', async () => {
    const { collector, url } = await collectorOn(tmp('sg-col-'));
    const a = await agentFor(url, collector, tmp('sg-agent-'));
    const spec = deviceFixture('hostile-strings');
    spec.product = `<script>alert(1)</script>\u0000\u001b[2J\u202e${'A'.repeat(10 * 1024)}`;
    a.platform.insert(spec);
    await eventually(async () => expect((await events(url, collector, a.identity.agentId)).some((e) => e.type === 'usb.blocked')).toBe(true));
    const inserted = (await events(url, collector, a.identity.agentId)).find((e) => e.type === 'usb.inserted');
    const device = inserted?.body.device as { product: string; manufacturer: string; serial: string };
    expect([...device.product]).toHaveLength(128);
    expect(device.product.startsWith('<script>alert(1)</script>\uFFFD\uFFFD[2J\uFFFD')).toBe(true);
    expect(device.product.endsWith('…')).toBe(true);
    expect([...device.manufacturer].some((ch) => ch.charCodeAt(0) < 0x20)).toBe(false);
    expect(device.serial).toBe('"; DROP TABLE events; --');
  });
});
