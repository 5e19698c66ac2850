import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateOfflineMasterKey, seatOfflineSecret } from '../../../collector/workflow/offline-master-key.js';
import { makeMaintenanceCode } from '../../../shared/domain/maintenance-code.js';
import { UDEV_RULE_FILE } from '../../../agent/selfprotect/udev-rule.js';
import { BASELINE_FILE } from '../../../agent/selfprotect/integrity.js';
import { eventually } from '../../helpers/eventually.js';
import { buildOnce, killAll, spawnCli, type Spawned } from '../../helpers/spawn.js';
import { userApi } from '../../helpers/user-api.js';
import { createCollector, type Collector } from '../../../collector/collector.js';

// The built agent as a child process against the real collector: maintenance codes over the seat
// socket (good, wrong purpose, forged, expired, replayed after a restart), SIGTERM without a code,
// and integrity changes of an installed tree, each followed to the stored event and the alert.

const AUTHORIZED_STOP_EXIT = 10;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => buildOnce(), 120_000);

/** The real collector in this process (plain http on 127.0.0.1: --insecure-dev), a maintainer and a duty officer signed in. */
interface Site {
  collector: Collector;
  url: string;
  dataDir: string;
  api<T = unknown>(user: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }>;
  enrollToken(): string;
  cleanup(): Promise<void>;
}

