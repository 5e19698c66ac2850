import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { PROTOCOL_VERSION } from '../../../../shared/protocol/version.js';
import { msgId } from '../harness.js';
import { eventually } from '../../../helpers/eventually.js';
import { sendBlocked, startAlertsHttp, type AlertsHttp, type ApiUser } from './alerts-http-harness.js';

const MIN = 60_000;

describe('shift handover over HTTP', () => {
  let h: AlertsHttp;
  let duty: ApiUser;
  let duty2: ApiUser;
  beforeEach(async () => {
    h = await startAlertsHttp({ alerts: { tickIntervalMs: 3_600_000 } });
    duty = await h.user('duty1', ['duty']);
    duty2 = await h.user('duty2', ['duty']);
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('returns the pre-filled report as JSON with the open alerts of the shift', async () => {
    const s = await h.seat({ seatName: 'SEAT-B-007' });
    await sendBlocked(s);
    const r = await h.api('GET', '/handover', { token: duty.token });
    expect(r.status).toBe(200);
    expect(r.json.open_alerts.total).toBe(1);
    expect(r.json.open_alerts.items[0]).toMatchObject({ rule: 'usb.blocked', severity: 'high', seat_name: 'SEAT-B-007' });
    expect(r.json.counts.raised.total).toBe(1);
    expect(r.json.period.source).toBe('shift_length');
  });

  it('returns the report as Markdown for ?format=md, served as text a browser will not sniff as HTML', async () => {
    const s = await h.seat({ seatName: 'SEAT-C-101' });
    await sendBlocked(s);
    const r = await h.api('GET', '/handover?format=md', { token: duty.token });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.text.startsWith('# 交接班报告')).toBe(true);
    const row = r.text.split('\n').find((l) => l.includes('SEAT-C-101'));
    expect(row).toContain('未授权U盘插入');
    expect(r.text).toContain('新增告警：1');
    expect((await h.api('GET', '/handover?format=html', { token: duty.token })).status).toBe(400);
  });

  it('counts from the last confirmed handover, and refuses handing over to oneself or to a non-duty user', async () => {
    const s = await h.seat();
    await sendBlocked(s);
    const self = await h.api('POST', '/handover/confirm', { token: duty.token, body: { incoming: 'duty1' } });
    expect(self.status).toBe(400);
    const officer = await h.user('officer1', ['officer']);
    const notDuty = await h.api('POST', '/handover/confirm', { token: duty.token, body: { incoming: officer.username } });
    expect(notDuty.status).toBe(400);
    expect(notDuty.json.error.code).toBe('ALERT_ERR_INVALID_INPUT');

    const ok = await h.api('POST', '/handover/confirm', { token: duty.token, body: { incoming: 'duty2' } });
    expect(ok.status).toBe(201);
    expect(ok.json.handover).toMatchObject({ outgoing: duty.id, incoming: duty2.id });
    expect(ok.json.report.open_alerts.total).toBe(1);
    const audited = h.run.collector.audit.list({ action: 'handover.confirm' }).records;
    expect(audited.map((a) => [a.actor, a.target_id])).toEqual([[duty.id, duty2.id]]);

    const next = await h.api('GET', '/handover', { token: duty2.token });
    expect(next.json.period).toMatchObject({ source: 'last_handover', from: ok.json.handover.at });
    // The alert is still open (handed over), but it was raised in the previous shift.
    expect(next.json.open_alerts.total).toBe(1);
    expect(next.json.counts.raised.total).toBe(0);
  });

  it('lets only duty staff confirm a handover (403 for read-only roles)', async () => {
    const auditor = await h.user('auditor1', ['auditor']);
    expect((await h.api('GET', '/handover', { token: auditor.token })).status).toBe(200);
    const r = await h.api('POST', '/handover/confirm', { token: auditor.token, body: { incoming: 'duty2' } });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('AUTH_ERR_FORBIDDEN');
    const approver = await h.user('approver1', ['approver']);
    expect((await h.api('GET', '/handover', { token: approver.token })).status).toBe(403);
  });
});

describe('seat maintenance windows over HTTP', () => {
  let h: AlertsHttp;
  let clock: ManualClock;
  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    h = await startAlertsHttp({ clock, alerts: { tickIntervalMs: 3_600_000, engine: { heartbeatMissAfterMs: 3 * MIN } } });
  });
  afterEach(async () => {
    await h.cleanup();
  });

  function stoppingFrame(seq: number) {
    return { v: PROTOCOL_VERSION, type: 'agent.stopping', id: msgId(), ts: new Date().toISOString(), seq, body: { reason: 'maintenance' } };
  }

  it('silences agent.stopping during a window opened by a maintainer, and alerts again after it ends', async () => {
    const maintainer = await h.user('maint1', ['maintainer']);
    const s = await h.seat();
    const open = await h.api('POST', `/seats/${s.agent.agentId}/maintenance`, { token: maintainer.token, body: { duration_ms: 30 * MIN, reason: 'replace keyboard' } });
    expect(open.status).toBe(201);
    expect(open.json.maintenance).toMatchObject({ agent_id: s.agent.agentId, created_by: maintainer.id });
    expect(h.run.collector.audit.list({ action: 'alert.maintenance_start' }).records).toHaveLength(1);

    let seq = s.nextSeq();
    s.conn.send(stoppingFrame(seq));
    await eventually(() => expect(s.conn.ackedSeqs()).toContain(seq));
    expect((await h.api('GET', '/alerts?rule=agent.stopping')).json.total).toBe(0);

    const ended = await h.api('DELETE', `/seats/${s.agent.agentId}/maintenance`, { token: maintainer.token });
    expect(ended.json).toEqual({ ended: 1 });
    seq = s.nextSeq();
    s.conn.send(stoppingFrame(seq));
    await eventually(() => expect(s.conn.ackedSeqs()).toContain(seq));
    expect((await h.api('GET', '/alerts?rule=agent.stopping')).json.total).toBe(1);
  });

  it('refuses maintenance windows to duty staff (403), for unknown or foreign seats (404) and with bad input (400)', async () => {
    const duty = await h.user('duty1', ['duty']);
    const s = await h.seat({ department: 'billing' });
    const body = { duration_ms: 10 * MIN, reason: 'x' };
    expect((await h.api('POST', `/seats/${s.agent.agentId}/maintenance`, { token: duty.token, body })).status).toBe(403);
    const salesMaint = await h.user('maint-sales', ['maintainer'], ['sales']);
    expect((await h.api('POST', `/seats/${s.agent.agentId}/maintenance`, { token: salesMaint.token, body })).status).toBe(404);
    const maint = await h.user('maint1', ['maintainer']);
    expect((await h.api('POST', '/seats/agt_nope/maintenance', { token: maint.token, body })).status).toBe(404);
    for (const bad of [{ duration_ms: 0, reason: 'x' }, { duration_ms: 8 * 24 * 60 * MIN, reason: 'x' }, { duration_ms: MIN }, { duration_ms: MIN, reason: '\u0007' }]) {
      const r = await h.api('POST', `/seats/${s.agent.agentId}/maintenance`, { token: maint.token, body: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
  });
});
