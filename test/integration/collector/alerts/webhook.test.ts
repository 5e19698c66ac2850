import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookChannel } from '../../../../collector/alerts/channels/webhook-channel.js';
import { createDispatcher, type Dispatcher } from '../../../../collector/alerts/channels/dispatcher.js';
import type { Channel } from '../../../../collector/alerts/channels/types.js';
import { eventually } from '../../../helpers/eventually.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../../helpers/receivers/webhook-receiver.js';
import { captureLogger } from '../../../helpers/receivers/log-capture.js';
import { HOSTILE, hostileAlert, sampleAlert } from '../../../helpers/receivers/alert-fixtures.js';

const SECRET = 'whsec-7b2f1c0e9a8d4b3c2e1f0a9b8c7d6e5f';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver({ secret: SECRET });
  cleanups.push(() => r.close());
  return r;
}

function channel(url: string, over: { secret?: string; timeoutMs?: number } = {}): Channel {
  const c = createWebhookChannel({ name: 'siem-hook', url, secret: over.secret ?? SECRET, timeoutMs: over.timeoutMs ?? 2_000 });
  cleanups.push(() => c.close?.() ?? Promise.resolve());
  return c;
}

function dispatcher(channels: Channel[], log = captureLogger().log): Dispatcher {
  const d = createDispatcher({ channels, log, retry: { baseMs: 10, maxMs: 50, maxAttempts: 0 } });
  cleanups.push(() => d.stop({ deadlineMs: 200 }));
  return d;
}

describe('webhook channel against a real HTTP receiver', () => {
  it('POSTs JSON whose HMAC signature the receiver verifies on its own', async () => {
    const r = await receiver();
    await channel(r.url).send(sampleAlert(), { delivery_id: 'd-1', attempt: 1 });
    expect(r.requests).toHaveLength(1);
    const req = r.requests[0]!;
    expect(req.signatureValid).toBe(true);
    expect(req.status).toBe(204);
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req.headers['x-seatguard-delivery']).toBe('d-1');
    expect(req.headers['x-seatguard-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(req.json).toMatchObject({ type: 'seatguard.alert', version: 1, delivery_id: 'd-1', attempt: 1, alert: sampleAlert() });
  });

  it('carries hostile text and a 10 KB string byte-exact inside valid JSON', async () => {
    const r = await receiver();
    const alert = hostileAlert({ detail: HOSTILE.big + HOSTILE.crlf + HOSTILE.bidi });
    await channel(r.url).send(alert);
    const body = r.requests[0]!.json as { alert: typeof alert };
    expect(body.alert).toEqual(alert);
    expect(r.requests[0]!.signatureValid).toBe(true);
  });

  it('fails permanently when the receiver rejects the signature (wrong secret)', async () => {
    const r = await receiver();
    await expect(channel(r.url, { secret: 'another-secret-000000000000' }).send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_PERMANENT' });
    expect(r.requests[0]!.status).toBe(401);
  });

  it('classifies 5xx and 429 as retryable and other 4xx as permanent', async () => {
    const r = await receiver();
    const c = channel(r.url);
    for (const [status, code] of [
      [500, 'ALERT_ERR_SEND_RETRYABLE'],
      [503, 'ALERT_ERR_SEND_RETRYABLE'],
      [429, 'ALERT_ERR_SEND_RETRYABLE'],
      [400, 'ALERT_ERR_SEND_PERMANENT'],
      [404, 'ALERT_ERR_SEND_PERMANENT'],
    ] as const) {
      r.failAlways(status);
      await expect(c.send(sampleAlert())).rejects.toMatchObject({ code });
    }
  });

  it('does not follow a redirect (the signed alert only goes where configured)', async () => {
    let hits = 0;
    const redirector = http.createServer((_req, res) => {
      hits++;
      res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    });
    await new Promise<void>((res) => redirector.listen(0, '127.0.0.1', res));
    cleanups.push(() => new Promise<void>((res) => redirector.close(() => res())));
    const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/hook`;
    await expect(channel(url).send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_PERMANENT' });
    expect(hits).toBe(1);
  });

  it('times out a receiver that never answers, as a retryable failure', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    cleanups.push(
      () =>
        new Promise<void>((res) => {
          silent.closeAllConnections();
          silent.close(() => res());
        }),
    );
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`;
    await expect(channel(url, { timeoutMs: 200 }).send(sampleAlert())).rejects.toMatchObject({ code: 'ALERT_ERR_SEND_RETRYABLE' });
  });

  it('retries through the dispatcher after 503s and delivers exactly once with one delivery id', async () => {
    const r = await receiver();
    r.failNext(3, 503);
    const d = dispatcher([channel(r.url)]);
    d.enqueue(sampleAlert());
    await eventually(() => expect(r.accepted()).toHaveLength(1));
    expect(r.requests).toHaveLength(4);
    expect(new Set(r.requests.map((q) => q.headers['x-seatguard-delivery'])).size).toBe(1);
    expect(r.requests.map((q) => (q.json as { attempt: number }).attempt)).toEqual([1, 2, 3, 4]);
    // The receiver records a request before its answer reaches the channel.
    await eventually(() => expect(d.stats()['siem-hook']).toMatchObject({ sent: 1, retried: 3, failed: 0 }));
  });

  it('keeps retrying while the receiver is down and delivers once it is back up', async () => {
    const r = await receiver();
    await r.down();
    const d = dispatcher([channel(r.url)]);
    d.enqueue(sampleAlert({ id: 'while-down' }));
    await eventually(() => expect(d.stats()['siem-hook']?.retried).toBeGreaterThanOrEqual(3));
    expect(d.stats()['siem-hook']?.last_error).toBe('ALERT_ERR_SEND_RETRYABLE');
    await r.up();
    await eventually(() => expect(r.accepted().map((q) => (q.json as { alert: { id: string } }).alert.id)).toEqual(['while-down']));
    await eventually(() => expect(d.stats()['siem-hook']).toMatchObject({ sent: 1, queued: 0, consecutive_failures: 0 }));
  });

  it('never writes the secret or the URL credentials into the logs', async () => {
    const r = await receiver();
    r.failNext(2, 500);
    const cap = captureLogger();
    const withCreds = r.url.replace('http://', 'http://user:pa55word@');
    const d = dispatcher([channel(withCreds)], cap.log);
    d.enqueue(sampleAlert());
    await eventually(() => expect(r.accepted()).toHaveLength(1));
    await d.stop();
    expect(cap.lines.some((l) => l.msg === 'alert delivery failed, will retry')).toBe(true);
    expect(cap.raw()).not.toContain(SECRET);
    expect(cap.raw()).not.toContain('pa55word');
  });
});
