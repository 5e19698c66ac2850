import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SAMPLE_DEVICE } from '../harness.js';
import { eventually } from '../../../helpers/eventually.js';
import { sendBlocked, startAlertsHttp, type AlertsHttp, type ApiUser, type Json } from './alerts-http-harness.js';

describe('alert work orders over HTTP', () => {
  let h: AlertsHttp;
  let duty: ApiUser;
  let duty2: ApiUser;

  beforeEach(async () => {
    h = await startAlertsHttp();
    duty = await h.user('duty1', ['duty']);
    duty2 = await h.user('duty2', ['duty']);
  });
  afterEach(async () => {
    await h.cleanup();
  });

  async function oneAlert(): Promise<{ id: number; agentId: string }> {
    const s = await h.seat();
    await sendBlocked(s);
    const res = await eventually(async () => {
      const r = await h.api('GET', '/alerts', { token: duty.token });
      expect(r.json.alerts).toHaveLength(1);
      return r;
    });
    return { id: res.json.alerts[0].id, agentId: s.agent.agentId };
  }

  it('shows an alert at GET /alerts once a seat reports a blocked USB stick', async () => {
    const s = await h.seat();
    await sendBlocked(s);
    const res = await eventually(async () => {
      const r = await h.api('GET', '/alerts');
      expect(r.json.total).toBe(1);
      return r;
    });
    expect(res.status).toBe(200);
    const a = res.json.alerts[0];
    expect(a).toMatchObject({ rule: 'usb.blocked', severity: 'high', state: 'open', count: 1 });
    expect(a.seat.agent_id).toBe(s.agent.agentId);
    expect(a.device).toMatchObject({ vendor_id: SAMPLE_DEVICE.vendor_id, product_id: SAMPLE_DEVICE.product_id, serial: SAMPLE_DEVICE.serial });
    expect(res.json).toMatchObject({ limit: 50, offset: 0 });
  });

  it('counts a second event of the same stick into the same alert (dedup)', async () => {
    const s = await h.seat();
    await sendBlocked(s);
    await sendBlocked(s);
    const res = await eventually(async () => {
      const r = await h.api('GET', '/alerts');
      expect(r.json.alerts[0]?.count).toBe(2);
      return r;
    });
    expect(res.json.total).toBe(1);
    const detail = await h.api('GET', `/alerts/${res.json.alerts[0].id}`);
    expect(detail.json.events).toHaveLength(2);
  });

  it('filters by state, severity, seat, rule and since, and pages', async () => {
    const a = await h.seat();
    const b = await h.seat();
    await sendBlocked(a);
    await sendBlocked(b);
    await sendBlocked(a, { ...SAMPLE_DEVICE, serial: 'OTHER-STICK-1' });
    await eventually(async () => expect((await h.api('GET', '/alerts')).json.total).toBe(3));

    expect((await h.api('GET', `/alerts?agent_id=${a.agent.agentId}`)).json.total).toBe(2);
    expect((await h.api('GET', '/alerts?severity=high&state=open&rule=usb.blocked')).json.total).toBe(3);
    expect((await h.api('GET', '/alerts?severity=critical')).json.total).toBe(0);
    expect((await h.api('GET', `/alerts?since=${Date.now() + 60_000}`)).json.total).toBe(0);
    expect((await h.api('GET', `/alerts?since=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}`)).json.total).toBe(3);
    const page = await h.api('GET', '/alerts?limit=2&offset=2');
    expect(page.json).toMatchObject({ total: 3, limit: 2, offset: 2 });
    expect(page.json.alerts).toHaveLength(1);
  });

  it('refuses unknown filters and bad values with 400', async () => {
    for (const q of ['state=closed', 'severity=urgent', 'limit=0', 'limit=501', 'bogus=1', 'since=not-a-time', 'agent_id=%3Cscript%3E']) {
      const r = await h.api('GET', `/alerts?${q}`);
      expect(r.status, q).toBe(400);
      expect(['API_ERR_VALIDATION', 'ALERT_ERR_INVALID_INPUT']).toContain(r.json.error.code);
    }
  });

  it('returns one alert with its history, and 404 ALERT_ERR_NOT_FOUND for an unknown id', async () => {
    const { id } = await oneAlert();
    const d = await h.api('GET', `/alerts/${id}`);
    expect(d.status).toBe(200);
    expect(d.json.alert.id).toBe(id);
    expect(d.json.history.map((e: Json) => e.action)).toEqual(['opened']);
    const missing = await h.api('GET', '/alerts/999999');
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('ALERT_ERR_NOT_FOUND');
    expect((await h.api('GET', '/alerts/abc')).status).toBe(400);
  });

  it('acknowledges, assigns and resolves a work order, recording who did each step', async () => {
    const { id } = await oneAlert();
    const ack = await h.api('POST', `/alerts/${id}/acknowledge`, { token: duty.token });
    expect(ack.status).toBe(200);
    expect(ack.json.alert).toMatchObject({ state: 'acknowledged', acknowledged_by: duty.id, assignee: duty.id });

    const asg = await h.api('POST', `/alerts/${id}/assign`, { token: duty.token, body: { assignee: 'duty2' } });
    expect(asg.status).toBe(200);
    expect(asg.json.alert).toMatchObject({ state: 'acknowledged', assignee: duty2.id, assigned_by: duty.id });

    const res = await h.api('POST', `/alerts/${id}/resolve`, { token: duty2.token, body: { note: 'Stick confiscated; user briefed.' } });
    expect(res.status).toBe(200);
    expect(res.json.alert).toMatchObject({ state: 'resolved', resolved_by: duty2.id, resolution_note: 'Stick confiscated; user briefed.' });

    const d = await h.api('GET', `/alerts/${id}`, { token: duty.token });
    expect(d.json.history.map((e: Json) => [e.action, e.actor])).toEqual([
      ['opened', 'system'],
      ['acknowledged', duty.id],
      ['assigned', duty.id],
      ['resolved', duty2.id],
    ]);
    // The lifecycle steps are also in the tamper-evident audit trail.
    const audited = h.run.collector.audit.list({ targetType: 'alert', targetId: String(id) }).records.map((r) => [r.action, r.actor]);
    expect(audited).toEqual([
      ['alert.acknowledge', duty.id],
      ['alert.assign', duty.id],
      ['alert.resolve', duty2.id],
    ]);
  });

  it('refuses to resolve without a note (400 ALERT_ERR_NOTE_REQUIRED) and leaves the alert open', async () => {
    const { id } = await oneAlert();
    for (const body of [{}, { note: '' }, { note: '   \n  ' }]) {
      const r = await h.api('POST', `/alerts/${id}/resolve`, { token: duty.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe('ALERT_ERR_NOTE_REQUIRED');
    }
    expect((await h.api('GET', `/alerts/${id}`)).json.alert.state).toBe('open');
  });

  it('answers 409 ALERT_ERR_TRANSITION for a step the state does not allow', async () => {
    const { id } = await oneAlert();
    expect((await h.api('POST', `/alerts/${id}/acknowledge`, { token: duty.token })).status).toBe(200);
    const again = await h.api('POST', `/alerts/${id}/acknowledge`, { token: duty.token });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('ALERT_ERR_TRANSITION');
    await h.api('POST', `/alerts/${id}/resolve`, { token: duty.token, body: { note: 'done' } });
    const assignResolved = await h.api('POST', `/alerts/${id}/assign`, { token: duty.token, body: { assignee: 'duty2' } });
    expect(assignResolved.status).toBe(409);
    expect((await h.api('POST', '/alerts/424242/acknowledge', { token: duty.token })).status).toBe(404);
  });

  it('forbids the lifecycle to roles without the action (403) and to callers without a token (401)', async () => {
    const { id } = await oneAlert();
    const auditor = await h.user('auditor1', ['auditor']);
    const approver = await h.user('approver1', ['approver']);
    // The bootstrap token is the built-in officer: reads alerts, works none.
    for (const token of [h.run.collector.apiToken, auditor.token]) {
      expect((await h.api('GET', `/alerts/${id}`, { token })).status).toBe(200);
      const r = await h.api('POST', `/alerts/${id}/acknowledge`, { token });
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('AUTH_ERR_FORBIDDEN');
      expect((await h.api('POST', `/alerts/${id}/resolve`, { token, body: { note: 'x' } })).status).toBe(403);
      expect((await h.api('POST', `/alerts/${id}/assign`, { token, body: { assignee: 'duty1' } })).status).toBe(403);
      expect((await h.api('POST', `/alerts/${id}/notes`, { token, body: { note: 'x' } })).status).toBe(403);
    }
    expect((await h.api('GET', '/alerts', { token: approver.token })).status).toBe(403);
    const anon = await fetch(`${h.run.url}/api/v1/alerts`);
    expect(anon.status).toBe(401);
    expect((await h.api('GET', `/alerts/${id}`)).json.alert.state).toBe('open');
  });

  it('refuses to assign to someone who is not an active user', async () => {
    const { id } = await oneAlert();
    const r = await h.api('POST', `/alerts/${id}/assign`, { token: duty.token, body: { assignee: 'nobody-here' } });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('ALERT_ERR_INVALID_INPUT');
    expect((await h.api('GET', `/alerts/${id}`)).json.alert.assignee).toBeNull();
  });

  it('adds notes, also after resolution, keeping hostile text as data', async () => {
    const { id } = await oneAlert();
    const hostile = '<img src=x onerror=alert(1)>\u202Eevil\u0007 line2';
    const n = await h.api('POST', `/alerts/${id}/notes`, { token: duty.token, body: { note: hostile } });
    expect(n.status).toBe(201);
    await h.api('POST', `/alerts/${id}/resolve`, { token: duty.token, body: { note: 'closed' } });
    expect((await h.api('POST', `/alerts/${id}/notes`, { token: duty.token, body: { note: 'officer confirmed violation' } })).status).toBe(201);
    const notes = (await h.api('GET', `/alerts/${id}`)).json.history.filter((e: Json) => e.action === 'note').map((e: Json) => e.note);
    expect(notes).toHaveLength(2);
    // JSON carries the text as data; bidi and control characters are stripped by the engine.
    expect(notes[0]).toContain('<img src=x onerror=alert(1)>');
    expect(notes[0].includes('\u202E') || notes[0].includes('\u0007')).toBe(false);
    const empty = await h.api('POST', `/alerts/${id}/notes`, { token: duty.token, body: { note: '' } });
    expect(empty.status).toBe(400);
  });

  it('hides alerts of seats outside a department-scoped user (list and 404 on access)', async () => {
    const sales = await h.seat({ department: 'sales' });
    const billing = await h.seat({ department: 'billing' });
    await sendBlocked(sales);
    await sendBlocked(billing);
    await eventually(async () => expect((await h.api('GET', '/alerts')).json.total).toBe(2));
    const salesDuty = await h.user('sales-duty', ['duty'], ['sales']);
    const list = await h.api('GET', '/alerts', { token: salesDuty.token });
    expect(list.json.total).toBe(1);
    expect(list.json.alerts.map((a: Json) => a.seat.agent_id)).toEqual([sales.agent.agentId]);
    expect((await h.api('GET', `/alerts?agent_id=${billing.agent.agentId}`, { token: salesDuty.token })).json.total).toBe(0);
    const billingAlert = (await h.api('GET', `/alerts?agent_id=${billing.agent.agentId}`)).json.alerts[0].id;
    const hidden = await h.api('GET', `/alerts/${billingAlert}`, { token: salesDuty.token });
    expect(hidden.status).toBe(404);
    expect((await h.api('POST', `/alerts/${billingAlert}/acknowledge`, { token: salesDuty.token })).status).toBe(404);
    expect((await h.api('GET', `/alerts/${billingAlert}`)).json.alert.state).toBe('open');
  });
});
