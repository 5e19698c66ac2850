import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSensorPlatform } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import { createSensorHost } from '../../../../agent/sensors/sensor-host.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { eventually } from '../../../helpers/eventually.js';
import { compileSoftwarePolicy, evaluateSoftware } from '../../../../shared/domain/software-policy.js';
import type { CollectorMessage } from '../../../../shared/protocol/messages.js';
import type { RawAgent } from '../harness.js';
import { api, eventFrame, isType, sendEvent, unlockWorld, type SeatAgent, type TestUser, type UnlockWorld, type WorkflowCast, workflowCast } from '../unlock/unlock-harness.js';

type SensorConfigMsg = Extract<CollectorMessage, { type: 'sensor.config' }>;
const isSensorConfig = isType('sensor.config');
const HOUR = 3_600_000;

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

interface Cast extends WorkflowCast {
  auditor: TestUser;
}

async function setup(): Promise<{ w: UnlockWorld; cast: Cast; seat: SeatAgent; other: SeatAgent }> {
  // Plain HTTP on loopback: these tests are about the workflow, not the transport.
  const world = await unlockWorld({ insecureDev: true });
  w = world;
  const cast: Cast = {
    ...(await workflowCast(world)),
    auditor: await world.user('audrey', ['auditor'], '*'),
  };
  return { w: world, cast, seat: await world.seat('sales'), other: await world.seat('sales') };
}

/** The verdict a seat's agent reaches for an installed package under a pushed sensor.config. */
function verdictFor(cfg: SensorConfigMsg, name: string, version: string | null): 'allow' | 'deny' {
  const compiled = compileSoftwarePolicy(cfg.body.software_policy);
  if (!compiled.ok) throw new Error(compiled.errors.join('; '));
  return evaluateSoftware(compiled.policy, { kind: 'package', name, version }).verdict;
}

/** The next sensor.config the connection receives after `from`. */
async function nextConfig(conn: RawAgent, from: number): Promise<SensorConfigMsg> {
  return conn.next(isSensorConfig, 5_000, from);
}

const file = (w: UnlockWorld, u: TestUser, body: Record<string, unknown>) => api(w.run, u.token, '/software-requests', body);

