import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeSensorPlatform } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import { createSensorHost } from '../../../../agent/sensors/sensor-host.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import type { CollectorMessage } from '../../../../shared/protocol/messages.js';
import { connectReady, enroll, getJson, startCollector, type RawAgent, type Running, type TestAgent } from '../harness.js';

type SensorConfigMsg = Extract<CollectorMessage, { type: 'sensor.config' }>;
const isSensorConfig = (m: CollectorMessage): m is SensorConfigMsg => m.type === 'sensor.config';

const BAD_HASH = 'e'.repeat(64);

function configInput(over: Record<string, unknown> = {}) {
  return {
    software_policy: {
      mode: 'audit',
      default: 'allow',
      allow: [],
      deny: [{ id: 'ops.bad-hash', sha256: BAD_HASH, category: 'hacking', reason: 'known bad binary' }],
    },
    software_mode: 'enforce',
    network_plan: [{ iface: 'eth0', ipv4: '192.0.2.10' }],
    must_be_offline: true,
    reachability_target: { host: '192.0.2.1', port: 443 },
    ...over,
  };
}

let run: Running;
const tokens: Record<'admin' | 'salesAdmin' | 'duty' | 'auditor', string> = { admin: '', salesAdmin: '', duty: '', auditor: '' };
const userIds: Record<string, string> = {};
const open: RawAgent[] = [];

async function makeUser(name: keyof typeof tokens, roles: string[], departments: string[] | '*'): Promise<void> {
  const u = await run.collector.users.create({ username: `${name}-user`, password: 'correct horse battery staple', roles, departments }, 'test-setup');
  userIds[name] = u.id;
  tokens[name] = run.collector.users.createApiToken(u.id, `${name} token`, 'test-setup').token;
}

// Tests navigate answers freely (res.json.error.errors); the assertions are the type check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function post(token: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${run.url}/api/v1/sensor-config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function seat(department: string): Promise<TestAgent> {
  return enroll(run.url, run.collector.createEnrollmentToken({ department }));
}

async function online(agent: TestAgent): Promise<RawAgent> {
  const { conn } = await connectReady(run, agent);
  open.push(conn);
  return conn;
}

beforeAll(async () => {
  // Small scrypt cost: these tests are about authorization, not password hashing.
  run = await startCollector({ security: { scrypt: { N: 1024, r: 8, p: 1 } } });
  await makeUser('admin', ['admin'], '*');
  await makeUser('salesAdmin', ['admin'], ['Sales']);
  await makeUser('duty', ['duty'], '*');
  await makeUser('auditor', ['auditor'], '*');
});

afterAll(async () => {
  for (const c of open.splice(0)) await c.close();
  await run.cleanup();
});

