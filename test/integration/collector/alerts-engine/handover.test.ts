import { afterEach, describe, expect, it } from 'vitest';
import { renderHandoverMarkdown } from '../../../../collector/alerts/handover-render.js';
import { isAppError } from '../../../../shared/errors.js';
import * as S from '../../../unit/collector/alerts/engine/samples.js';
import { createEngineHarness, iso, MIN, type EngineHarness } from './engine-harness.js';

/** The unlock workflow's migration may or may not be in MIGRATIONS yet; these tests set the table up themselves. */
function withoutUnlockTable(h: EngineHarness): void {
  h.store.db.exec('DROP TABLE IF EXISTS unlock_requests');
}

const harnesses: EngineHarness[] = [];
function setup(...args: Parameters<typeof createEngineHarness>): EngineHarness {
  const h = createEngineHarness(...args);
  harnesses.push(h);
  for (const [id, name] of [['agt_a', 'A-01'], ['agt_b', 'B-02'], ['agt_c', 'C-03']] as const) h.seat(id, name);
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

describe('alert engine: shift handover report', () => {
  it('lists open alerts by severity, offline seats and the shift counts, and notes that grants cannot be listed yet', () => {
    const h = setup();
    withoutUnlockTable(h);
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.emit('agt_b', 'lock.state', S.lockState('degraded'));
    h.emit('agt_b', 'software.installed', S.softwareInstalled(true));
    h.emit('agt_a', 'network.changed', S.networkChanged());
    const net = h.engine.list({ rule: 'network.changed' }).alerts[0]!.id;
    h.engine.acknowledge(net, 'duty-1');
    h.engine.resolve(net, 'duty-1', 'planned re-cabling');
    const usb = h.engine.list({ rule: 'usb.blocked' }).alerts[0]!.id;
    h.engine.assign(usb, 'maint-2', 'duty-1');

    h.clock.advance(5 * MIN);
    h.heartbeat('agt_a');
    h.heartbeat('agt_b'); // agt_c stays silent
    const r = h.engine.handoverReport();

    expect(r.period).toEqual({ from: iso(h.clock.now() - 8 * 60 * MIN), to: iso(h.clock.now()), source: 'shift_length' });
    expect(r.open_alerts.total).toBe(3);
    expect(r.open_alerts.by_severity).toEqual({ critical: 1, high: 1, medium: 0, low: 1 });
    expect(r.open_alerts.items.map((a) => [a.severity, a.rule, a.seat_name])).toEqual([
      ['critical', 'lock.state', 'B-02'],
      ['high', 'usb.blocked', 'A-01'],
      ['low', 'software.upgraded', 'B-02'],
    ]);
    expect(r.open_alerts.items[1]!.assignee).toBe('maint-2');
    expect(r.offline_seats.items.map((s) => s.seat_name)).toEqual(['C-03']);
    expect(r.active_grants).toMatchObject({ available: false, items: [] });
    expect(r.active_grants.note?.zh).toContain('解锁审批流程尚未启用');
    expect(r.counts).toEqual({ raised: { low: 1, medium: 1, high: 1, critical: 1, total: 4 }, acknowledged: 1, assigned: 1, escalated: 0, resolved: 1 });

    const md = renderHandoverMarkdown(r);
    expect(md).toContain('## 一、未关闭告警（共 3 条）');
    expect(md).toContain('| C-03 |');
  });

  it('counts from the last confirmed handover, which records both people and a snapshot of the report', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(MIN);
    const done = h.engine.confirmHandover({ outgoing: 'duty-night', incoming: 'duty-day' });
    expect(done.report.counts.raised.total).toBe(1);
    const row = h.store.db.prepare('SELECT outgoing, incoming, at FROM alert_handovers WHERE id = ?').get(done.id);
    expect(row).toEqual({ outgoing: 'duty-night', incoming: 'duty-day', at: done.at });

    h.clock.advance(MIN);
    h.emit('agt_b', 'lock.state', S.lockState('degraded'));
    const r = h.engine.handoverReport();
    expect(r.period).toMatchObject({ from: done.at, source: 'last_handover' });
    expect(r.counts.raised.total).toBe(1); // only the one raised after the handover
    expect(r.open_alerts.total).toBe(2); // open alerts carry over whatever their age
    expect(h.engine.handoverReport(h.clock.now(), { since: h.clock.now() - 30 * 24 * 60 * MIN }).counts.raised.total).toBe(2);
  });

  it('refuses a handover to oneself', () => {
    const h = setup();
    let code = '';
    try {
      h.engine.confirmHandover({ outgoing: 'duty-1', incoming: 'duty-1' });
    } catch (err) {
      code = isAppError(err) ? err.code : 'other';
    }
    expect(code).toBe('ALERT_ERR_INVALID_INPUT');
  });

  it('lists active grants from the unlock workflow table (grant id, executor, expiry), soonest expiry first', () => {
    const h = setup();
    withoutUnlockTable(h);
    // The columns the unlock workflow's migration uses (collector/store/migrations-unlock.ts).
    h.store.db.exec(`CREATE TABLE unlock_requests (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, state TEXT NOT NULL,
      grant_id TEXT, grant_executor TEXT, grant_expires_at TEXT)`);
    h.store.db.exec(`INSERT INTO unlock_requests VALUES
      ('ur-1', 'agt_a', 'active', 'g-1', 'maint-1', '2026-01-05T03:00:00.000Z'),
      ('ur-2', 'agt_b', 'ended', 'g-2', 'maint-1', '2026-01-05T02:00:00.000Z'),
      ('ur-3', 'agt_c', 'pending', NULL, NULL, NULL),
      ('ur-4', 'agt_c', 'active', 'g-4', 'maint-2', '2026-01-05T02:30:00.000Z')`);
    const r = h.engine.handoverReport();
    expect(r.active_grants).toEqual({
      available: true,
      note: null,
      items: [
        { id: 'g-4', agent_id: 'agt_c', seat_name: 'C-03', executor: 'maint-2', expires_at: '2026-01-05T02:30:00.000Z' },
        { id: 'g-1', agent_id: 'agt_a', seat_name: 'A-01', executor: 'maint-1', expires_at: '2026-01-05T03:00:00.000Z' },
      ],
    });
  });

  it('prefers grants supplied by the unlock workflow when wired', () => {
    const h = setup({ activeGrants: () => [{ id: 'g-9', agent_id: 'agt_c', seat_name: 'C-03', executor: 'maint-3', expires_at: null }] });
    expect(h.engine.handoverReport().active_grants.items.map((g) => g.id)).toEqual(['g-9']);
  });

  it('reports an unknown unlock_requests shape instead of guessing', () => {
    const h = setup();
    withoutUnlockTable(h);
    h.store.db.exec('CREATE TABLE unlock_requests (request_id TEXT, status TEXT)');
    const g = h.engine.handoverReport().active_grants;
    expect(g.available).toBe(false);
    expect(g.note?.en).toContain('unknown shape');
  });
});