describe('software install requests (real collector, SQLite file, API, connected seats)', () => {
  it('file by duty → approve by another person → maintainer executes: only that seat gets an allow rule for exactly that package, pushed at once', async () => {
    const { w, cast, seat, other } = await setup();
    const conn = await w.online(seat);
    const otherConn = await w.online(other);
    const initial = await conn.next(isSensorConfig);
    await otherConn.next(isSensorConfig);
    // The built-in denylist denies steam: that is what the request is for.
    expect(verdictFor(initial, 'steam', '1.0')).toBe('deny');

    const filed = await file(w, cast.dave, { agent_id: seat.agentId, package: 'steam', versions: '>= 1.0, << 2', reason: 'training on the game-based onboarding module' });
    expect(filed.status).toBe(201);
    expect(filed.json).toMatchObject({ state: 'pending', permanent: true, duration_ms: null, requested_by: cast.dave.id, department: 'sales', target: { package: 'steam', versions: '>= 1.0, << 2', sha256: null } });
    const id: string = filed.json.id;

    // An approver without execute rights approves; the case waits for a maintainer (one named executor).
    const from = conn.received.length;
    const otherFrom = otherConn.received.length;
    const approved = await api(w.run, cast.carol.token, `/software-requests/${id}/approve`, { note: 'ok for the training week' });
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ state: 'approved', allow: null });

    const executed = await api(w.run, cast.alice.token, `/software-requests/${id}/execute`, {});
    expect(executed.status).toBe(200);
    expect(executed.json).toMatchObject({ state: 'active', allow: { rule_id: `swreq:${id}`, executor: cast.alice.id, expires_at: null } });

    const pushed = await nextConfig(conn, from);
    expect(pushed.body.software_policy.allow).toContainEqual({ id: `swreq:${id}`, package: 'steam', versions: '>= 1.0, << 2', reason: `approved software request ${id}` });
    expect(verdictFor(pushed, 'steam', '1.5')).toBe('allow');
    // Exactly the range: another version stays denied, and so does every other denied package.
    expect(verdictFor(pushed, 'steam', '2.1')).toBe('deny');
    expect(verdictFor(pushed, 'nmap', '7.9')).toBe('deny');

    // The other seat of the same department got nothing and its effective policy has no such rule.
    await new Promise((r) => setTimeout(r, 100));
    expect(otherConn.received.slice(otherFrom).filter(isSensorConfig)).toEqual([]);
    const eff = await api(w.run, cast.auditor.token, `/sensor-config/effective/${other.agentId}`);
    expect(eff.status).toBe(200);
    expect(JSON.stringify(eff.json)).not.toContain(`swreq:${id}`);
    const own = await api(w.run, cast.auditor.token, `/sensor-config/effective/${seat.agentId}`);
    expect(JSON.stringify(own.json)).toContain(`swreq:${id}`);
  });

  it('refuses self-approval on the server (403 UNLOCK_ERR_SELF_APPROVAL), even for a maintainer who may approve', async () => {
    const { w, cast, seat } = await setup();
    const filed = await file(w, cast.alice, { agent_id: seat.agentId, package: 'libreoffice-calc', reason: 'monthly statistics' });
    expect(filed.status).toBe(201);
    const self = await api(w.run, cast.alice.token, `/software-requests/${filed.json.id}/approve`, {});
    expect(self).toMatchObject({ status: 403, json: { error: { code: 'UNLOCK_ERR_SELF_APPROVAL' } } });
    const row = w.run.collector.workflow.software.get(filed.json.id);
    expect(row?.state).toBe('pending');
  });

  it('a maintainer’s approval activates at once; revocation removes the rule and pushes the seat again', async () => {
    const { w, cast, seat } = await setup();
    const conn = await w.online(seat);
    await conn.next(isSensorConfig);
    const filed = await file(w, cast.carol, { agent_id: seat.agentId, package: 'wireshark', reason: 'network trouble ticket 4711' });
    let from = conn.received.length;
    const approved = await api(w.run, cast.bob.token, `/software-requests/${filed.json.id}/approve`, {});
    expect(approved.json).toMatchObject({ state: 'active', allow: { executor: cast.bob.id } });
    expect(verdictFor(await nextConfig(conn, from), 'wireshark', '4.0')).toBe('allow');

    from = conn.received.length;
    const revoked = await api(w.run, cast.dave.token, `/software-requests/${filed.json.id}/revoke`, { reason: 'ticket closed' });
    expect(revoked.json).toMatchObject({ state: 'ended', end_reason: 'revoked', closed_by: cast.dave.id });
    const after = await nextConfig(conn, from);
    expect(after.body.software_policy.allow.map((r) => r.id)).not.toContain(`swreq:${filed.json.id}`);
    expect(verdictFor(after, 'wireshark', '4.0')).toBe('deny');
  });

  it('needs two different approvers when the policy says so (four-eyes); the same person twice is refused', async () => {
    const world = await unlockWorld({ insecureDev: true, software: { bounds: { approvalsRequired: 2 } } });
    w = world;
    const carol = await world.user('carol', ['approver'], ['sales']);
    const bob = await world.user('bob', ['maintainer'], '*');
    const dave = await world.user('dave', ['duty'], '*');
    const seat = await world.seat('sales');
    const filed = await file(world, dave, { agent_id: seat.agentId, package: 'gimp', reason: 'edit the flyer' });
    expect(filed.json.approvals_required).toBe(2);
    const first = await api(world.run, carol.token, `/software-requests/${filed.json.id}/approve`, {});
    expect(first.json).toMatchObject({ state: 'pending', allow: null });
    expect(first.json.approvals).toHaveLength(1);
    expect(await api(world.run, carol.token, `/software-requests/${filed.json.id}/approve`, {})).toMatchObject({ status: 409, json: { error: { code: 'UNLOCK_ERR_DUPLICATE_APPROVAL' } } });
    const second = await api(world.run, bob.token, `/software-requests/${filed.json.id}/approve`, {});
    expect(second.json).toMatchObject({ state: 'active', allow: { executor: bob.id } });
    expect(world.run.collector.workflow.software.allowRules(seat.agentId).map((r) => r.id)).toEqual([`swreq:${filed.json.id}`]);
  });

  it('the seat’s real sensor host, fed the pushed configs, stops reporting the approved package as denied and reports it again after revocation', async () => {
    const { w, cast, seat } = await setup();
    const conn = await w.online(seat);
    const first = await conn.next(isSensorConfig);
    const stateDir = await mkdtemp(join(tmpdir(), 'sg-sw-host-'));
    const platform = createFakeSensorPlatform();
    const events: Array<{ type: string; body: unknown }> = [];
    const host = createSensorHost({ sensors: platform, emit: (type, body) => void events.push({ type, body }), log: silentLogger(), clock: new ManualClock(), stateDir, softwareDebounceMs: 10 });
    const denied = () => events.filter((e) => e.type === 'software.denied').map((e) => (e.body as { package: { name: string } }).package.name);
    try {
      expect(await host.applyConfig(first.body)).toMatchObject({ ok: true });
      await host.start();
      const filed = await file(w, cast.carol, { agent_id: seat.agentId, package: 'steam', reason: 'onboarding game module' });
      let from = conn.received.length;
      await api(w.run, cast.bob.token, `/software-requests/${filed.json.id}/approve`, {});
      expect(await host.applyConfig((await nextConfig(conn, from)).body)).toMatchObject({ ok: true, changed: true });

      // Installed on the seat after the approval: reported as installed, never as denied.
      platform.software.install({ name: 'steam', version: '1:1.0.0.79', arch: 'amd64' });
      await eventually(() => expect(events.some((e) => e.type === 'software.installed')).toBe(true), 5_000);
      // The same scan judges the packages right after reporting the install: give it time to finish.
      await new Promise((r) => setTimeout(r, 200));
      expect(denied()).toEqual([]);

      from = conn.received.length;
      await api(w.run, cast.dave.token, `/software-requests/${filed.json.id}/revoke`, { reason: 'training over' });
      expect(await host.applyConfig((await nextConfig(conn, from)).body)).toMatchObject({ ok: true, changed: true });
      // Re-evaluated at once under the policy without the rule: the still-installed package is denied again.
      await eventually(() => expect(denied()).toEqual(['steam']), 5_000);
    } finally {
      await host.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a time-boxed approval ends at its expiry (sweep), and the seat is pushed a config without the rule', async () => {
    const { w, cast, seat } = await setup();
    const conn = await w.online(seat);
    await conn.next(isSensorConfig);
    const filed = await file(w, cast.carol, { agent_id: seat.agentId, package: 'hashcat', reason: 'password audit by IT', duration_ms: 2 * HOUR });
    expect(filed.json).toMatchObject({ permanent: false, duration_ms: 2 * HOUR });
    const approved = await api(w.run, cast.bob.token, `/software-requests/${filed.json.id}/approve`, {});
    expect(approved.json.allow.expires_at).toBe(new Date(w.clock.now() + 2 * HOUR).toISOString());

    w.clock.advance(2 * HOUR - 1);
    expect(w.run.collector.workflow.software.sweep()).toEqual({ expired: 0, lapsed: 0 });
    const from = conn.received.length;
    w.clock.advance(1);
    expect(w.run.collector.workflow.software.sweep()).toEqual({ expired: 1, lapsed: 0 });
    expect(w.run.collector.workflow.software.get(filed.json.id)).toMatchObject({ state: 'ended', end_reason: 'expired' });
    expect(verdictFor(await nextConfig(conn, from), 'hashcat', '6.2')).toBe('deny');
  });

  it('creates one case per (seat, request_ref) from software.requested, and marks it fulfilled when the seat reports the install', async () => {
    const { w, cast, seat } = await setup();
    const conn = await w.online(seat);
    const req = { request_ref: 'sr_1', package: 'steam', versions: null, reason: 'onboarding game module', os_user: 'zhangsan' };
    await sendEvent(conn, eventFrame('software.requested', 1, req));
    // The same request again under a new seq (an outbox retry): still one case.
    await sendEvent(conn, eventFrame('software.requested', 2, req));
    const { rows, total } = w.run.collector.workflow.software.list({ agentId: seat.agentId, limit: 10, offset: 0 });
    expect(total).toBe(1);
    expect(rows[0]).toMatchObject({ source: 'agent', request_ref: 'sr_1', requested_by: `seat:${seat.agentId}`, os_user: 'zhangsan', state: 'pending', duration_ms: null });
    const id = rows[0]!.id;

    // An install before the approval fulfils nothing.
    await sendEvent(conn, eventFrame('software.installed', 3, { packages: [{ name: 'steam', version: '1.0.0.78', arch: 'amd64', source: 'dpkg' }] }));
    expect(w.run.collector.workflow.software.get(id)?.fulfilled_at).toBeNull();

    expect((await api(w.run, cast.bob.token, `/software-requests/${id}/approve`, {})).json.state).toBe('active');
    await sendEvent(conn, eventFrame('software.installed', 4, { packages: [{ name: 'steam-devices', version: '1', arch: 'all', source: 'dpkg' }, { name: 'steam', version: '1.0.0.79', arch: 'amd64', source: 'dpkg' }] }));
    expect(w.run.collector.workflow.software.get(id)).toMatchObject({ fulfilled_version: '1.0.0.79' });

    const detail = await api(w.run, cast.auditor.token, `/software-requests/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.json.request.fulfilled_at).not.toBeNull();
    expect(detail.json.trail.map((t: { action: string }) => t.action)).toEqual(['software.request', 'software.approve', 'software.allow', 'software.fulfilled']);
    expect(detail.json.trail[3]).toMatchObject({ actor: `agent:${seat.agentId}`, detail: { package: 'steam', version: '1.0.0.79' } });
  });

  it('raises no "installed without approval" alert for the approved package on that seat, but does for anything else', async () => {
    const { w, cast, seat } = await setup();
    const conn = await w.online(seat);
    const filed = await file(w, cast.carol, { agent_id: seat.agentId, package: 'steam', versions: '>= 1.0', reason: 'onboarding game module' });
    expect((await api(w.run, cast.bob.token, `/software-requests/${filed.json.id}/approve`, {})).json.state).toBe('active');
    const installed = () => w.run.collector.alerts.list({ agent_id: seat.agentId, rule: 'software.installed' }).alerts;

    await sendEvent(conn, eventFrame('software.installed', 1, { packages: [{ name: 'steam', version: '1.0.0.79', arch: 'amd64', source: 'dpkg' }] }));
    expect(installed()).toEqual([]);
    // Outside the approved range, or another package: the alert is raised as before.
    await sendEvent(conn, eventFrame('software.installed', 2, { packages: [{ name: 'steam', version: '0.9', arch: 'amd64', source: 'dpkg' }, { name: 'gimp', version: '2.10', arch: 'amd64', source: 'dpkg' }] }));
    const alerts = installed();
    expect(alerts).toHaveLength(1);
    expect(JSON.stringify(alerts[0])).toContain('gimp');
    expect(JSON.stringify(alerts[0])).toContain('steam 0.9');
    expect(JSON.stringify(alerts[0])).not.toContain('1.0.0.79');
  });

  it('audits a seat request it cannot accept (glob package name) and creates no case', async () => {
    const { w, seat } = await setup();
    const conn = await w.online(seat);
    await sendEvent(conn, eventFrame('software.requested', 1, { request_ref: 'sr_bad', package: 'steam*', versions: null, reason: 'anything', os_user: null }));
    expect(w.run.collector.workflow.software.list({ agentId: seat.agentId, limit: 10, offset: 0 }).total).toBe(0);
    const refused = w.run.collector.audit.list({ action: 'software.request_refused' }, { limit: 10 }).records;
    expect(refused).toHaveLength(1);
    expect(refused[0]?.detail).toMatchObject({ request_ref: 'sr_bad', problem: expect.stringContaining('exact') });
  });

  it('keeps other departments out: 404 on read, UNLOCK_ERR_SCOPE on approve and file, and lists leave the case out', async () => {
    const { w, cast, seat } = await setup();
    const filed = await file(w, cast.alice, { agent_id: seat.agentId, package: 'gimp', reason: 'edit the flyer' });
    const id: string = filed.json.id;
    expect((await api(w.run, cast.mallory.token, `/software-requests/${id}`)).json.error.code).toBe('SOFTWARE_ERR_NOT_FOUND');
    expect(await api(w.run, cast.mallory.token, `/software-requests/${id}/approve`, {})).toMatchObject({ status: 403, json: { error: { code: 'UNLOCK_ERR_SCOPE' } } });
    expect(await file(w, cast.mallory, { agent_id: seat.agentId, package: 'gimp', reason: 'x y' })).toMatchObject({ status: 403, json: { error: { code: 'UNLOCK_ERR_SCOPE' } } });
    expect((await api(w.run, cast.mallory.token, '/software-requests')).json.total).toBe(0);
    expect((await api(w.run, cast.bob.token, '/software-requests')).json.requests.map((r: { id: string }) => r.id)).toEqual([id]);
    // The auditor reads but decides nothing.
    expect(await api(w.run, cast.auditor.token, `/software-requests/${id}/approve`, {})).toMatchObject({ status: 403, json: { error: { code: 'AUTH_ERR_FORBIDDEN' } } });
  });

  it('refuses hostile or ambiguous targets and durations with 400 and stores nothing', async () => {
    const { w, cast, seat } = await setup();
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ package: 'steam*' }, 'SOFTWARE_ERR_TARGET'],
      [{ package: 'steam', sha256: 'a'.repeat(64) }, 'SOFTWARE_ERR_TARGET'],
      [{}, 'SOFTWARE_ERR_TARGET'],
      [{ sha256: 'a'.repeat(64), versions: '>= 1' }, 'SOFTWARE_ERR_TARGET'],
      [{ package: 'steam', versions: '> 1' }, 'SOFTWARE_ERR_TARGET'],
      [{ package: 'ste\u202eam' }, 'SOFTWARE_ERR_TARGET'],
      [{ package: 'steam', duration_ms: 60_000 }, 'SOFTWARE_ERR_DURATION'],
    ];
    for (const [over, code] of bad) {
      const r = await file(w, cast.alice, { agent_id: seat.agentId, reason: 'a reason', ...over });
      expect(r.status, JSON.stringify(over)).toBe(400);
      expect(r.json.error.code, JSON.stringify(over)).toBe(code);
    }
    expect((await file(w, cast.alice, { agent_id: seat.agentId, package: 'x', reason: 'r', extra: 1 })).status).toBe(400);
    expect(w.run.collector.workflow.software.list({ limit: 10, offset: 0 }).total).toBe(0);

    // An executable hash is a valid target on its own (upper case is normalized).
    const hash = await file(w, cast.alice, { agent_id: seat.agentId, sha256: 'AB'.repeat(32), reason: 'vendor tool' });
    expect(hash).toMatchObject({ status: 201, json: { target: { package: null, sha256: 'ab'.repeat(32) } } });
  });
});
