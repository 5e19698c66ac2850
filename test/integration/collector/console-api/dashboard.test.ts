import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { heartbeatFrame } from '../harness.js';
import { eventually } from '../../../helpers/eventually.js';
import { blocked, device, startConsoleApi, type ConsoleApi } from './console-harness.js';

const HOUR = 3_600_000;

describe('console API: dashboard', () => {
  let c: ConsoleApi | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  it('counts seats by liveness and lock state, open alerts, pending requests and active grants', async () => {
    c = await startConsoleApi();
    const a = await c.seat({ department: 'Sales' });
    const b = await c.seat({ department: 'Sales' });
    const gone = await c.seat({ department: 'Support' });
    const revoked = await c.seat({ department: 'Support' });
    a.conn.send(heartbeatFrame('locked'));
    b.conn.send(heartbeatFrame('degraded'));
    await b.send(blocked());
    await gone.conn.close();
    c.run.collector.store.agents.revoke(revoked.agent.agentId, new Date().toISOString());

    const duty = await c.user('duty1', ['duty']);
    const maint = await c.user('maint1', ['maintainer']);
    const mk = (agentId: string, serial: string) =>
      c!.api('/unlock-requests', { token: duty.token, body: { agent_id: agentId, device: { vendor_id: '0781', product_id: '5567', serial }, reason: 'firmware update files', duration_ms: 30 * 60_000 } });
    const r1 = await mk(a.agent.agentId, 'S-1');
    expect(r1.status).toBe(201);
    const r2 = await mk(b.agent.agentId, 'S-2');
    expect((await c.api(`/unlock-requests/${r2.json.id}/approve`, { token: maint.token, body: { note: 'ok' } })).status).toBe(200);

    await eventually(async () => {
      const d = await c!.api('/dashboard');
      expect(d.json.seats.lock).toEqual({ locked: 1, degraded: 1, unknown: 1 });
    });
    const d = await c.api('/dashboard');
    expect(d.status).toBe(200);
    expect(d.json.seats).toEqual({ total: 3, online: 2, offline: 1, revoked: 1, lock: { locked: 1, degraded: 1, unknown: 1 } });
    expect(d.json.alerts).toMatchObject({ available: true });
    expect(d.json.alerts.by_severity.high).toBeGreaterThanOrEqual(1);
    expect(d.json.alerts.open).toBe(Object.values(d.json.alerts.by_severity as Record<string, number>).reduce((x, y) => x + y, 0));
    expect(d.json.unlock).toEqual({ available: true, pending: 1, active_grants: 1 });
    expect(d.json.series).toHaveLength(30);
    expect(d.json.series.at(-1).blocked).toBe(1);

    // A department-scoped approver sees their department only.
    const head = await c.user('head-support', ['approver'], ['Support']);
    const scoped = await c.api('/dashboard', { token: head.token });
    expect(scoped.json.seats).toEqual({ total: 1, online: 0, offline: 1, revoked: 1, lock: { locked: 0, degraded: 0, unknown: 1 } });
    expect(scoped.json.unlock).toEqual({ available: true, pending: 0, active_grants: 0 });
    expect(scoped.json.series.at(-1).blocked).toBe(0);
  });

  it('cuts the daily series at local midnight of the requested time zone', async () => {
    // 2026-03-10 15:30Z is 23:30 in Shanghai; 16:30Z is 00:30 on the 11th there but still the 10th in UTC.
    const clock = new ManualClock(Date.UTC(2026, 2, 10, 15, 30));
    c = await startConsoleApi({ clock });
    const s1 = await c.seat();
    const s2 = await c.seat();
    await s1.send(blocked(device({ serial: 'ONE' })));
    clock.advance(HOUR);
    await s2.send(blocked(device({ serial: 'TWO' })));
    await eventually(() => c!.run.collector.store.db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).then((r) => expect(r.n).toBe(2));

    const sh = await c.api('/dashboard?days=3');
    expect(sh.json.tz).toBe('Asia/Shanghai');
    expect(sh.json.series.map((d: { date: string; blocked: number; alerts_opened: number }) => [d.date, d.blocked, d.alerts_opened])).toEqual([
      ['2026-03-09', 0, 0],
      ['2026-03-10', 1, 1],
      ['2026-03-11', 1, 1],
    ]);
    expect(sh.json.series[2]).toMatchObject({ start: '2026-03-10T16:00:00.000Z', end: '2026-03-11T16:00:00.000Z' });
    const utc = await c.api('/dashboard?days=2&tz=UTC');
    expect(utc.json.series.map((d: { date: string; blocked: number }) => [d.date, d.blocked])).toEqual([
      ['2026-03-09', 0],
      ['2026-03-10', 2],
    ]);
    const ny = await c.api(`/dashboard?days=1&tz=${encodeURIComponent('America/New_York')}`);
    expect(ny.json.series[0]).toMatchObject({ date: '2026-03-10', start: '2026-03-10T04:00:00.000Z', blocked: 2 });

    const bad = await c.api('/dashboard?tz=Mars/Olympus');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('API_ERR_VALIDATION');
    expect((await c.api('/dashboard?days=0')).status).toBe(400);
    expect((await c.api('/dashboard?extra=1')).status).toBe(400);
  });

  it('answers 401 without credentials (every role may read the overview)', async () => {
    c = await startConsoleApi();
    const res = await fetch(`${c.run.url}/api/v1/dashboard`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('AUTH_ERR_UNAUTHENTICATED');
  });
});
