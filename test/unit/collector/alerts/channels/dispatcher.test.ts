import { afterEach, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatcher } from '../../../../../collector/alerts/channels/dispatcher.js';
import { permanentError, retryableError } from '../../../../../collector/alerts/channels/delivery-errors.js';
import type { Alert, AlertSeverity, Channel, DeliveryContext } from '../../../../../collector/alerts/channels/types.js';
import { silentLogger } from '../../../../../shared/logger.js';
import { ManualClock } from '../../../../../shared/clock.js';
import { eventually } from '../../../../helpers/eventually.js';
import { captureLogger } from '../../../../helpers/receivers/log-capture.js';
import { sampleAlert } from '../../../../helpers/receivers/alert-fixtures.js';

type Mode = 'ok' | 'retryable' | 'permanent' | 'throw-sync' | 'hang' | 'gate';

/** An in-memory channel whose behaviour the test switches; it records what it accepted. */
function memoryChannel(name: string, opts: { minSeverity?: AlertSeverity } = {}) {
  let mode: Mode = 'ok';
  let openGate: () => void = () => undefined;
  let gate = new Promise<void>((r) => (openGate = r));
  const attempts: Array<{ id: string; ctx: DeliveryContext | undefined }> = [];
  const delivered: Alert[] = [];
  let closed = false;
  const channel: Channel = {
    name,
    kind: 'webhook',
    ...(opts.minSeverity ? { minSeverity: opts.minSeverity } : {}),
    send(alert, ctx) {
      attempts.push({ id: alert.id, ctx });
      switch (mode) {
        case 'retryable':
          return Promise.reject(retryableError(name, 'receiver down'));
        case 'permanent':
          return Promise.reject(permanentError(name, 'HTTP 400'));
        case 'throw-sync':
          throw new Error('bug in channel');
        case 'hang':
          return new Promise<void>(() => undefined);
        case 'gate':
          return gate.then(() => {
            delivered.push(alert);
          });
        default:
          delivered.push(alert);
          return Promise.resolve();
      }
    },
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
  return {
    channel,
    attempts,
    delivered,
    isClosed: () => closed,
    setMode(m: Mode) {
      mode = m;
    },
    release() {
      openGate();
      gate = new Promise<void>((r) => (openGate = r));
    },
  };
}

const alert = (n: number, severity: AlertSeverity = 'high'): Alert => sampleAlert({ id: `alert-${n}`, severity });

let dispatcher: Dispatcher | null = null;
afterEach(async () => {
  await dispatcher?.stop({ deadlineMs: 100 });
  dispatcher = null;
});

function make(channels: Channel[], extra: Partial<Parameters<typeof createDispatcher>[0]> = {}): Dispatcher {
  dispatcher = createDispatcher({ channels, log: silentLogger(), retry: { baseMs: 2, maxMs: 10, maxAttempts: 0 }, ...extra });
  return dispatcher;
}

describe('createDispatcher', () => {
  it('returns from enqueue before any channel code runs, then delivers', async () => {
    const a = memoryChannel('a');
    const d = make([a.channel]);
    d.enqueue(alert(1));
    expect(a.attempts).toHaveLength(0);
    await eventually(() => expect(a.delivered.map((x) => x.id)).toEqual(['alert-1']));
    expect(d.stats().a).toMatchObject({ sent: 1, failed: 0, retried: 0, dropped: 0, queued: 0 });
  });

  it('delivers alerts to each channel in the order they were enqueued', async () => {
    const a = memoryChannel('a');
    const b = memoryChannel('b');
    const d = make([a.channel, b.channel]);
    for (let i = 0; i < 50; i++) d.enqueue(alert(i));
    const ids = Array.from({ length: 50 }, (_, i) => `alert-${i}`);
    await eventually(() => {
      expect(a.delivered.map((x) => x.id)).toEqual(ids);
      expect(b.delivered.map((x) => x.id)).toEqual(ids);
    });
  });

  it('keeps a snapshot, so the caller mutating its object later changes nothing', async () => {
    const a = memoryChannel('a');
    const d = make([a.channel]);
    const mine = alert(1);
    d.enqueue(mine);
    mine.title = 'changed';
    await eventually(() => expect(a.delivered[0]?.title).toBe('USB mass storage blocked'));
  });

  it('retries a retryable failure with the same delivery id until it succeeds', async () => {
    const a = memoryChannel('a');
    a.setMode('retryable');
    const d = make([a.channel]);
    d.enqueue(alert(1));
    await eventually(() => expect(a.attempts.length).toBeGreaterThanOrEqual(3));
    a.setMode('ok');
    await eventually(() => expect(a.delivered).toHaveLength(1));
    const ids = new Set(a.attempts.map((x) => x.ctx?.delivery_id));
    expect(ids.size).toBe(1);
    expect(a.attempts.map((x) => x.ctx?.attempt)).toEqual(a.attempts.map((_, i) => i + 1));
    const s = d.stats().a;
    expect(s?.sent).toBe(1);
    expect(s?.retried).toBe(a.attempts.length - 1);
    expect(s?.consecutive_failures).toBe(0);
    expect(s?.last_error).toBeNull();
  });

  it('keeps retrying with an injected manual clock that never moves (backoff runs on timers)', async () => {
    const a = memoryChannel('a');
    a.setMode('retryable');
    const d = make([a.channel], { clock: new ManualClock() });
    d.enqueue(alert(1));
    await eventually(() => expect(a.attempts.length).toBeGreaterThanOrEqual(3));
    a.setMode('ok');
    await eventually(() => expect(a.delivered).toHaveLength(1));
    expect(d.stats().a?.last_success_at).toBe('2026-01-01T00:00:00.000Z');
  });

  it('does not retry a permanent failure and counts it as failed', async () => {
    const a = memoryChannel('a');
    a.setMode('permanent');
    const d = make([a.channel]);
    d.enqueue(alert(1));
    d.enqueue(alert(2));
    await eventually(() => expect(d.stats().a?.failed).toBe(2));
    expect(a.attempts.map((x) => x.id)).toEqual(['alert-1', 'alert-2']);
    expect(d.stats().a).toMatchObject({ retried: 0, sent: 0, last_error: 'ALERT_ERR_SEND_PERMANENT' });
  });

  it('gives up after maxAttempts and moves on to the next alert', async () => {
    const a = memoryChannel('a');
    a.setMode('retryable');
    const d = make([a.channel], { retry: { baseMs: 1, maxMs: 2, maxAttempts: 3 } });
    d.enqueue(alert(1));
    await eventually(() => expect(d.stats().a?.failed).toBe(1));
    expect(a.attempts).toHaveLength(3);
    a.setMode('ok');
    d.enqueue(alert(2));
    await eventually(() => expect(a.delivered.map((x) => x.id)).toEqual(['alert-2']));
  });

  it('treats a synchronous throw inside send as a retryable failure', async () => {
    const a = memoryChannel('a');
    a.setMode('throw-sync');
    const d = make([a.channel]);
    d.enqueue(alert(1));
    await eventually(() => expect(d.stats().a?.retried).toBeGreaterThanOrEqual(1));
    a.setMode('ok');
    await eventually(() => expect(a.delivered).toHaveLength(1));
  });

  it('counts a send that never settles as timed out and retries it', async () => {
    const a = memoryChannel('a');
    a.setMode('hang');
    const d = make([a.channel], { sendTimeoutMs: 20 });
    d.enqueue(alert(1));
    await eventually(() => expect(d.stats().a?.last_error).toBe('ALERT_ERR_SEND_TIMEOUT'));
    a.setMode('ok');
    await eventually(() => expect(a.delivered).toHaveLength(1));
  });

  it('drops the oldest non-critical alert when the queue is full and counts the drop', async () => {
    const a = memoryChannel('a');
    a.setMode('gate');
    const d = make([a.channel], { maxQueue: 3 });
    d.enqueue(alert(0, 'low')); // goes in flight, not counted against the bound
    await eventually(() => expect(a.attempts).toHaveLength(1));
    d.enqueue(alert(1, 'critical'));
    d.enqueue(alert(2, 'low'));
    d.enqueue(alert(3, 'medium'));
    d.enqueue(alert(4, 'high')); // full: alert-2 (oldest non-critical) goes
    d.enqueue(alert(5, 'critical')); // full: alert-3 goes
    expect(d.stats().a).toMatchObject({ dropped: 2, queued: 4 });
    a.setMode('ok');
    a.release();
    await eventually(() => expect(a.delivered.map((x) => x.id)).toEqual(['alert-0', 'alert-1', 'alert-4', 'alert-5']));
  });

  it('drops the oldest critical alert only when every queued alert is critical', async () => {
    const a = memoryChannel('a');
    a.setMode('gate');
    const d = make([a.channel], { maxQueue: 2 });
    d.enqueue(alert(0, 'critical'));
    await eventually(() => expect(a.attempts).toHaveLength(1));
    for (let i = 1; i <= 4; i++) d.enqueue(alert(i, 'critical'));
    expect(d.stats().a).toMatchObject({ dropped: 2, queued: 3 });
    a.setMode('ok');
    a.release();
    await eventually(() => expect(a.delivered.map((x) => x.id)).toEqual(['alert-0', 'alert-3', 'alert-4']));
  });

  it('logs queue drops, rate-limited, with counts rather than one line per drop', async () => {
    const a = memoryChannel('a');
    a.setMode('gate');
    const { log, lines } = captureLogger();
    const d = make([a.channel], { maxQueue: 5, log, dropLogIntervalMs: 60_000 });
    for (let i = 0; i < 1_000; i++) d.enqueue(alert(i, 'low'));
    // Nothing is in flight yet (channels run only after enqueue returns), so 5 are kept.
    expect(d.stats().a?.dropped).toBe(1_000 - 5);
    const dropLines = lines.filter((l) => l.msg === 'alert queue full, oldest alerts dropped');
    expect(dropLines.length).toBe(1);
    expect(dropLines[0]).toMatchObject({ channel: 'a', dropped_total: 1 });
    a.release();
  });

  it('skips channels whose minimum severity the alert does not reach', async () => {
    const all = memoryChannel('all');
    const urgent = memoryChannel('urgent', { minSeverity: 'high' });
    const d = make([all.channel, urgent.channel]);
    d.enqueue(alert(1, 'low'));
    d.enqueue(alert(2, 'high'));
    d.enqueue(alert(3, 'critical'));
    await eventually(() => expect(all.delivered).toHaveLength(3));
    await eventually(() => expect(urgent.delivered.map((x) => x.id)).toEqual(['alert-2', 'alert-3']));
  });

  it('never throws from enqueue, even for an alert object that throws when read', () => {
    const a = memoryChannel('a');
    const d = make([a.channel]);
    const evil = alert(1);
    Object.defineProperty(evil, 'title', {
      get() {
        throw new Error('boom');
      },
    });
    expect(() => d.enqueue(evil)).not.toThrow();
    expect(d.stats().a?.dropped).toBe(1);
  });

  it('keeps delivering on one channel while another hangs', async () => {
    const stuck = memoryChannel('stuck');
    stuck.setMode('hang');
    const ok = memoryChannel('ok');
    const d = make([stuck.channel, ok.channel], { maxQueue: 10 });
    for (let i = 0; i < 100; i++) d.enqueue(alert(i));
    await eventually(() => expect(ok.delivered.length).toBeGreaterThanOrEqual(10));
    expect(stuck.attempts).toHaveLength(1);
  });

  it('refuses duplicate channel names', () => {
    const a = memoryChannel('same');
    const b = memoryChannel('same');
    expect(() => createDispatcher({ channels: [a.channel, b.channel], log: silentLogger() })).toThrow(expect.objectContaining({ code: 'ALERT_ERR_CHANNEL_CONFIG' }));
  });

  describe('stop', () => {
    it('delivers what is queued before resolving, then closes the channels', async () => {
      const a = memoryChannel('a');
      const d = make([a.channel]);
      for (let i = 0; i < 20; i++) d.enqueue(alert(i));
      const result = await d.stop({ deadlineMs: 5_000 });
      expect(result).toEqual({ flushed: true, undelivered: 0 });
      expect(a.delivered).toHaveLength(20);
      expect(a.isClosed()).toBe(true);
    });

    it('gives up at the deadline, reports what was left and counts it as dropped', async () => {
      const a = memoryChannel('a');
      a.setMode('retryable');
      const d = make([a.channel]);
      for (let i = 0; i < 5; i++) d.enqueue(alert(i));
      const result = await d.stop({ deadlineMs: 50 });
      expect(result.flushed).toBe(false);
      expect(result.undelivered).toBe(5);
      expect(a.isClosed()).toBe(true);
      await eventually(() => expect(d.stats().a?.dropped).toBe(5));
    });

    it('refuses alerts enqueued after stop and counts them as dropped', async () => {
      const a = memoryChannel('a');
      const d = make([a.channel]);
      await d.stop();
      d.enqueue(alert(1));
      expect(d.stats().a?.dropped).toBe(1);
      expect(a.attempts).toHaveLength(0);
    });

    it('returns the same result when called twice', async () => {
      const a = memoryChannel('a');
      const d = make([a.channel]);
      const [r1, r2] = await Promise.all([d.stop(), d.stop()]);
      expect(r1).toBe(r2);
    });
  });
});
