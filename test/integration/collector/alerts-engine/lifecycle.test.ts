import { afterEach, describe, expect, it } from 'vitest';
import { isAppError } from '../../../../shared/errors.js';
import * as S from '../../../unit/collector/alerts/engine/samples.js';
import { createEngineHarness, iso, MIN, type EngineHarness } from './engine-harness.js';

const harnesses: EngineHarness[] = [];
function setup(...args: Parameters<typeof createEngineHarness>): EngineHarness {
  const h = createEngineHarness(...args);
  harnesses.push(h);
  h.seat('agt_a', 'A-01');
  h.seat('agt_b', 'B-02');
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return isAppError(err) ? err.code : `not an AppError: ${String(err)}`;
  }
  return 'no error';
}

function oneAlert(h: EngineHarness, type = 'usb.blocked', body: unknown = S.usbBlocked()): number {
  h.emit('agt_a', type, body);
  return h.engine.list({ agent_id: 'agt_a' }).alerts[0]!.id;
}

describe('alert engine: lifecycle (work orders)', () => {
  it('acknowledges an open alert, making the acknowledger the owner when nobody was assigned', () => {
    const h = setup();
    const id = oneAlert(h);
    h.clock.advance(MIN);
    const v = h.engine.acknowledge(id, 'duty-1');
    expect(v).toMatchObject({ state: 'acknowledged', acknowledged_by: 'duty-1', acknowledged_at: iso(h.clock.now()), assignee: 'duty-1' });
  });

  it('assigns (dispatches) an alert to a maintainer without changing its state, and keeps the assignee on acknowledge', () => {
    const h = setup();
    const id = oneAlert(h);
    expect(h.engine.assign(id, 'maint-7', 'duty-1')).toMatchObject({ state: 'open', assignee: 'maint-7', assigned_by: 'duty-1' });
    expect(h.engine.acknowledge(id, 'duty-2')).toMatchObject({ state: 'acknowledged', assignee: 'maint-7' });
    expect(h.engine.assign(id, 'maint-8', 'duty-2').assignee).toBe('maint-8');
  });

  it('resolves with the incident note, records who and when, and sends the resolution to the channels', () => {
    const h = setup();
    const id = oneAlert(h);
    h.engine.acknowledge(id, 'duty-1');
    h.clock.advance(5 * MIN);
    const v = h.engine.resolve(id, 'duty-1', '原因：员工误插私人U盘\n处置：已教育，设备已带离');
    expect(v).toMatchObject({ state: 'resolved', resolved_by: 'duty-1', resolved_at: iso(h.clock.now()) });
    expect(v.resolution_note).toBe('原因：员工误插私人U盘\n处置：已教育，设备已带离');
    const last = h.sink.alerts[h.sink.alerts.length - 1]!;
    expect(last).toMatchObject({ id: String(id), state: 'resolved' });
    expect(last.detail).toContain('已教育');
  });

  it('refuses to resolve without a note (ALERT_ERR_NOTE_REQUIRED) and leaves the alert unchanged', () => {
    const h = setup();
    const id = oneAlert(h);
    expect(codeOf(() => h.engine.resolve(id, 'duty-1', ''))).toBe('ALERT_ERR_NOTE_REQUIRED');
    expect(codeOf(() => h.engine.resolve(id, 'duty-1', ' \n\t '))).toBe('ALERT_ERR_NOTE_REQUIRED');
    expect(h.engine.get(id)?.alert.state).toBe('open');
  });

  it('refuses forbidden transitions with ALERT_ERR_TRANSITION: resolving twice, acknowledging twice, acting on a closed alert', () => {
    const h = setup();
    const id = oneAlert(h);
    h.engine.acknowledge(id, 'duty-1');
    expect(codeOf(() => h.engine.acknowledge(id, 'duty-2'))).toBe('ALERT_ERR_TRANSITION');
    h.engine.resolve(id, 'duty-1', 'false positive: approved stick');
    expect(codeOf(() => h.engine.resolve(id, 'duty-1', 'again'))).toBe('ALERT_ERR_TRANSITION');
    expect(codeOf(() => h.engine.resolve(id, 'duty-1', ''))).toBe('ALERT_ERR_TRANSITION');
    expect(codeOf(() => h.engine.acknowledge(id, 'duty-1'))).toBe('ALERT_ERR_TRANSITION');
    expect(codeOf(() => h.engine.assign(id, 'maint-1', 'duty-1'))).toBe('ALERT_ERR_TRANSITION');
    expect(h.engine.get(id)?.alert.resolved_by).toBe('duty-1');
  });

  it('answers ALERT_ERR_NOT_FOUND for an unknown id and ALERT_ERR_INVALID_INPUT for a malformed one', () => {
    const h = setup();
    expect(codeOf(() => h.engine.acknowledge(999, 'duty-1'))).toBe('ALERT_ERR_NOT_FOUND');
    expect(codeOf(() => h.engine.acknowledge(-1, 'duty-1'))).toBe('ALERT_ERR_INVALID_INPUT');
    expect(codeOf(() => h.engine.assign(oneAlert(h), '', 'duty-1'))).toBe('ALERT_ERR_INVALID_INPUT');
    expect(h.engine.get(999)).toBeUndefined();
  });

  it('keeps a history of every step, notes included, in order and with hostile text sanitized', () => {
    const h = setup();
    const id = oneAlert(h);
    h.engine.assign(id, 'maint-7', 'duty-1');
    h.engine.acknowledge(id, 'duty-1');
    h.engine.addNote(id, 'duty-1\u202e', '<script>x</script>\u0007');
    h.engine.resolve(id, 'duty-1', 'done');
    h.engine.addNote(id, 'officer-1', 'confirmed as violation (PEN-05)');
    const hist = h.engine.get(id)!.history;
    expect(hist.map((x) => x.action)).toEqual(['opened', 'assigned', 'acknowledged', 'note', 'resolved', 'note']);
    expect(hist[1]).toMatchObject({ actor: 'duty-1', details: { assignee: 'maint-7' } });
    expect(hist[3]).toMatchObject({ actor: 'duty-1\uFFFD', note: '<script>x</script>\uFFFD' });
    expect(() => h.store.db.prepare('DELETE FROM alert_history').run()).toThrow(/append-only/);
  });
});

