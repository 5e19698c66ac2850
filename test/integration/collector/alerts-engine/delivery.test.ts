import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatcher } from '../../../../collector/alerts/channels/dispatcher.js';
import type { WebhookPayload } from '../../../../collector/alerts/channels/webhook-channel.js';
import { createWebhookChannel } from '../../../../collector/alerts/channels/webhook-channel.js';
import { silentLogger } from '../../../../shared/logger.js';
import { eventually } from '../../../helpers/eventually.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../helpers/receivers/webhook-receiver.js';
import * as S from '../../../unit/collector/alerts/engine/samples.js';
import { createEngineHarness, MIN, type EngineHarness } from './engine-harness.js';

const SECRET = 'alert-engine-webhook-secret-0123456789';
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ h: EngineHarness; hook: WebhookReceiver; d: Dispatcher }> {
  const hook = await startWebhookReceiver({ secret: SECRET });
  cleanups.push(() => hook.close());
  const d = createDispatcher({
    channels: [createWebhookChannel({ name: 'duty-webhook', url: hook.url, secret: SECRET, timeoutMs: 2_000 })],
    log: silentLogger(),
    retry: { baseMs: 10, maxMs: 50, maxAttempts: 0 },
  });
  cleanups.push(() => d.stop({ deadlineMs: 500 }));
  const h = createEngineHarness({ dispatcher: d, config: { consoleUrl: 'https://collector.example/console/' } });
  cleanups.push(() => h.close());
  h.seat('agt_a', 'A-01');
  return { h, hook, d };
}

const payloads = (hook: WebhookReceiver) => hook.accepted().map((r) => r.json as WebhookPayload);

describe('alert engine with the real dispatcher and a webhook receiver', () => {
  it('delivers a raised alert to the receiver, signed, with seat, device, bilingual title and console link', async () => {
    const { h, hook } = await setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const id = h.engine.list().alerts[0]!.id;
    await eventually(() => expect(payloads(hook)).toHaveLength(1));
    const [p] = payloads(hook);
    expect(hook.requests[0]!.signatureValid).toBe(true);
    expect(p!.alert).toMatchObject({
      id: String(id),
      rule: 'usb.blocked',
      severity: 'high',
      state: 'open',
      count: 1,
      seat: { agent_id: 'agt_a', seat_name: 'A-01' },
      device: { vendor_id: '0781', product_id: '5567' },
      url: `https://collector.example/console/alerts/${id}`,
    });
    expect(p!.alert.title).toBe('未授权U盘插入 / Unauthorized USB storage inserted');
  });

  it('returns from onCommitted at once while the receiver is down, and delivers once it is back', async () => {
    const { h, hook, d } = await setup();
    await hook.down();
    const e = h.store1('agt_a', 'lock.state', S.lockState('degraded'));

    // Synchronous and done: the alert is committed before onCommitted returns, and no channel ran yet.
    expect(h.engine.onCommitted([e])).toBeUndefined();
    expect(h.engine.list().alerts[0]).toMatchObject({ rule: 'lock.state', severity: 'critical', state: 'open' });
    expect(hook.requests).toHaveLength(0);

    // Ingest keeps going while deliveries fail and are retried in the background.
    await eventually(() => expect(d.stats()['duty-webhook']!.retried).toBeGreaterThan(0));
    h.clock.advance(MIN);
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    expect(h.engine.list().total).toBe(2);

    await hook.up();
    await eventually(() => expect(payloads(hook).map((p) => p.alert.rule).sort()).toEqual(['lock.state', 'usb.blocked']), 10_000);
  });

  it('delivers the escalation marker and the automatic resolution of a missed-heartbeat alert', async () => {
    const { h, hook } = await setup();
    h.clock.advance(4 * MIN);
    h.engine.tick();
    h.clock.advance(60 * MIN);
    h.engine.tick();
    h.heartbeat('agt_a');
    h.engine.tick();
    await eventually(() => expect(payloads(hook)).toHaveLength(3));
    const seen = payloads(hook).map((p) => [p.alert.rule, p.alert.state, p.alert.title.includes('ESCALATED L1 → officer')]);
    expect(seen).toEqual([
      ['agent.offline', 'open', false],
      ['agent.offline', 'open', true],
      ['agent.offline', 'resolved', false],
    ]);
  });
});
