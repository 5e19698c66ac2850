import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../../agent/agent.js';
import { AGENT_VERSION } from '../../../agent/config.js';
import { ensureIdentity } from '../../../agent/identity.js';
import { FakeUsbPlatform } from '../../../agent/platform/fake/fake-platform.js';
import { createOutbox } from '../../../agent/store/outbox.js';
import { createCollectorClient } from '../../../agent/transport/collector-client.js';
import { createCollector } from '../../../collector/collector.js';
import { systemClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import type { EventBody } from '../../../shared/protocol/messages.js';
import { useCleanups } from '../../helpers/cleanups.js';
import { eventually } from '../../helpers/eventually.js';
import { FAST_SCRYPT, PASSWORD } from './users/support.js';

// An agent whose outbox overflowed while it was offline reports the drop once it starts; the
// collector stores the report as an event of the seat and raises the medium alert.

const { cleanups, tmp } = useCleanups();
const removed = (JSON.parse(readFileSync(new URL('../../fixtures/protocol/good/usb.removed.json', import.meta.url), 'utf8')) as { body: EventBody<'usb.removed'> }).body;

describe('outbox.dropped at the collector', () => {
  it('stores the report in the seat timeline once and raises one medium alert', async () => {
    const collector = createCollector({ dataDir: tmp('sg-dropped-col-'), port: 0, insecureDev: true, security: { scrypt: FAST_SCRYPT } });
    const { url } = await collector.start();
    cleanups.push(() => collector.stop());
    const reader = await collector.users.create({ username: 'reader', password: PASSWORD, roles: ['auditor'], departments: '*' }, 'system');
    const token = collector.users.createApiToken(reader.id, 'dropped test', reader.id).token;
    const get = async (path: string) => (await fetch(`${url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<Record<string, unknown>>;

    const stateDir = tmp('sg-dropped-agent-');
    const identity = await ensureIdentity({ stateDir, collectorUrl: url, enrollToken: collector.createEnrollmentToken(), hostname: 'seat-d', platform: 'fake', seatName: 'seat-d', log: silentLogger() });
    // Offline and full: 8 removals into a queue bounded at 5 drop the 3 oldest.
    const path = join(stateDir, 'outbox.db');
    const offline = createOutbox({ path, maxEvents: 5 });
    for (let i = 0; i < 8; i++) offline.append('usb.removed', removed);
    offline.close();

    const outbox = createOutbox({ path, maxEvents: 5 });
    const agent = createAgent({ platform: { name: 'fake', usb: new FakeUsbPlatform() }, outbox, log: silentLogger(), clock: systemClock, config: { resyncIntervalMs: 0, flushTimeoutMs: 500 } });
    cleanups.push(async () => {
      await agent.stop('test end');
      outbox.close();
    });
    await agent.start();
    const client = createCollectorClient({
      collectorUrl: url,
      identity,
      outbox,
      log: silentLogger(),
      hello: { agent_version: AGENT_VERSION, platform: 'fake', hostname: 'seat-d' },
      lockState: () => agent.lockState(),
      backoffBaseMs: 10,
      backoffCapMs: 100,
    });
    agent.connect(client);
    await eventually(() => outbox.depth() === 0);

    const page = (await get(`/seats/${identity.agentId}/events?limit=500`)) as { events: Array<{ seq: number; type: string; body: unknown }> };
    const reports = page.events.filter((e) => e.type === 'outbox.dropped');
    expect(reports).toHaveLength(1);
    // 3 went offline; agent.started and lock.state at start-up pushed 2 more out before the report.
    expect(reports[0]!.body).toEqual({ counts: { 'usb.removed': 5 }, from_seq: 1, to_seq: 5, reason: 'max_events' });
    // The dropped seqs are the only gap: the three surviving removals, the start-up events and the report arrived.
    expect(page.events.map((e) => e.seq).sort((x, y) => x - y)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(outbox.dropped()).toBeNull();

    const alerts = await eventually(async () => {
      const list = (await get(`/alerts?agent_id=${identity.agentId}`)) as { alerts: Array<{ rule: string; severity: string; title: { en: string } }> };
      const mine = list.alerts.filter((a) => a.rule === 'outbox.dropped');
      if (mine.length === 0) throw new Error('no outbox.dropped alert yet');
      return mine;
    });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'medium', title: { en: 'Events summarized and dropped on seat' } });
  });
});
