import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../../agent/config.js';
import { PINNED_CA_FILE } from '../../../agent/transport/ca-pin.js';
import { createCollector, type Collector, type CollectorOptions } from '../../../collector/collector.js';
import { TLS_DIR } from '../../../collector/tls/tls-material.js';
import { AGENT_CA_PATH } from '../../../shared/ca-fingerprint.js';
import { caFetch } from '../../helpers/ca-fetch.js';
import { captureLog } from '../../helpers/capture-log.js';
import { useCleanups } from '../../helpers/cleanups.js';
import { eventually } from '../../helpers/eventually.js';
import { deviceFixture, startInProcessAgent, type InProcessAgent } from '../../helpers/fake-agent.js';
import { openSocket, startCollector } from '../collector/harness.js';

// TLS between agent and collector: real HTTPS/WSS on 127.0.0.1, the collector's generated CA, the
// agent's fingerprint pin, real SQLite on both ends.

const { cleanups, tmp } = useCleanups();

async function collectorOn(dataDir: string, opts: Partial<CollectorOptions> = {}): Promise<{ collector: Collector; url: string; stop(): Promise<void> }> {
  const collector = createCollector({ dataDir, heartbeatIntervalMs: 60_000, pingIntervalMs: 60_000, ...opts });
  const { url } = await collector.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await collector.stop();
  };
  cleanups.push(stop);
  return { collector, url, stop };
}

async function agent(opts: Parameters<typeof startInProcessAgent>[0]): Promise<InProcessAgent> {
  const a = await startInProcessAgent(opts);
  cleanups.push(() => a.stop());
  return a;
}

const apiGet = async (c: Collector, url: string, path: string) =>
  (await caFetch(c.tls?.caPem ?? null)(`${url}${path}`, { headers: { authorization: `Bearer ${c.apiToken}` } })).json() as Promise<Record<string, unknown>>;

const tokenUsed = (c: Collector): number => (c.store.db.prepare('SELECT count(*) AS n FROM enrollment_tokens WHERE used_at IS NOT NULL').get() as { n: number }).n;

