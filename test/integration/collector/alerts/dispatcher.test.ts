import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatcher } from '../../../../collector/alerts/channels/dispatcher.js';
import { createWebhookChannel } from '../../../../collector/alerts/channels/webhook-channel.js';
import { createSyslogChannel } from '../../../../collector/alerts/channels/syslog-channel.js';
import type { Alert, Channel } from '../../../../collector/alerts/channels/types.js';
import { eventually } from '../../../helpers/eventually.js';
import { captureLogger } from '../../../helpers/receivers/log-capture.js';
import { startWebhookReceiver } from '../../../helpers/receivers/webhook-receiver.js';
import { startTcpSyslogReceiver } from '../../../helpers/receivers/syslog-receivers.js';
import { parseRfc5424 } from '../../../helpers/receivers/syslog-parse.js';
import { sampleAlert } from '../../../helpers/receivers/alert-fixtures.js';

const SECRET = 'dispatcher-test-secret-0123456789';
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { maxQueue: number }) {
  const hook = await startWebhookReceiver({ secret: SECRET });
  cleanups.push(() => hook.close());
  const sys = await startTcpSyslogReceiver();
  cleanups.push(() => sys.close());
  const channels: Channel[] = [
    createWebhookChannel({ name: 'hook', url: hook.url, secret: SECRET, timeoutMs: 2_000 }),
    createSyslogChannel({ name: 'siem', host: '127.0.0.1', port: sys.port, transport: 'tcp' }),
  ];
  const cap = captureLogger();
  const d: Dispatcher = createDispatcher({ channels, log: cap.log, maxQueue: opts.maxQueue, retry: { baseMs: 10, maxMs: 80, maxAttempts: 0 } });
  cleanups.push(() => d.stop({ deadlineMs: 500 }));
  const hookIds = () => hook.accepted().map((r) => (r.json as { alert: Alert }).alert.id);
  const sysIds = () => sys.messages.map((m) => parseRfc5424(m).sd?.[0]?.params.id);
  return { hook, sys, d, cap, hookIds, sysIds };
}

const alertN = (i: number): Alert => sampleAlert({ id: `alert-${i}`, severity: i % 100 === 0 ? 'critical' : 'medium' });

describe('dispatcher with real channels and receivers', () => {
  it('takes 10,000 alerts without waiting while the webhook is down, and syslog keeps delivering', async () => {
    const { hook, sys, d, cap, hookIds, sysIds } = await setup({ maxQueue: 200 });
    await hook.down();

    for (let i = 0; i < 10_000; i++) expect(d.enqueue(alertN(i))).toBeUndefined();
    // enqueue ran no channel code: nothing has reached either receiver yet.
    expect(hook.requests).toHaveLength(0);
    expect(sys.messages).toHaveLength(0);

    // Each queue kept 200: all 100 critical alerts plus the newest 100 others.
    const all = Array.from({ length: 10_000 }, (_, i) => alertN(i));
    const critical = all.filter((a) => a.severity === 'critical').map((a) => a.id);
    const newestOthers = all.filter((a) => a.severity !== 'critical').slice(-100).map((a) => a.id);
    const expected = [...critical, ...newestOthers].sort();
    expect(expected).toHaveLength(200);

    await eventually(() => expect([...sysIds()].sort()).toEqual(expected), 15_000);
    await eventually(() => expect(d.stats().siem).toMatchObject({ sent: 200, dropped: 9_800, queued: 0 }));
    expect(sys.framingErrors).toEqual([]);

    const hookStats = d.stats().hook!;
    expect(hookStats.sent).toBe(0);
    expect(hookStats.dropped).toBe(9_800);
    expect(hookStats.queued).toBe(200);
    await eventually(() => expect(d.stats().hook?.retried).toBeGreaterThanOrEqual(2));
    expect(cap.lines.some((l) => l.msg === 'alert queue full, oldest alerts dropped' && l.channel === 'hook')).toBe(true);

    await hook.up();
    await eventually(() => expect([...hookIds()].sort()).toEqual(expected), 15_000);
    await eventually(() => expect(d.stats().hook?.sent).toBe(200));
    expect(hook.accepted().every((r) => r.signatureValid)).toBe(true);
  });

  it('stop() flushes every queued alert to both receivers before resolving', async () => {
    const { d, hookIds, sysIds } = await setup({ maxQueue: 1_000 });
    for (let i = 0; i < 30; i++) d.enqueue(alertN(i + 1));
    const result = await d.stop({ deadlineMs: 10_000 });
    expect(result).toEqual({ flushed: true, undelivered: 0 });
    const ids = Array.from({ length: 30 }, (_, i) => `alert-${i + 1}`);
    // HTTP answers only after the receiver recorded the request; TCP bytes may still be in transit.
    expect(hookIds()).toEqual(ids);
    await eventually(() => expect(sysIds()).toEqual(ids));
  });

  it('stop() returns at its deadline when a receiver stays down and reports what was left', async () => {
    const { hook, d, sysIds } = await setup({ maxQueue: 1_000 });
    await hook.down();
    for (let i = 0; i < 10; i++) d.enqueue(alertN(i + 1));
    const result = await d.stop({ deadlineMs: 300 });
    expect(result.flushed).toBe(false);
    expect(result.undelivered).toBe(10);
    await eventually(() => expect(sysIds()).toHaveLength(10));
    await eventually(() => expect(d.stats().hook?.dropped).toBe(10));
  });
});