describe('sensor configuration: collector → agent', () => {
  it('sends a new connection its sensor.config right after welcome (built-in when nothing is configured)', async () => {
    const conn = await online(await seat('Nobody'));
    const cfg = await conn.next(isSensorConfig);
    const types = conn.received.map((m) => m.type);
    expect(types.indexOf('sensor.config')).toBeGreaterThan(types.indexOf('welcome'));
    expect(cfg.body).toMatchObject({ version: 0, software_mode: 'audit', must_be_offline: false, network_plan: [] });
  });

  it('pushes a department config to the connected seats of that department at once, and to no other seat', async () => {
    const sales = await seat('Sales');
    const support = await seat('Support');
    const salesConn = await online(sales);
    const supportConn = await online(support);
    await salesConn.next(isSensorConfig);
    await supportConn.next(isSensorConfig);
    const salesFrom = salesConn.received.length;

    const res = await post(tokens.admin, { scope: 'department:Sales', config: configInput(), comment: 'offline seats' });

    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ scope: 'department:Sales', revision: 1, pushed: 1, created_by: userIds.admin });
    const pushed = await salesConn.next(isSensorConfig, 5_000, salesFrom);
    expect(pushed.body).toMatchObject({
      version: res.json.version,
      software_mode: 'enforce',
      must_be_offline: true,
      reachability_target: { host: '192.0.2.1', port: 443 },
    });
    // Stored and sent with the policy's mode made equal to software_mode.
    expect(pushed.body.software_policy.mode).toBe('enforce');

    // The Support seat never got it: the next sensor.config it receives is its own override.
    const supportFrom = supportConn.received.length;
    const own = await post(tokens.admin, { scope: `agent:${support.agentId}`, config: configInput({ software_mode: 'audit', must_be_offline: false, reachability_target: null }) });
    expect(own.status).toBe(201);
    const next = await supportConn.next(isSensorConfig, 5_000, supportFrom);
    expect(next.body.version).toBe(own.json.version);
  });

  it('gives a seat that connects later its department config after welcome; a seat override wins and can be cleared', async () => {
    const agent = await seat('Sales');
    const conn = await online(agent);
    const dept = await conn.next(isSensorConfig);
    expect(dept.body.software_mode).toBe('enforce');
    const deptVersion = dept.body.version;

    let from = conn.received.length;
    const override = await post(tokens.admin, { scope: `agent:${agent.agentId}`, config: configInput({ software_mode: 'audit', network_plan: [] }) });
    expect(override.json.pushed).toBe(1);
    expect((await conn.next(isSensorConfig, 5_000, from)).body).toMatchObject({ version: override.json.version, software_mode: 'audit' });

    const eff = await getJson(`${run.url}/api/v1/sensor-config/effective/${agent.agentId}`, tokens.auditor);
    expect(eff.json).toMatchObject({ agent_id: agent.agentId, source: `agent:${agent.agentId}`, config: { version: override.json.version } });

    from = conn.received.length;
    const cleared = await post(tokens.admin, { scope: `agent:${agent.agentId}`, config: null, comment: 'back to the department' });
    expect(cleared.status).toBe(201);
    expect(cleared.json).toMatchObject({ config: null, revision: 2, pushed: 1 });
    expect((await conn.next(isSensorConfig, 5_000, from)).body).toMatchObject({ version: deptVersion, software_mode: 'enforce' });
  });

  it('refuses an invalid policy with 400 and every error, stores nothing and pushes nothing', async () => {
    const bad = configInput({ must_be_offline: true, reachability_target: null });
    (bad.software_policy.deny as unknown[]).push({ id: 'ops.bad-hash', package: 'dup' }, { id: 'ops.range', package: 'nmap', versions: '< 7' }, { id: 'ops.nothing' });

    const res = await post(tokens.admin, { scope: 'department:Refused', config: bad });

    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('SENSOR_ERR_CONFIG');
    expect(res.json.error.errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining('reachability_target is required'),
        expect.stringContaining('duplicate rule id ops.bad-hash'),
        expect.stringContaining('ops.range'),
        expect.stringContaining('ops.nothing has no matcher'),
      ]),
    );
    const got = await getJson(`${run.url}/api/v1/sensor-config?scope=${encodeURIComponent('department:Refused')}`, tokens.admin);
    expect(got.json).toMatchObject({ current: null, history: [], total: 0 });
  });

  it('lists schema errors of a malformed config (wrong types, unknown keys, a version set by the caller)', async () => {
    const res = await post(tokens.admin, { scope: 'default', config: { ...configInput(), software_mode: 'kill', extra: 1 } });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('SENSOR_ERR_CONFIG');
    expect(res.json.error.errors.length).toBeGreaterThanOrEqual(2);

    const versioned = await post(tokens.admin, { scope: 'default', config: { ...configInput(), version: 99 } });
    expect(versioned.status).toBe(400);
    expect(versioned.json.error.errors).toEqual([expect.stringContaining('version is assigned by the collector')]);
  });

  it('refuses unknown scopes, clearing the default and seats that do not exist', async () => {
    for (const scope of ['everyone', 'department:', 'department: padded', 'agent:no such seat', 'department:a\u202eb']) {
      const r = await post(tokens.admin, { scope, config: configInput() });
      expect(r.status, scope).toBe(400);
      expect(r.json.error.code).toBe('SENSOR_ERR_SCOPE');
    }
    const clearDefault = await post(tokens.admin, { scope: 'default', config: null });
    expect(clearDefault).toMatchObject({ status: 400, json: { error: { code: 'SENSOR_ERR_SCOPE' } } });
    const missing = await post(tokens.admin, { scope: 'agent:agt_missing', config: configInput() });
    expect(missing).toMatchObject({ status: 404, json: { error: { code: 'API_ERR_NOT_FOUND' } } });
    const nothingToClear = await post(tokens.admin, { scope: 'department:NeverSet', config: null });
    expect(nothingToClear).toMatchObject({ status: 404, json: { error: { code: 'API_ERR_NOT_FOUND' } } });
  });

  it('lets only policy.manage change configs: duty gets 403 on POST and GET, the auditor reads but cannot write', async () => {
    const duty = await post(tokens.duty, { scope: 'default', config: configInput() });
    expect(duty).toMatchObject({ status: 403, json: { error: { code: 'AUTH_ERR_FORBIDDEN' } } });
    expect((await getJson(`${run.url}/api/v1/sensor-config`, tokens.duty)).status).toBe(403);

    const auditorWrite = await post(tokens.auditor, { scope: 'default', config: configInput() });
    expect(auditorWrite.status).toBe(403);
    const auditorRead = await getJson(`${run.url}/api/v1/sensor-config`, tokens.auditor);
    expect(auditorRead.status).toBe(200);
    expect(auditorRead.json.configs.map((c: { scope: string }) => c.scope)).toContain('department:Sales');

    const anonymous = await fetch(`${run.url}/api/v1/sensor-config`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
  });

  it('keeps an admin of one department inside it: no default, no other department, no seat elsewhere', async () => {
    const support = await seat('Support');
    expect((await post(tokens.salesAdmin, { scope: 'default', config: configInput() })).status).toBe(403);
    expect((await post(tokens.salesAdmin, { scope: 'department:Support', config: configInput() })).status).toBe(403);
    expect((await post(tokens.salesAdmin, { scope: `agent:${support.agentId}`, config: configInput() })).status).toBe(403);
    const own = await post(tokens.salesAdmin, { scope: 'department:Sales', config: configInput({ network_plan: [] }) });
    expect(own.status).toBe(201);
    const list = await getJson(`${run.url}/api/v1/sensor-config`, tokens.salesAdmin);
    const scopes = list.json.configs.map((c: { scope: string }) => c.scope) as string[];
    expect(scopes).toContain('department:Sales');
    expect(scopes.some((s) => s === 'department:Support' || s === `agent:${support.agentId}`)).toBe(false);
  });

  it('writes every change to the audit trail with who, what scope and a hash of the content', async () => {
    const res = await post(tokens.admin, { scope: 'department:Audited', config: configInput(), comment: 'ticket 42' });
    expect(res.status).toBe(201);
    const records = run.collector.audit.list({ action: 'sensor_config.set', targetId: 'department:Audited' }).records;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      actor: userIds.admin,
      target_type: 'sensor_config',
      detail: { version: res.json.version, revision: 1, comment: 'ticket 42', software_mode: 'enforce', must_be_offline: true },
    });
    expect(records[0]!.detail.config_sha256).toMatch(/^[0-9a-f]{64}$/);
    const history = await getJson(`${run.url}/api/v1/sensor-config?scope=${encodeURIComponent('department:Audited')}`, tokens.auditor);
    expect(history.json).toMatchObject({ total: 1, current: { version: res.json.version, comment: 'ticket 42', created_by: userIds.admin } });
  });

  it('delivers a config the real sensor host applies: a pushed enforce config kills the denied process', async () => {
    const agent = await seat('Kiosk');
    const conn = await online(agent);
    const first = await conn.next(isSensorConfig);

    const stateDir = await mkdtemp(join(tmpdir(), 'sg-sensor-e2e-'));
    const platform = createFakeSensorPlatform();
    const pid = platform.processes.spawn({ name: 'tool', path: '/opt/tool', sha256: BAD_HASH });
    const host = createSensorHost({ sensors: platform, emit: () => undefined, log: silentLogger(), clock: new ManualClock(), stateDir });
    try {
      expect(await host.applyConfig(first.body)).toMatchObject({ ok: true });
      await host.start();
      expect(platform.processes.running(pid)).toBe(true);

      const from = conn.received.length;
      const res = await post(tokens.admin, { scope: 'department:Kiosk', config: configInput({ must_be_offline: false, reachability_target: null }) });
      const pushed = await conn.next(isSensorConfig, 5_000, from);
      expect(await host.applyConfig(pushed.body)).toEqual({ ok: true, version: res.json.version, changed: true });
      expect(platform.processes.running(pid)).toBe(false);
    } finally {
      await host.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
