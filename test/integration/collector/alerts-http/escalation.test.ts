import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollector, DB_FILE } from '../../../../collector/collector.js';
import { openStore } from '../../../../collector/store/store.js';
import { ManualClock } from '../../../../shared/clock.js';
import { SAMPLE_DEVICE } from '../harness.js';
import { eventually } from '../../../helpers/eventually.js';
import { blockedFrame, sendBlocked, startAlertsHttp, type AlertsHttp, type Json } from './alerts-http-harness.js';

const MIN = 60_000;

describe('alert escalation and heartbeats in the running collector', () => {
  let h: AlertsHttp | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
  });

  it('escalates an unacknowledged alert after escalationAfterMs of collector time, but not an acknowledged one', async () => {
    const clock = new ManualClock(Date.now());
    // A long tick interval: this test drives tick() itself.
    h = await startAlertsHttp({ clock, alerts: { tickIntervalMs: 3_600_000, engine: { escalationAfterMs: 60 * MIN } } });
    const duty = await h.user('duty1', ['duty']);
    const s = await h.seat();
    await sendBlocked(s, { ...SAMPLE_DEVICE, serial: 'STICK-OPEN' });
    await sendBlocked(s, { ...SAMPLE_DEVICE, serial: 'STICK-ACKED' });
    const list = (await h.api('GET', '/alerts')).json.alerts as Json[];
    const open = list.find((a) => a.device.serial === 'STICK-OPEN').id;
    const acked = list.find((a) => a.device.serial === 'STICK-ACKED').id;
    expect((await h.api('POST', `/alerts/${acked}/acknowledge`, { token: duty.token })).status).toBe(200);

    clock.advance(59 * MIN);
    expect(h.run.collector.alerts.tick().escalated).toBe(0);
    clock.advance(2 * MIN);
    expect(h.run.collector.alerts.tick().escalated).toBe(1);

    const d = (await h.api('GET', `/alerts/${open}`)).json;
    expect(d.alert.escalation).toMatchObject({ level: 1, role: 'officer' });
    expect(d.history.map((e: Json) => e.action)).toContain('escalated');
    expect((await h.api('GET', `/alerts/${acked}`)).json.alert.escalation.level).toBe(0);
  });

  it('ticks on its own interval once started (missed heartbeats raise agent.offline)', async () => {
    const clock = new ManualClock(Date.now());
    h = await startAlertsHttp({ clock, alerts: { tickIntervalMs: 20, engine: { heartbeatMissAfterMs: 3 * MIN } } });
    const s = await h.seat();
    await s.conn.close();
    clock.advance(4 * MIN);
    const r = await eventually(async () => {
      const res = await h!.api('GET', '/alerts?rule=agent.offline');
      expect(res.json.total).toBe(1);
      return res;
    });
    expect(r.json.alerts[0]).toMatchObject({ rule: 'agent.offline', severity: 'medium', seat: { agent_id: s.agent.agentId } });
  });

  it('evaluates events stored while no alert engine ran when the collector starts again (catch-up)', async () => {
    h = await startAlertsHttp();
    const s = await h.seat();
    await sendBlocked(s);
    expect((await h.api('GET', '/alerts')).json.total).toBe(1);
    await h.run.collector.stop();
    // An event committed but never evaluated (as after a crash between commit and evaluation).
    const store = openStore(join(h.run.dataDir, DB_FILE));
    try {
      const frame = blockedFrame(s.nextSeq(), { ...SAMPLE_DEVICE, serial: 'WHILE-DOWN' });
      store.ingest([{ kind: 'event', agentId: s.agent.agentId, msg: frame as never, receivedAt: new Date().toISOString() }]);
    } finally {
      store.close();
    }
    const again = createCollector({ dataDir: h.run.dataDir, host: '127.0.0.1', port: 0, alerts: { tickIntervalMs: 3_600_000 } });
    try {
      await again.start();
      const serials = again.alerts.list().alerts.map((a) => a.device?.serial);
      expect(serials.sort()).toEqual([SAMPLE_DEVICE.serial, 'WHILE-DOWN'].sort());
    } finally {
      await again.stop();
    }
  });
});
