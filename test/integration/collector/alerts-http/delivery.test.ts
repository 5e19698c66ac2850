import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollector, DB_FILE } from '../../../../collector/collector.js';
import { SAMPLE_DEVICE, tempDir } from '../harness.js';
import { eventually } from '../../../helpers/eventually.js';
import { captureLogger } from '../../../helpers/receivers/log-capture.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../helpers/receivers/webhook-receiver.js';
import { blockedFrame, sendBlocked, startAlertsHttp, type AlertsHttp, type Json } from './alerts-http-harness.js';

const SECRET = 'whsec-h2-3f9a1c7e5b2d4a6c8e0f1a3b5c7d9e1f';

describe('alert channels configured through the collector options', () => {
  let h: AlertsHttp | undefined;
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await h?.cleanup();
    await receiver?.close();
    h = undefined;
    receiver = undefined;
  });

  async function start(extra: { stopDeadlineMs?: number } = {}) {
    receiver = await startWebhookReceiver({ secret: SECRET });
    const capture = captureLogger();
    h = await startAlertsHttp({
      log: capture.log,
      alerts: {
        channels: [{ kind: 'webhook', name: 'soc-hook', url: receiver.url, secret: SECRET, timeoutMs: 2_000 }],
        dispatcher: { retry: { baseMs: 10, maxMs: 50, maxAttempts: 0 }, ...(extra.stopDeadlineMs === undefined ? {} : { stopDeadlineMs: extra.stopDeadlineMs }) },
        engine: { consoleUrl: 'https://collector.example' },
      },
    });
    return { h, receiver, capture };
  }

  it('delivers a raised alert to the webhook, signed, with the alert id the API shows', async () => {
    const { h, receiver } = await start();
    const s = await h.seat({ seatName: 'SEAT-A-012' });
    await sendBlocked(s);
    await eventually(() => expect(receiver.accepted()).toHaveLength(1));
    const req = receiver.accepted()[0]!;
    expect(req.signatureValid).toBe(true);
    const body = req.json as Json;
    const listed = (await h.api('GET', '/alerts')).json.alerts[0];
    expect(body).toMatchObject({ type: 'seatguard.alert', version: 1 });
    expect(body.alert).toMatchObject({
      id: String(listed.id),
      rule: 'usb.blocked',
      severity: 'high',
      state: 'open',
      seat: { agent_id: s.agent.agentId, seat_name: 'SEAT-A-012' },
      url: `https://collector.example/alerts/${listed.id}`,
    });
  });

  it('sends the resolution too, when a duty user resolves over HTTP', async () => {
    const { h, receiver } = await start();
    const duty = await h.user('duty1', ['duty']);
    const s = await h.seat();
    await sendBlocked(s);
    await eventually(() => expect(receiver.accepted()).toHaveLength(1));
    const id = (await h.api('GET', '/alerts')).json.alerts[0].id;
    expect((await h.api('POST', `/alerts/${id}/resolve`, { token: duty.token, body: { note: 'false positive: test stick' } })).status).toBe(200);
    await eventually(() => expect(receiver.accepted()).toHaveLength(2));
    expect((receiver.accepted()[1]!.json as Json).alert).toMatchObject({ id: String(id), state: 'resolved' });
  });

  it('keeps acking and storing events while the receiver is down, and delivers once it is back', async () => {
    const { h, receiver } = await start();
    await receiver.down();
    const s = await h.seat();
    const sent: number[] = [];
    for (let i = 0; i < 5; i++) {
      const seq = s.nextSeq();
      sent.push(seq);
      s.conn.send(blockedFrame(seq, { ...SAMPLE_DEVICE, serial: `DOWN-${i}` }));
    }
    // Durability news does not wait for a dead channel: every event is acked and every alert stored.
    await eventually(() => expect(s.conn.ackedSeqs()).toEqual(expect.arrayContaining(sent)));
    expect((await h.api('GET', '/alerts')).json.total).toBe(5);
    await eventually(() => expect(h.run.collector.alertChannelStats()['soc-hook']!.retried).toBeGreaterThan(0));
    expect(receiver.accepted()).toHaveLength(0);

    await receiver.up();
    await eventually(() => expect(receiver.accepted()).toHaveLength(5), 10_000);
    const delivered = receiver.accepted().map((r) => (r.json as Json).alert.device.serial);
    expect(delivered.sort()).toEqual(['DOWN-0', 'DOWN-1', 'DOWN-2', 'DOWN-3', 'DOWN-4']);
    // The receiver records a request before the channel has read the answer.
    await eventually(() => expect(h.run.collector.alertChannelStats()['soc-hook']).toMatchObject({ sent: 5, queued: 0, consecutive_failures: 0 }));
  });

  it('stops within its delivery deadline while a receiver stays down', async () => {
    const { h, receiver, capture } = await start({ stopDeadlineMs: 200 });
    await receiver.down();
    const s = await h.seat();
    await sendBlocked(s);
    await eventually(() => expect(h.run.collector.alertChannelStats()['soc-hook']!.retried).toBeGreaterThan(0));
    await h.run.collector.stop();
    expect(capture.lines.some((l) => l.msg === 'alert dispatcher stopped' && l.undelivered === 1)).toBe(true);
    // A send still in flight at the deadline is counted when it settles.
    await eventually(() => expect(h.run.collector.alertChannelStats()['soc-hook']!.dropped).toBe(1));
    // The webhook secret never reaches the log, whatever happened.
    expect(capture.raw()).not.toContain(SECRET);
  });

  it('refuses an invalid channel config at creation, naming the path but never the secret', async () => {
    const dir = tempDir();
    const bad = 'short-secret'; // below the 16-character minimum
    let err: unknown;
    try {
      createCollector({ dataDir: dir, alerts: { channels: [{ kind: 'webhook', name: 'x', url: 'http://127.0.0.1:9/hook', secret: bad }] } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'CONFIG_ERR_INVALID' });
    expect((err as Error).message).toContain('/alerts/channels/0');
    expect((err as Error).message).not.toContain(bad);
    // Refused before the database was created.
    expect(existsSync(join(dir, DB_FILE))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