describe('alert engine: console queries', () => {
  it('filters by state, severity, seat, rule and since, newest first, with pagination and a total', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(MIN);
    h.emit('agt_a', 'lock.state', S.lockState('degraded'));
    h.clock.advance(MIN);
    const since = h.clock.now();
    h.emit('agt_b', 'software.denied', S.softwareDenied('game', 'steam'));
    h.emit('agt_b', 'network.changed', S.networkChanged());
    const all = h.engine.list();
    expect(all.total).toBe(4);
    expect(all.alerts.map((a) => a.rule)).toEqual(['network.changed', 'software.denied', 'lock.state', 'usb.blocked']);
    expect(h.engine.list({ severity: 'critical' }).alerts.map((a) => a.rule)).toEqual(['lock.state']);
    expect(h.engine.list({ agent_id: 'agt_b' }).total).toBe(2);
    expect(h.engine.list({ since }).total).toBe(2);
    expect(h.engine.list({ since: iso(since) }).total).toBe(2);
    expect(h.engine.list({ rule: 'usb.blocked' }).total).toBe(1);
    h.engine.acknowledge(all.alerts[0]!.id, 'duty-1');
    expect(h.engine.list({ state: 'open' }).total).toBe(3);
    const page = h.engine.list({ limit: 2, offset: 2 });
    expect(page).toMatchObject({ total: 4, limit: 2, offset: 2 });
    expect(page.alerts.map((a) => a.rule)).toEqual(['lock.state', 'usb.blocked']);
  });

  it('rejects bad filters with ALERT_ERR_INVALID_INPUT', () => {
    const h = setup();
    for (const q of [{ limit: 0 }, { limit: 501 }, { offset: -1 }, { state: 'closed' }, { severity: 'urgent' }, { since: 'yesterday' }]) {
      expect(codeOf(() => h.engine.list(q as never))).toBe('ALERT_ERR_INVALID_INPUT');
    }
  });
});
