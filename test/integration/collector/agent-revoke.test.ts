import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAgent } from '../../../agent/agent.js';
import { AGENT_VERSION } from '../../../agent/config.js';
import { ensureIdentity } from '../../../agent/identity.js';
import { FakeUsbPlatform } from '../../../agent/platform/fake/fake-platform.js';
import { createOutbox } from '../../../agent/store/outbox.js';
import { createCollectorClient, type CollectorClient } from '../../../agent/transport/collector-client.js';
import { createCollector, type Collector } from '../../../collector/collector.js';
import { systemClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import { captureLog } from '../../helpers/capture-log.js';
import { useCleanups } from '../../helpers/cleanups.js';
import { eventually } from '../../helpers/eventually.js';
import { FAST_SCRYPT, PASSWORD } from './users/support.js';

// A real agent (agent core + collector client, real key, real outbox file) against a real collector
// on 127.0.0.1: revocation through the API closes the live socket with 4403 and the agent stops
// hammering the collector.

const { cleanups, tmp } = useCleanups();

interface Running {
  collector: Collector;
  url: string;
  /** Bearer tokens of an admin (may revoke) and an auditor (reads the audit trail). */
  admin: string;
  auditor: string;
}

async function start(): Promise<Running> {
  const collector = createCollector({
    dataDir: tmp('sg-revoke-col-'),
    port: 0,
    heartbeatIntervalMs: 100,
    pingIntervalMs: 100,
    insecureDev: true,
    security: { scrypt: FAST_SCRYPT },
  });
  const { url } = await collector.start();
  cleanups.push(() => collector.stop());
  const admin = await collector.users.create({ username: 'boss', password: PASSWORD, roles: ['admin'], departments: '*' }, 'system');
  const auditor = await collector.users.create({ username: 'reader', password: PASSWORD, roles: ['auditor'], departments: '*' }, 'system');
  return {
    collector,
    url,
    admin: collector.users.createApiToken(admin.id, 'revoke test', admin.id).token,
    auditor: collector.users.createApiToken(auditor.id, 'revoke test', admin.id).token,
  };
}

async function agentOn(url: string, collector: Collector, capMs: number) {
  const stateDir = tmp('sg-revoke-agent-');
  const { log, lines } = captureLog();
  const identity = await ensureIdentity({
    stateDir,
    collectorUrl: url,
    enrollToken: collector.createEnrollmentToken(),
    hostname: 'seat-revoke',
    platform: 'fake',
    seatName: 'seat-revoke',
    log: silentLogger(),
  });
  const outbox = createOutbox({ path: join(stateDir, 'outbox.db') });
  const agent = createAgent({ platform: { name: 'fake', usb: new FakeUsbPlatform() }, outbox, log: silentLogger(), clock: systemClock, config: { resyncIntervalMs: 0, flushTimeoutMs: 0 } });
  await agent.start();
  const client: CollectorClient = createCollectorClient({
    collectorUrl: url,
    identity,
    outbox,
    log,
    hello: { agent_version: AGENT_VERSION, platform: 'fake', hostname: 'seat-revoke' },
    lockState: () => agent.lockState(),
    backoffBaseMs: 10,
    backoffCapMs: capMs,
  });
  agent.connect(client);
  cleanups.push(async () => {
    await agent.stop('test end');
    outbox.close();
  });
  return { identity, client, lines };
}

const api = (r: Running, token: string, path: string, init: RequestInit = {}) =>
  fetch(`${r.url}/api/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });

describe('agent revocation', () => {
  it('closes the live socket with 4403 within a second, refuses the reconnect, audits it, and the agent backs off to the cap', async () => {
    const r = await start();
    const capMs = 3_000;
    const a = await agentOn(r.url, r.collector, capMs);
    await eventually(() => a.client.status().ready);

    const t0 = Date.now();
    const res = await api(r, r.admin, `/seats/${a.identity.agentId}/revoke`, { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { agent_id: string; already_revoked: boolean; disconnected: number; revoked_at: string };
    expect(body).toMatchObject({ agent_id: a.identity.agentId, already_revoked: false, disconnected: 1 });

    await eventually(() => a.lines.some((l) => l.msg === 'collector revoked this agent; it must be re-enrolled (retrying only at the backoff cap)'), 1_000);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(a.client.status()).toMatchObject({ ready: false, lastError: 'revoked by the collector; re-enroll this seat' });
    expect(a.lines.find((l) => l.code === 4403)?.level).toBe(50); // pino 'error'

    // No hot loop: with base 10 ms the old behaviour retried several times within a second; now the
    // first retry waits at least half the cap, and that upgrade is refused with HTTP 403.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(a.lines.filter((l) => l.msg === 'collector connection failed')).toEqual([]);
    await eventually(() => a.lines.some((l) => l.msg === 'collector connection failed'), capMs + 1_000);
    expect(a.client.status().ready).toBe(false);
    expect(a.lines.find((l) => l.msg === 'collector connection failed')?.reason).toBe('closed before welcome (1006)');

    const seat = await (await api(r, r.auditor, `/seats/${a.identity.agentId}`)).json();
    expect(seat).toMatchObject({ agent_id: a.identity.agentId, revoked_at: body.revoked_at, online: false });
    const audit = (await (await api(r, r.auditor, `/audit?action=agent.revoke`)).json()) as { records: Array<{ actor: string; target_id: string }> };
    expect(audit.records.map((r) => r.target_id)).toEqual([a.identity.agentId]);
  });

  it('an agent that starts after its revocation is refused with 403 and retries only at the cap', async () => {
    const r = await start();
    const a = await agentOn(r.url, r.collector, 60_000);
    await eventually(() => a.client.status().ready);
    await a.client.stop();
    expect((await api(r, r.admin, `/seats/${a.identity.agentId}/revoke`, { method: 'POST' })).status).toBe(200);

    // The same identity again, as after a restart of the seat's agent.
    const { log, lines } = captureLog();
    const outbox = createOutbox({ path: ':memory:' });
    const again = createCollectorClient({
      collectorUrl: r.url,
      identity: a.identity,
      outbox,
      log,
      hello: { agent_version: AGENT_VERSION, platform: 'fake', hostname: 'seat-revoke' },
      lockState: () => 'locked',
      backoffBaseMs: 10,
      backoffCapMs: 3_000,
    });
    cleanups.push(async () => {
      await again.stop();
      outbox.close();
    });
    again.start();
    await eventually(() => lines.some((l) => l.msg === 'collector refuses this agent (revoked or unknown); it must be re-enrolled (retrying only at the backoff cap)'));
    // Base 10 ms would retry several times within a second; at the cap the next try is ≥ 1.5 s away.
    await new Promise((res) => setTimeout(res, 1_000));
    expect(lines.filter((l) => l.msg === 'collector connection failed')).toHaveLength(1);
    expect(again.status().ready).toBe(false);
  });

  it('answers a second revoke as already revoked without a second audit record, and 404 for an unknown seat', async () => {
    const r = await start();
    const a = await agentOn(r.url, r.collector, 60_000);
    await eventually(() => a.client.status().ready);
    expect((await api(r, r.admin, `/seats/${a.identity.agentId}/revoke`, { method: 'POST' })).status).toBe(200);
    const again = await api(r, r.admin, `/seats/${a.identity.agentId}/revoke`, { method: 'POST' });
    expect(await again.json()).toMatchObject({ already_revoked: true, disconnected: 0 });
    expect((await api(r, r.admin, '/seats/agt_nobody/revoke', { method: 'POST' })).status).toBe(404);
    const audit = (await (await api(r, r.auditor, `/audit?action=agent.revoke`)).json()) as { records: unknown[] };
    expect(audit.records).toHaveLength(1);
  });
});
