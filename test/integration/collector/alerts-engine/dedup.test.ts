import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAlertEngine } from '../../../../collector/alerts/alert-engine.js';
import { openDatabase } from '../../../../collector/store/db.js';
import { MIGRATIONS } from '../../../../collector/store/migrations.js';
import { ALERTS_MIGRATION } from '../../../../collector/store/migrations-alerts.js';
import { openStore } from '../../../../collector/store/store.js';
import { createLogger, silentLogger } from '../../../../shared/logger.js';
import { ManualClock } from '../../../../shared/clock.js';
import * as S from '../../../unit/collector/alerts/engine/samples.js';
import { createEngineHarness, MIN, type EngineHarness } from './engine-harness.js';

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

describe('alert engine: evaluation and dedup', () => {
  it('opens one alert for a blocked stick and queues it for delivery with seat and device', () => {
    const h = setup();
    const e = h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const { alerts, total } = h.engine.list();
    expect(total).toBe(1);
    const a = alerts[0]!;
    expect(a).toMatchObject({ rule: 'usb.blocked', severity: 'high', state: 'open', count: 1, seat: { agent_id: 'agt_a', seat_name: 'A-01' } });
    expect(a.title.zh).toBe('未授权U盘插入');
    expect(a.device?.product).toBe('Cruzer Blade');
    expect(h.engine.get(a.id)?.events.map((x) => x.event_id)).toEqual([e.id]);
    expect(h.sink.alerts).toHaveLength(1);
    expect(h.sink.alerts[0]).toMatchObject({ id: String(a.id), rule: 'usb.blocked', severity: 'high', state: 'open', seat: { seat_name: 'A-01', hostname: 'host-agt_a' } });
    expect(h.sink.alerts[0]!.title).toBe('未授权U盘插入 / Unauthorized USB storage inserted');
  });

  it('counts repeats of the same seat and key within the window into the same alert without re-sending it', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(4 * MIN);
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(9 * MIN); // 9 min after the previous occurrence: the window slides with last_seen
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const { alerts, total } = h.engine.list();
    expect(total).toBe(1);
    expect(alerts[0]!.count).toBe(3);
    expect(alerts[0]!.last_seen).toBe(new Date(h.clock.now()).toISOString());
    expect(alerts[0]!.first_seen).toBe(new Date(h.clock.now() - 13 * MIN).toISOString());
    expect(h.engine.get(alerts[0]!.id)?.events).toHaveLength(3);
    expect(h.sink.alerts).toHaveLength(1);
  });

  it('opens a new alert when the repeat comes after the dedup window', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(10 * MIN + 1);
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const { alerts } = h.engine.list();
    expect(alerts.map((a) => a.count)).toEqual([1, 1]);
    expect(h.sink.alerts).toHaveLength(2);
  });

  it('honours a configured dedup window', () => {
    const h = setup({ config: { dedupWindowMs: 30_000 } });
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.clock.advance(31_000);
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    expect(h.engine.list().total).toBe(2);
  });

  it('keeps different seats, different devices and different rules apart', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.emit('agt_b', 'usb.blocked', S.usbBlocked());
    h.emit('agt_a', 'usb.blocked', S.usbBlocked({ device: S.device({ serial: 'OTHER-STICK' }) }));
    h.emit('agt_a', 'lock.state', S.lockState('degraded'));
    expect(h.engine.list().total).toBe(4);
  });

  it('does not count into a resolved alert: the same thing again is a new incident', () => {
    const h = setup();
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const first = h.engine.list().alerts[0]!;
    h.engine.resolve(first.id, 'duty-1', 'user told to stop');
    h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const { alerts } = h.engine.list();
    expect(alerts).toHaveLength(2);
    expect(alerts[0]!.state).toBe('open');
  });

  it('raises the severity of a deduplicated alert and re-sends it when a worse variant arrives', () => {
    const h = setup();
    h.emit('agt_a', 'process.denied', S.processDenied('game', 'killed'));
    h.emit('agt_a', 'process.denied', S.processDenied('game', 'kill_failed'));
    const [a] = h.engine.list().alerts;
    expect(a).toMatchObject({ severity: 'high', count: 2 });
    expect(h.engine.get(a!.id)?.history.map((x) => x.action)).toEqual(['opened', 'severity_raised']);
    expect(h.sink.alerts.map((x) => x.severity)).toEqual(['medium', 'high']);
  });

  it('notes a cleared condition once in the history but leaves the alert open for a human', () => {
    const h = setup();
    h.emit('agt_a', 'lock.state', S.lockState('degraded'));
    h.emit('agt_a', 'lock.state', S.lockState('locked'));
    h.emit('agt_a', 'lock.state', S.lockState('locked'));
    const a = h.engine.list().alerts[0]!;
    expect(a.state).toBe('open');
    expect(a.cleared_at).not.toBeNull();
    const hist = h.engine.get(a.id)!.history;
    expect(hist.filter((x) => x.action === 'cleared')).toHaveLength(1);
    expect(hist.find((x) => x.action === 'cleared')?.note).toContain('USB锁定已恢复');
    // The condition coming back resets the mark.
    h.emit('agt_a', 'lock.state', S.lockState('degraded'));
    expect(h.engine.list().alerts[0]).toMatchObject({ count: 2, cleared_at: null });
  });

  it('raises agent.stopping outside a maintenance window but not inside one', () => {
    const h = setup();
    h.engine.startMaintenance('agt_a', { by: 'maint-1', durationMs: 30 * MIN, reason: 'agent upgrade' });
    h.emit('agt_a', 'agent.stopping', { reason: 'signal SIGTERM' });
    expect(h.engine.list().total).toBe(0);
    h.emit('agt_b', 'agent.stopping', { reason: 'signal SIGTERM' });
    expect(h.engine.list({ agent_id: 'agt_b' }).alerts[0]).toMatchObject({ rule: 'agent.stopping', severity: 'high' });
    h.engine.endMaintenance('agt_a', 'maint-1');
    h.emit('agt_a', 'agent.stopping', { reason: 'signal SIGTERM' });
    expect(h.engine.list({ agent_id: 'agt_a' }).total).toBe(1);
  });

  it('evaluates each stored event once even if onCommitted is called with it again', () => {
    const h = setup();
    const e = h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    h.engine.onCommitted([e]);
    h.engine.onCommitted([e, e]);
    expect(h.engine.list().alerts[0]!.count).toBe(1);
    expect(h.engine.tick().evaluated).toBe(0);
  });

  it('evaluates events of a batch that never reached onCommitted before the next batch (gap fill)', () => {
    const h = setup();
    const missed = h.store1('agt_a', 'usb.blocked', S.usbBlocked()); // e.g. the evaluation of that batch failed
    h.emit('agt_b', 'lock.state', S.lockState('degraded'));
    const rules = h.engine.list().alerts.map((a) => `${a.seat.agent_id}:${a.rule}`).sort();
    expect(rules).toEqual(['agt_a:usb.blocked', 'agt_b:lock.state']);
    expect(h.engine.get(h.engine.list({ agent_id: 'agt_a' }).alerts[0]!.id)?.events[0]?.event_id).toBe(missed.id);
  });

  it('catches up on tick with stored events nobody handed to onCommitted (crash after commit)', () => {
    const h = setup();
    h.store1('agt_a', 'usb.blocked', S.usbBlocked());
    h.store1('agt_a', 'firmware.password_removed', S.passwordRemoved());
    h.store1('agt_a', 'usb.removed', { device: S.STICK });
    expect(h.engine.list().total).toBe(0);
    expect(h.engine.tick().evaluated).toBe(3);
    expect(h.engine.list().total).toBe(2);
    expect(h.engine.tick().evaluated).toBe(0);
  });

  it('writes nothing for a batch without alert-worthy events, and a restarted engine re-reads only those', () => {
    const h = setup();
    const stored = () => (h.store.db.prepare('SELECT last_event_id AS id FROM alert_cursor').get() as { id: number }).id;
    const a = h.emit('agt_a', 'usb.blocked', S.usbBlocked());
    const b = h.emit('agt_a', 'usb.removed', { device: S.STICK });
    expect(stored()).toBe(a.id);
    // "Crash": a second engine on the same file starts from the stored cursor.
    const again = createAlertEngine({ db: h.store.db, clock: h.clock, log: silentLogger() });
    expect(again.catchUp()).toBe(1);
    expect(h.engine.list().alerts.map((x) => x.count)).toEqual([1]);
    // The running engine persists its in-memory cursor on tick.
    h.engine.tick();
    expect(stored()).toBe(b.id);
  });

  it('does not raise alerts about events stored before the alert migration was applied', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seatguard-alerts-upgrade-'));
    const path = join(dir, 'collector.db');
    // An older collector: every migration but the alerts one, with an event already stored.
    const older = openDatabase(path, MIGRATIONS.filter((m) => m.version !== ALERTS_MIGRATION.version));
    older
      .prepare("INSERT INTO agents (agent_id, seat_name, hostname, platform, public_key, enrolled_at) VALUES ('agt_old', 'OLD', 'old', 'linux', 'k', '2025-12-01T00:00:00.000Z')")
      .run();
    older
      .prepare("INSERT INTO events (agent_id, seq, type, ts, received_at, body) VALUES ('agt_old', 1, 'usb.blocked', ?, ?, ?)")
      .run('2025-12-01T00:00:00.000Z', '2025-12-01T00:00:00.000Z', JSON.stringify(S.usbBlocked()));
    older.close();
    const store = openStore(path); // the upgrade applies the alerts migration
    try {
      const engine = createAlertEngine({ db: store.db, clock: new ManualClock(), log: silentLogger() });
      expect(engine.tick().evaluated).toBe(0);
      // (The seat itself is long silent, so the same tick rightly reports it offline.)
      expect(engine.list({ rule: 'usb.blocked' }).total).toBe(0);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts bodies as stored JSON text and raises event.malformed for an unreadable one', () => {
    const h = setup();
    const e = h.store1('agt_a', 'usb.blocked', S.usbBlocked());
    h.engine.onCommitted([{ ...e, body: JSON.stringify(S.usbBlocked()) }]);
    expect(h.engine.list().alerts[0]!.rule).toBe('usb.blocked');
    const bad = h.store1('agt_a', 'lock.state', S.lockState('degraded'));
    h.engine.onCommitted([{ ...bad, body: '{not json' }]);
    expect(h.engine.list({ rule: 'event.malformed' }).total).toBe(1);
  });

  it('never throws from onCommitted or tick, and logs the failure, when the database is unusable', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'error', destination: { write: (s: string) => void lines.push(s) } });
    const h = createEngineHarness({ log, clock: new ManualClock() });
    harnesses.push(h);
    h.seat('agt_a');
    const e = h.store1('agt_a', 'usb.blocked', S.usbBlocked());
    h.store.db.exec('DROP INDEX alerts_dedup; ALTER TABLE alerts RENAME TO alerts_gone');
    expect(() => h.engine.onCommitted([e])).not.toThrow();
    expect(() => h.engine.tick()).not.toThrow();
    expect(lines.join('\n')).toContain('alert evaluation failed');
  });

  it('refuses an invalid configuration at creation', () => {
    const h = setup();
    expect(() => createAlertEngine({ db: h.store.db, clock: h.clock, log: createLogger({ level: 'silent' }), config: { escalationChain: [] } })).toThrow(/escalationChain/);
  });
});
