import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { escapeHtml } from '../../../../collector/reports/monthly-html.js';
import { eventually } from '../../../helpers/eventually.js';
import { blocked, device, startConsoleApi, type ConsoleApi } from './console-harness.js';

const XSS = '<img src=x onerror=alert(1)>';

describe('console API: monthly report', () => {
  let c: ConsoleApi | undefined;
  afterEach(async () => {
    await c?.cleanup();
    c = undefined;
  });

  async function scenario(clock: ManualClock) {
    c = await startConsoleApi({ clock });
    const sales1 = await c.seat({ department: 'Sales', seatName: 'CC-SALES-1' });
    const sales2 = await c.seat({ department: 'Sales', seatName: 'CC-SALES-2' });
    const support = await c.seat({ department: 'Support', seatName: 'CC-SUP-1' });
    await sales1.send(blocked(device({ serial: 'A' })), blocked(device({ serial: 'B' })));
    await support.send(blocked(device({ serial: XSS, product: XSS })));
    await eventually(() => (c!.run.collector.store.db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n === 3);

    const requester = await c.user('duty1', ['duty'], '*', '张伟');
    const maint = await c.user('maint1', ['maintainer'], '*', '李娜');
    const approver = await c.user('appr1', ['approver'], '*', '王芳');
    const body = (agentId: string, serial: string, reason: string) => ({
      agent_id: agentId,
      device: { vendor_id: '0781', product_id: '5567', serial },
      reason,
      duration_ms: 60 * 60_000,
    });
    const granted = await c.api('/unlock-requests', { token: requester.token, body: body(sales2.agent.agentId, 'GRANTED-1', 'copy call recordings for QA') });
    expect(granted.status).toBe(201);
    expect((await c.api(`/unlock-requests/${granted.json.id}/approve`, { token: maint.token, body: { note: 'ok' } })).status).toBe(200);
    const rejected = await c.api('/unlock-requests', { token: requester.token, body: body(support.agent.agentId, XSS, `reason ${XSS}`) });
    expect(rejected.status).toBe(201);
    expect((await c.api(`/unlock-requests/${rejected.json.id}/reject`, { token: approver.token, body: { reason: 'not needed' } })).status).toBe(200);
    clock.advance(30 * 60_000);
    return { sales1, sales2, support, requester, maint, approver, grantedId: granted.json.id as string };
  }

  it('reports unlocks with approver and executor names, durations, violations and non-compliant seats per department', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 10, 8, 0));
    const s = await scenario(clock);
    const res = await c!.api('/reports/monthly?month=2026-03');
    expect(res.status).toBe(200);
    const r = res.json;
    expect(r).toMatchObject({ month: '2026-03', tz: 'Asia/Shanghai', from: '2026-02-28T16:00:00.000Z', to: '2026-03-31T16:00:00.000Z', department: null });
    const sales = r.departments.find((d: { department: string }) => d.department === 'Sales');
    const support = r.departments.find((d: { department: string }) => d.department === 'Support');
    expect(sales.seats).toBe(2);
    expect(sales.unlocks).toMatchObject({ available: true, requests: 1, approved: 1, rejected: 0, total_duration_ms: 30 * 60_000 });
    expect(sales.unlocks.items[0]).toMatchObject({
      id: s.grantedId,
      seat_name: 'CC-SALES-2',
      device_key: '0781:5567:s:GRANTED-1',
      state: 'active',
      requested_by: s.requester.id,
      requested_by_name: '张伟',
      approvals: [{ by: s.maint.id, by_name: '李娜' }],
      executor: s.maint.id,
      executor_name: '李娜',
      duration_ms: 30 * 60_000,
    });
    expect(sales.violations).toEqual({ blocked_insertions: 2, alerts: { available: true, total: 2, by_severity: { low: 0, medium: 0, high: 2, critical: 0 } } });
    // CC-SALES-2 never reported a lock state (unknown), so it is listed although it had no violation.
    expect(sales.noncompliant_seats.map((x: { seat_name: string; blocked_insertions: number; alerts: number }) => [x.seat_name, x.blocked_insertions, x.alerts])).toEqual([
      ['CC-SALES-1', 2, 2],
      ['CC-SALES-2', 0, 0],
    ]);
    expect(support.unlocks).toMatchObject({ requests: 1, approved: 0, rejected: 1 });
    expect(support.violations.blocked_insertions).toBe(1);

    const onlySupport = await c!.api('/reports/monthly?month=2026-03&department=Support');
    expect(onlySupport.json.departments.map((d: { department: string }) => d.department)).toEqual(['Support']);
    const before = await c!.api('/reports/monthly?month=2026-02');
    expect(before.json.departments.every((d: { violations: { blocked_insertions: number }; unlocks: { requests: number } }) => d.violations.blocked_insertions === 0 && d.unlocks.requests === 0)).toBe(true);
    expect(c!.run.collector.audit.list({ action: 'access.report' }).records.length).toBe(3);
  });

  it('renders a standalone printable HTML page with every hostile value escaped', async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 10, 8, 0));
    await scenario(clock);
    const res = await c!.api('/reports/monthly?month=2026-03&format=html');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = res.text;
    expect(html).toMatch(/^<!DOCTYPE html>\n<html lang="zh-CN">/);
    expect(html).toContain('@media print');
    expect(html).toContain('解锁记录<span class="en">Unlocks</span>');
    expect(html).toContain('李娜');
    expect(html).not.toContain(XSS);
    expect(html).not.toMatch(/<img|<script|onerror=alert\(1\)>/);
    expect(html).toContain(escapeHtml(`reason ${XSS}`));
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('validates month and time zone and refuses roles without report.read', async () => {
    c = await startConsoleApi();
    for (const q of ['month=2026-13', 'month=26-03', 'month=2026-03&format=pdf', 'month=2026-03&tz=Nowhere/City', '']) {
      const res = await c.api(`/reports/monthly?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json.error.code).toBe('API_ERR_VALIDATION');
    }
    const approver = await c.user('appr2', ['approver']);
    expect((await c.api('/reports/monthly?month=2026-03', { token: approver.token })).status).toBe(403);
  });
});
