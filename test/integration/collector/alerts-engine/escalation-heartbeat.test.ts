import { afterEach, describe, expect, it } from 'vitest';
import * as S from '../../../unit/collector/alerts/engine/samples.js';
import { createEngineHarness, MIN, type EngineHarness } from './engine-harness.js';

const harnesses: EngineHarness[] = [];
function setup(...args: Parameters<typeof createEngineHarness>): EngineHarness {
  const h = createEngineHarness(...args);
  harnesses.push(h);
  h.seat('agt_a', 'A-01');
  return h;
}
afterEach(() => {
  for (const h of harnesses.splice(0)) h.close();
});

const offline = (h: EngineHarness) => h.engine.list({ rule: 'agent.offline' }).alerts;

describe('alert engine: escalation', () => {
  it('escalates an alert nobody acknowledged within 60 min to level 1 (officer), not a minute earlier', () => {
    const h = setup();
    h.emit('agt_a', 'lock.state', S.lockState('degraded'));
    const id = h.engine.list().alerts[0]!.id;
    h.heartbeat('agt_a');
    h.clock.advance(59 * MIN);
    h.heartbeat('agt_a');
    expect(h.engine.tick().escalated).toBe(0);
    expect(h.engine.get(id)?.alert.escalation.level).toBe(0);
    h.clock.advance(MIN);
    expect(h.engine.tick().escalated).toBe(1);
    const a = h.engine.get(id)!;
    expect(a.alert.escalation).toEqual({ level: 1, role: 'officer', at: new Date(h.clock.now()).toISOString() });
    expect(a.history.find((x) => x.action === 'escalated')?.details).toEqual({ level: 1, role: 'officer' });
    const sent = h.sink.alerts[h.sink.alerts.length - 1]!;
    expect(sent.id).toBe(String(id));
    expect(sent.title.startsWith('【已升级 L1 → officer】[ESCALATED L1 → officer]')).toBe(true);
  });

  it('climbs the chain one level per period and stops at its end (duty → officer → admin)', () => {
    const h = setup({ config: { heartbeatMissAfterMs: 1_000 * MIN } });
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const id = h.engine.list().alerts[0]!.id;
    const levels: Array<[number, string | null]> = [];
    for (let i = 0; i < 4; i++) {
      h.clock.advance(60 * MIN);
      h.engine.tick();
      const e = h.engine.get(id)!.alert.escalation;
      levels.push([e.level, e.role]);
    }
    expect(levels).toEqual([
      [1, 'officer'],
      [2, 'admin'],
      [2, 'admin'],
      [2, 'admin'],
    ]);
    expect(h.sink.alerts.filter((a) => a.title.includes('ESCALATED'))).toHaveLength(2);
  });

  it('never escalates an acknowledged alert, nor a resolved one', () => {
    const h = setup({ config: { heartbeatMissAfterMs: 1_000 * MIN } });
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.emit('agt_a', 'lock.state', S.lockState('degraded'));
    const [lock, usb] = h.engine.list().alerts;
    h.clock.advance(10 * MIN);
    h.engine.acknowledge(usb!.id, 'duty-1');
    h.engine.resolve(lock!.id, 'duty-1', 'agent reinstalled, lock verified');
    h.clock.advance(5 * 60 * MIN);
    expect(h.engine.tick().escalated).toBe(0);
    expect(h.engine.list().alerts.map((a) => a.escalation.level)).toEqual([0, 0]);
  });

  it('honours a configured period and chain', () => {
    const h = setup({ config: { escalationAfterMs: 5 * MIN, escalationChain: ['duty', 'leader'], heartbeatMissAfterMs: 1_000 * MIN } });
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(5 * MIN);
    h.engine.tick();
    expect(h.engine.list().alerts[0]!.escalation).toMatchObject({ level: 1, role: 'leader' });
  });
});

describe('alert engine: missed heartbeats', () => {
  it('raises agent.offline once when a seat misses heartbeats for more than 3 min, and auto-resolves it when the seat is back', () => {
    const h = setup();
    h.clock.advance(3 * MIN);
    expect(h.engine.tick().offlineRaised).toBe(0);
    h.clock.advance(1);
    expect(h.engine.tick().offlineRaised).toBe(1);
    h.clock.advance(MIN);
    expect(h.engine.tick().offlineRaised).toBe(0);
    expect(offline(h)).toHaveLength(1);
    expect(offline(h)[0]).toMatchObject({ severity: 'medium', state: 'open', seat: { seat_name: 'A-01' } });
    expect(offline(h)[0]!.title.zh).toContain('座席离线');

    h.heartbeat('agt_a');
    expect(h.engine.tick().offlineResolved).toBe(1);
    const a = offline(h)[0]!;
    expect(a).toMatchObject({ state: 'resolved', resolved_by: 'system' });
    expect(a.resolution_note).toContain('heartbeat resumed');
    expect(h.sink.alerts.map((x) => x.state)).toEqual(['open', 'resolved']);
  });

  it('raises a new offline alert when the seat drops out again after recovering', () => {
    const h = setup();
    h.clock.advance(4 * MIN);
    h.engine.tick();
    h.heartbeat('agt_a');
    h.engine.tick();
    h.clock.advance(4 * MIN);
    h.engine.tick();
    expect(offline(h).map((a) => a.state)).toEqual(['open', 'resolved']);
  });

  it('uses the configured threshold', () => {
    const h = setup({ config: { heartbeatMissAfterMs: 30_000 } });
    h.clock.advance(30_001);
    expect(h.engine.tick().offlineRaised).toBe(1);
  });

  it('does not raise for a seat inside a maintenance window', () => {
    const h = setup();
    h.engine.startMaintenance('agt_a', { by: 'maint-1', durationMs: 60 * MIN, reason: 'reimaging' });
    h.clock.advance(30 * MIN);
    expect(h.engine.tick().offlineRaised).toBe(0);
    h.clock.advance(31 * MIN); // window over, still silent
    expect(h.engine.tick().offlineRaised).toBe(1);
  });

  it('raises for an enrolled seat that never connected, and auto-resolves when its seat is revoked', () => {
    const h = setup();
    h.store.agents.insert({
      agent_id: 'agt_new',
      seat_name: 'NEW-1',
      hostname: 'new-1',
      platform: 'linux',
      department: null,
      public_key: 'k',
      enrolled_at: new Date(h.clock.now()).toISOString(),
    });
    h.clock.advance(4 * MIN);
    h.heartbeat('agt_a');
    h.engine.tick();
    const a = offline(h);
    expect(a.map((x) => x.seat.agent_id)).toEqual(['agt_new']);
    expect(a[0]!.detail.zh).toContain('从未连接');
    h.store.agents.revoke('agt_new', new Date(h.clock.now()).toISOString());
    expect(h.engine.tick().offlineResolved).toBe(1);
    expect(offline(h)[0]!.resolution_note).toContain('seat revoked');
  });

  it('treats a stale "online" seat (half-open connection) as offline: last_seen decides, not the online flag', () => {
    const h = setup();
    expect(h.store.agents.get('agt_a')?.online).toBe(1);
    h.clock.advance(10 * MIN);
    expect(h.engine.tick().offlineRaised).toBe(1);
  });
});