describe('agent ↔ collector over TLS with a pinned CA', () => {
  it('serves https with the CA fingerprint, and the CA itself at /agent/ca.pem', async () => {
    const { collector, url } = await collectorOn(tmp('sg-col-'));
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(collector.tls?.caFingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    const res = await caFetch(collector.tls?.caPem ?? null)(`${url}${AGENT_CA_PATH}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-pem-file');
    expect(await res.text()).toBe(collector.tls?.caPem);
    // Plain fetch does not trust a private CA: the channel really is TLS with this CA.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('enrolls with the right pin, stores the CA 0600 and delivers events over wss', async () => {
    const { collector, url } = await collectorOn(tmp('sg-col-'));
    const state = tmp('sg-agent-');
    const a = await agent({ collectorUrl: url, stateDir: state, token: collector.createEnrollmentToken(), seatName: 'tls-seat-01', caFingerprint: collector.tls?.caFingerprint ?? '' });
    a.platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => expect(collector.store.db.prepare("SELECT count(*) AS n FROM events WHERE agent_id = ? AND type = 'usb.blocked'").get(a.identity.agentId)).toEqual({ n: 1 }));
    expect(readFileSync(join(state, PINNED_CA_FILE), 'utf8')).toBe(collector.tls?.caPem);
    expect(statSync(join(state, PINNED_CA_FILE)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(state, 'agent.json'), 'utf8'))).toMatchObject({ ca_fingerprint: collector.tls?.caFingerprint });
  });

  it('refuses a wrong pin before sending anything: the token stays unused and works with the right pin', async () => {
    const { collector, url } = await collectorOn(tmp('sg-col-'));
    const state = tmp('sg-agent-');
    const token = collector.createEnrollmentToken();
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(startInProcessAgent({ collectorUrl: url, stateDir: state, token, seatName: 'tls-seat-02', caFingerprint: wrong })).rejects.toMatchObject({
      code: 'AGENT_ERR_CA_PIN',
      message: expect.stringContaining(collector.tls?.caFingerprint ?? 'x'),
    });
    expect(existsSync(join(state, PINNED_CA_FILE))).toBe(false);
    expect(existsSync(join(state, 'agent.json'))).toBe(false);
    expect(tokenUsed(collector)).toBe(0);
    const a = await agent({ collectorUrl: url, stateDir: state, token, seatName: 'tls-seat-02', caFingerprint: collector.tls?.caFingerprint ?? '' });
    expect(collector.store.agents.get(a.identity.agentId)?.seat_name).toBe('tls-seat-02');
    expect(tokenUsed(collector)).toBe(1);
  });

  it('fails closed, naming both fingerprints, when the collector CA changed after enrollment', async () => {
    const data = tmp('sg-col-');
    const first = await collectorOn(data);
    const port = Number(new URL(first.url).port);
    const oldFp = first.collector.tls?.caFingerprint ?? '';
    const state = tmp('sg-agent-');
    const a1 = await startInProcessAgent({ collectorUrl: first.url, stateDir: state, token: first.collector.createEnrollmentToken(), seatName: 'tls-seat-03', caFingerprint: oldFp });
    await eventually(() => expect(first.collector.stats().agentsConnected).toBe(1));
    await a1.stop();
    await first.stop();
    rmSync(join(data, TLS_DIR), { recursive: true, force: true });
    const second = await collectorOn(data, { port });
    const eventsBefore = second.collector.store.db.prepare('SELECT count(*) AS n FROM events').get();
    const newFp = second.collector.tls?.caFingerprint ?? '';
    expect(newFp).not.toBe(oldFp);
    const { log, lines } = captureLog();
    const a2 = await agent({ collectorUrl: second.url, stateDir: state, log });
    a2.platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => {
      const line = lines.find((l) => l.code === 'AGENT_ERR_CA_PIN');
      expect(line).toMatchObject({ level: 50, presented_ca_fingerprint: newFp, pinned_ca_fingerprint: oldFp });
      expect(String(line?.msg)).toContain(newFp);
      expect(String(line?.msg)).toContain(oldFp);
    });
    // Nothing got through, and the pin on disk was not replaced.
    expect(second.collector.stats().agentsConnected).toBe(0);
    expect(second.collector.store.db.prepare('SELECT count(*) AS n FROM events').get()).toEqual(eventsBefore);
    expect(readFileSync(join(state, PINNED_CA_FILE), 'utf8')).not.toBe(second.collector.tls?.caPem);
  });

  it('refuses an unauthenticated upgrade over TLS with 401 before any WebSocket exists', async () => {
    const run = await startCollector({ insecureDev: false });
    cleanups.push(() => run.cleanup());
    expect(run.wsUrl).toMatch(/^wss:/);
    const out = await openSocket(run.wsUrl, {}, run.caPem);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.status).toBe(401);
    expect(run.collector.stats().agentsConnected).toBe(0);
  });

  it('reports the lock state within a second of connecting (heartbeat right after welcome)', async () => {
    const { collector, url } = await collectorOn(tmp('sg-col-'));
    const a = await agent({ collectorUrl: url, stateDir: tmp('sg-agent-'), token: collector.createEnrollmentToken(), seatName: 'tls-seat-04', caFingerprint: collector.tls?.caFingerprint ?? '' });
    await eventually(() => expect(collector.stats().agentsConnected).toBe(1), 5_000, 5);
    const connectedAt = Date.now();
    await eventually(() => expect(collector.store.agents.get(a.identity.agentId)?.lock_state).toBe('locked'), 1_000, 5);
    expect(Date.now() - connectedAt).toBeLessThan(1_000);
    // The heartbeat interval is 60 s here: only the heartbeat sent at welcome can have set it.
    const seats = (await apiGet(collector, url, '/api/v1/seats')) as { seats: Array<{ agent_id: string; lock_state: string }> };
    expect(seats.seats.find((s) => s.agent_id === a.identity.agentId)?.lock_state).toBe('locked');
  });
});

describe('insecure-dev', () => {
  it('refuses an http:// collector URL without --insecure-dev, with a clear config error', () => {
    expect(() => loadAgentConfig({ collectorUrl: 'http://127.0.0.1:8443', stateDir: '/tmp/x' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_ERR_INVALID', message: expect.stringContaining('--insecure-dev') }),
    );
    expect(loadAgentConfig({ collectorUrl: 'http://127.0.0.1:8443', stateDir: '/tmp/x', insecureDev: true }).insecureDev).toBe(true);
    expect(loadAgentConfig({ collectorUrl: 'https://127.0.0.1:8443', stateDir: '/tmp/x', caFingerprint: Array(32).fill('AB').join(':') }).caFingerprint).toBe(`sha256:${'ab'.repeat(32)}`);
  });

  it('serves plain http/ws, warns once at start and still delivers', async () => {
    const { log, lines } = captureLog('info');
    const { collector, url } = await collectorOn(tmp('sg-col-'), { insecureDev: true, log });
    expect(url).toMatch(/^http:\/\//);
    expect(collector.tls).toBeNull();
    const warnings = lines.filter((l) => l.level === 40 && String(l.msg).includes('insecure-dev: agent traffic and console sessions are unencrypted'));
    expect(warnings).toHaveLength(1);
    expect((await fetch(`${url}${AGENT_CA_PATH}`)).status).toBe(404);
    const a = await agent({ collectorUrl: url, stateDir: tmp('sg-agent-'), token: collector.createEnrollmentToken(), seatName: 'dev-seat-01' });
    a.platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => expect(collector.store.db.prepare("SELECT count(*) AS n FROM events WHERE agent_id = ? AND type = 'usb.blocked'").get(a.identity.agentId)).toEqual({ n: 1 }));
  });
});
