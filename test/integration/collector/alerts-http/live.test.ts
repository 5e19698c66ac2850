import { afterEach, describe, expect, it } from 'vitest';
import type { LiveItem } from '../../../../collector/live/live-bus.js';
import { ManualClock } from '../../../../shared/clock.js';
import { eventually } from '../../../helpers/eventually.js';
import { sendBlocked, startAlertsHttp, type AlertsHttp, type Json } from './alerts-http-harness.js';

const MIN = 60_000;

describe('alert changes on the live bus (topic alert)', () => {
  let h: AlertsHttp | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });

  it('publishes raise, dedup count, acknowledge, escalation and resolution, scoped by the seat department', async () => {
    const clock = new ManualClock(Date.now());
    h = await startAlertsHttp({ clock, alerts: { tickIntervalMs: 3_600_000, engine: { escalationAfterMs: 60 * MIN } } });
    const items: LiveItem[] = [];
    h.run.collector.live.subscribe((i) => {
      if (i.topic === 'alert') items.push(i);
    });
    const duty = await h.user('duty1', ['duty']);
    const s = await h.seat({ department: 'sales' });
    const last = () => items.at(-1)!.data as Json;

    await sendBlocked(s);
    await eventually(() => expect(items).toHaveLength(1));
    expect(last()).toMatchObject({ kind: 'alert', change: 'updated', alert: { rule: 'usb.blocked', count: 1, state: 'open' } });
    expect(items[0]!.department).toBe('sales');
    const id = last().alert.id;

    await sendBlocked(s);
    await eventually(() => expect(last().alert.count).toBe(2));

    clock.advance(61 * MIN);
    h.run.collector.alerts.tick();
    // (The same tick may also report the seat offline: its heartbeats are 61 collector minutes old.)
    const escalated = () => items.find((i) => (i.data as Json).alert.id === id && (i.data as Json).alert.escalation.level === 1);
    await eventually(() => expect(escalated()).toBeDefined());
    expect(escalated()!.department).toBe('sales');

    await h.api('POST', `/alerts/${id}/acknowledge`, { token: duty.token });
    expect(last()).toMatchObject({ change: 'acknowledged', alert: { id, state: 'acknowledged' } });

    await h.api('POST', `/alerts/${id}/resolve`, { token: duty.token, body: { note: 'handled' } });
    expect(last()).toMatchObject({ change: 'resolved', alert: { id, state: 'resolved' } });
    // One item per change, no echoes.
    expect(items.filter((i) => (i.data as Json).change === 'resolved')).toHaveLength(1);
  });
});