async function startSite(): Promise<Site> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sg-e2e-sp-data-'));
  const collector = createCollector({ dataDir, host: '127.0.0.1', port: 0, commitIntervalMs: 2, insecureDev: true, security: { scrypt: { N: 2 ** 10, r: 8, p: 1 } } });
  const { url } = await collector.start();
  const tokens: Record<string, string> = {};
  for (const [username, roles] of [['duty01', ['duty']], ['maint01', ['maintainer']]] as const) {
    await collector.users.create({ username, password: 'e2e-password-0123', roles, departments: '*' }, 'e2e-setup');
    const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: 'e2e-password-0123', client: 'cli' }) });
    tokens[username] = ((await res.json()) as { token: string }).token;
  }
  return {
    collector,
    url,
    dataDir,
    api: userApi(url, tokens),
    enrollToken: () => collector.createEnrollmentToken(),
    async cleanup() {
      await collector.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface AlertRow { rule: string; severity: string; title: { en: string }; seat: { agent_id: string } }
interface EventRow { type: string; body: Record<string, unknown> }

async function cli(args: string[]): Promise<{ code: number | string; out: string }> {
  const p = spawnCli(args);
  const code = await p.exited;
  return { code, out: [...p.text, ...p.stderr].join('\n') };
}

function startAgent(site: Site, state: string, name: string, enroll: boolean): Spawned {
  return spawnCli([
    'agent', '--collector', site.url, '--insecure-dev', '--state', state, '--platform', 'fake', '--seat-name', name,
    ...(enroll ? ['--enroll-token', site.enrollToken()] : []),
    '--backoff-base-ms', '10', '--backoff-cap-ms', '200', '--resync-interval-ms', '0',
  ]);
}

const agentIdOf = (state: string) => (JSON.parse(readFileSync(join(state, 'agent.json'), 'utf8')) as { agent_id: string }).agent_id;

async function events(site: Site, agentId: string, type: string): Promise<EventRow[]> {
  const r = await site.api<{ events: Array<{ type: string; body: unknown }> }>('duty01', 'GET', `/seats/${agentId}/events?type=${type}&limit=500`);
  return r.json.events.map((e) => ({ type: e.type, body: (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as Record<string, unknown> }));
}

async function alerts(site: Site, agentId: string, rule: string): Promise<AlertRow[]> {
  const r = await site.api<{ alerts: AlertRow[] }>('duty01', 'GET', `/alerts?limit=500`);
  return r.json.alerts.filter((a) => a.seat.agent_id === agentId && a.rule === rule);
}

async function issue(site: Site, agentId: string, purpose: string): Promise<{ code: string; code_id: string }> {
  const r = await site.api<{ maintenance_code: { code: string; code_id: string } }>('maint01', 'POST', `/seats/${agentId}/maintenance-codes`, { purpose, reason: 'replace the keyboard' });
  expect(r.status).toBe(201);
  return r.json.maintenance_code;
}

async function setup(name: string, env: Record<string, string> = {}) {
  const site = await startSite();
  cleanups.push(() => site.cleanup());
  const root = mkdtempSync(join(tmpdir(), 'sg-e2e-sp-'));
  cleanups.push(async () => rmSync(root, { recursive: true, force: true }));
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  cleanups.push(async () => {
    for (const k of Object.keys(env)) delete process.env[k];
  });
  return { site, root };
}

describe('agent stop and uninstall with maintenance codes', () => {
  it('refuses wrong, forged, expired codes; stops with a good one (authorized, no alert); refuses its replay after a restart; SIGTERM alerts', async () => {
    const { site, root } = await setup('stop');
    const state = join(root, 'state');
    let agent = startAgent(site, state, 'sp-seat-01', true);
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    await eventually(() => expect(existsSync(join(state, 'agent.json'))).toBe(true), 15_000);
    const agentId = agentIdOf(state);
    await eventually(async () => expect((await events(site, agentId, 'agent.started')).length).toBe(1), 15_000);

    // The issuing route: maintainers only, seats that exist, bounded lifetime, a reason.
    expect((await site.api('duty01', 'POST', `/seats/${agentId}/maintenance-codes`, { purpose: 'stop', reason: 'x-ray' })).status).toBe(403);
    expect((await site.api('maint01', 'POST', '/seats/agt_nope/maintenance-codes', { purpose: 'stop', reason: 'keyboard' })).status).toBe(404);
    expect((await site.api('maint01', 'POST', `/seats/${agentId}/maintenance-codes`, { purpose: 'stop', reason: 'keyboard', ttl_ms: 25 * 3_600_000 })).status).toBe(400);
    expect((await site.api('maint01', 'POST', `/seats/${agentId}/maintenance-codes`, { purpose: 'reboot', reason: 'keyboard' })).status).toBe(400);
    expect((await site.api('maint01', 'POST', `/seats/${agentId}/maintenance-codes`, { purpose: 'stop', reason: ' ' })).status).toBe(400);
    const stopCode = await issue(site, agentId, 'stop');
    const uninstallCode = await issue(site, agentId, 'uninstall');
    // The code itself never reaches the audit trail, only its id.
    const trail = JSON.stringify(site.collector.audit.list({ action: 'maintenance_code.issue' }).records);
    expect(trail).toContain(stopCode.code_id);
    expect(trail).not.toContain(stopCode.code);

    // Wrong purpose, another seat's secret, expired: refused, and the agent keeps running.
    const wrong = await cli(['agent', 'stop', '--state', state, '--maintenance-code', uninstallCode.code]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toMatch(/MAINT_ERR_CODE/);
    const forged = makeMaintenanceCode(randomBytes(32), agentId, { purpose: 'stop', expiresAtMs: Date.now() + 600_000, nonce: randomBytes(3) });
    expect((await cli(['agent', 'stop', '--state', state, '--maintenance-code', forged.code])).out).toMatch(/MAINT_ERR_CODE/);
    const secret = seatOfflineSecret(loadOrCreateOfflineMasterKey(site.dataDir), agentId);
    const expired = makeMaintenanceCode(secret, agentId, { purpose: 'stop', expiresAtMs: Date.now() - 120_000, nonce: randomBytes(3) });
    expect((await cli(['agent', 'stop', '--state', state, '--maintenance-code', expired.code])).out).toMatch(/MAINT_ERR_CODE.*expired/);
    expect(agent.child.exitCode).toBeNull();

    // The good code: accepted, reported, and the agent exits with the code systemd does not restart.
    const ok = await cli(['agent', 'stop', '--state', state, '--maintenance-code', stopCode.code]);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(stopCode.code_id);
    expect(await agent.exited).toBe(AUTHORIZED_STOP_EXIT);
    await eventually(async () => {
      const stops = await events(site, agentId, 'agent.stopping');
      expect(stops.map((e) => e.body)).toEqual([{ reason: 'maintenance stop', authorized: true, code_id: stopCode.code_id, purpose: 'stop' }]);
    }, 15_000);
    await eventually(() => expect(site.collector.audit.list({ action: 'maintenance_code.use', caseId: stopCode.code_id }).records).toHaveLength(1), 15_000);
    expect(await alerts(site, agentId, 'agent.stopping')).toEqual([]);

    // Restarted: the same code is spent (kept on disk), SIGTERM without a code raises the alert.
    agent = startAgent(site, state, 'sp-seat-01', false);
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    const replay = await cli(['agent', 'stop', '--state', state, '--maintenance-code', stopCode.code]);
    expect(replay.code).toBe(1);
    expect(replay.out).toMatch(/MAINT_ERR_USED/);
    await eventually(async () => expect((await events(site, agentId, 'agent.started')).length).toBe(2), 15_000);
    expect(await agent.kill('SIGTERM')).toBe(0);
    await eventually(async () => {
      const [a] = await alerts(site, agentId, 'agent.stopping');
      expect(a).toMatchObject({ severity: 'high', title: { en: 'Seat agent stopped without maintenance code' } });
    }, 15_000);
    const last = (await events(site, agentId, 'agent.stopping')).at(-1);
    expect(last?.body).toMatchObject({ reason: 'signal SIGTERM', authorized: false });
  });

  it('uninstall: refused without a valid code (files stay); with one the agent reports agent.uninstalled, stops authorized, and the files go', async () => {
    const { site, root } = await setup('uninstall');
    const install = await cli(['agent', 'install', '--root', root, '--state', '/var/lib/sg', '--collector', site.url]);
    expect(install.code).toBe(0);
    const state = join(root, 'var/lib/sg');
    const agent = startAgent(site, state, 'sp-seat-02', true);
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    await eventually(() => expect(existsSync(join(state, 'agent.json'))).toBe(true), 15_000);
    const agentId = agentIdOf(state);
    const stopCode = await issue(site, agentId, 'stop');

    const refused = await cli(['agent', 'uninstall', '--root', root, '--state', '/var/lib/sg', '--maintenance-code', stopCode.code]);
    expect(refused.code).toBe(1);
    expect(existsSync(join(root, UDEV_RULE_FILE))).toBe(true);

    const code = await issue(site, agentId, 'uninstall');
    const done = await cli(['agent', 'uninstall', '--root', root, '--state', '/var/lib/sg', '--maintenance-code', code.code]);
    expect(done.code).toBe(0);
    expect(existsSync(join(root, UDEV_RULE_FILE))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/seatguard-agent.service'))).toBe(false);
    expect(existsSync(join(state, 'agent.json'))).toBe(true);
    expect(await agent.exited).toBe(AUTHORIZED_STOP_EXIT);
    await eventually(async () => {
      expect((await events(site, agentId, 'agent.uninstalled')).map((e) => e.body.code_id)).toEqual([code.code_id]);
      expect((await events(site, agentId, 'agent.stopping')).map((e) => e.body)).toEqual([{ reason: 'maintenance uninstall', authorized: true, code_id: code.code_id, purpose: 'uninstall' }]);
    }, 15_000);
    expect(await alerts(site, agentId, 'agent.stopping')).toEqual([]);
  });
});

describe('agent self-integrity against the real collector', () => {
  it('a changed udev rule becomes agent.integrity and a critical alert; a plain restart reports it again and keeps the baseline; only an upgrade code re-records it', async () => {
    const { site, root } = await setup('integrity', { SEATGUARD_INTEGRITY_INTERVAL_MS: '1000' });
    expect((await cli(['agent', 'install', '--root', root, '--state', '/var/lib/sg', '--collector', site.url])).code).toBe(0);
    const state = join(root, 'var/lib/sg');
    let agent = startAgent(site, state, 'sp-seat-03', true);
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    await eventually(() => expect(existsSync(join(state, 'agent.json'))).toBe(true), 15_000);
    const agentId = agentIdOf(state);
    const started = await eventually(async () => {
      const [s] = await events(site, agentId, 'agent.started');
      if (!s) throw new Error('not yet');
      return s;
    }, 15_000);
    expect(started.body.code_sha256).toMatch(/^[0-9a-f]{64}$/);
    const baseline = readFileSync(join(state, BASELINE_FILE), 'utf8');
    const rulePath = join(root, UDEV_RULE_FILE);
    expect(baseline).toContain(rulePath);

    writeFileSync(rulePath, '# nothing to see here\n');
    const udevEvents = async () => (await events(site, agentId, 'agent.integrity')).filter((e) => e.body.item === 'udev_rule');
    await eventually(async () => expect(await udevEvents()).toHaveLength(1), 15_000);
    expect((await udevEvents())[0]?.body).toMatchObject({ path: rulePath, detail: 'changed', actual_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown });
    await eventually(async () => {
      const [a] = await alerts(site, agentId, 'agent.integrity');
      expect(a?.severity).toBe('critical');
    }, 15_000);

    expect(await agent.kill('SIGTERM')).toBe(0);
    agent = startAgent(site, state, 'sp-seat-03', false);
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    await eventually(async () => expect(await udevEvents()).toHaveLength(2), 15_000);
    expect(readFileSync(join(state, BASELINE_FILE), 'utf8')).toBe(baseline);

    // An authorized upgrade: the agent stops (exit 10); its next start re-records the baseline once.
    const upgrade = await issue(site, agentId, 'upgrade');
    expect((await cli(['agent', 'upgrade', '--state', state, '--maintenance-code', upgrade.code])).code).toBe(0);
    expect(await agent.exited).toBe(AUTHORIZED_STOP_EXIT);
    agent = startAgent(site, state, 'sp-seat-03', false);
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    await eventually(async () => {
      const starts = await events(site, agentId, 'agent.started');
      expect(starts.at(-1)?.body.rebaselined_by).toBe(upgrade.code_id);
    }, 15_000);
    expect(readFileSync(join(state, BASELINE_FILE), 'utf8')).not.toBe(baseline);
    // Two periodic checks later the accepted rule is still not reported.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await udevEvents()).toHaveLength(2);
    expect(await agent.kill('SIGTERM')).toBe(0);
  });
});
