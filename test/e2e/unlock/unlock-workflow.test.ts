import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeDeviceHash } from '../../../agent/platform/fake/device-spec.js';
import { runRequestUnlock, runUnlockCode, SEAT_EXIT } from '../../../agent/ipc/seat-cli.js';
import { eventually } from '../../helpers/eventually.js';
import { buildOnce, spawnCli } from '../../helpers/spawn.js';
import { startSeat, startSite, STICK, type Site, type UnlockView } from './harness.js';

// The whole unlock workflow with the real collector (SQLite, API, gateway, workflow service) and
// agents on the fake platform: blocked insertion → request at the seat (built CLI over the local
// socket) or from the API → approval by another user → the agent authorizes → expiry, removal or
// revocation → the agent relocks and the collector records how the grant ended.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(() => buildOnce(), 120_000);

async function site(): Promise<Site> {
  const s = await startSite();
  cleanups.push(() => s.cleanup());
  return s;
}

async function seat(s: Site, name: string) {
  const a = await startSeat(s, name);
  cleanups.push(() => a.stop());
  return a;
}

type Seat = Awaited<ReturnType<typeof seat>>;

async function insertBlocked(s: Site, a: Seat, port = '1-2'): Promise<void> {
  a.platform.insert(STICK(), { port });
  // Blocked at the seat and reported to the collector.
  await eventually(async () => {
    const r = await s.api<{ events: Array<{ type: string }> }>('duty01', 'GET', `/seats/${a.identity.agentId}/events?type=usb.blocked`);
    expect(r.json.events.length).toBeGreaterThan(0);
  });
  expect(a.platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
}

async function requestOf(s: Site, a: Seat, state: string): Promise<UnlockView> {
  return eventually(async () => {
    const r = await s.api<{ requests: UnlockView[] }>('duty01', 'GET', `/unlock-requests?agent_id=${a.identity.agentId}&state=${state}`);
    const [req] = r.json.requests;
    if (!req) throw new Error(`no ${state} request yet`);
    return req;
  }, 10_000);
}

async function view(s: Site, id: string): Promise<UnlockView> {
  const r = await s.api<{ request: UnlockView }>('duty01', 'GET', `/unlock-requests/${id}`);
  return r.json.request;
}

const storage = (a: Seat, port = '1-2') => a.platform.interfaceState(`${port}:1.0`)?.authorized;

describe('USB unlock, end to end', () => {
  it('seat CLI request → approval by a maintainer → authorized → expiry relocks it', async () => {
    const s = await site();
    const a = await seat(s, 'e2e-unlock-01');
    await insertBlocked(s, a);

    // The seat user runs the built CLI; it talks to the agent (in this process) over the local socket.
    const cli = spawnCli(['agent', 'request-unlock', '--ipc-socket', a.socketPath ?? '', '--device', '1-2', '--reason', 'copy the monthly call report', '--duration', '3s']);
    expect(await cli.exited).toBe(SEAT_EXIT.ok);
    const ref = /Unlock request sent: (rq_[0-9a-f]+)/.exec(cli.text.join('\n'))?.[1];
    expect(ref).toBeDefined();

    const pending = await requestOf(s, a, 'pending');
    expect(pending).toMatchObject({ source: 'agent', request_ref: ref, duration_ms: 3_000, device: { port: '1-2', serial: STICK().serial } });
    expect(pending.os_user).toBeTruthy();

    const approved = await s.api<UnlockView>('maint01', 'POST', `/unlock-requests/${pending.id}/approve`, { note: 'checked with the supervisor' });
    expect(approved.status).toBe(200);
    expect(approved.json.state).toBe('active');

    await eventually(() => expect(storage(a)).toBe(true), 10_000);
    await eventually(async () => expect((await view(s, pending.id)).grant?.applied_at).toBeTruthy(), 10_000);
    // Expiry: the agent closes the interface on its own clock and reports it.
    await eventually(() => expect(storage(a)).toBe(false), 10_000);
    await eventually(async () => expect((await view(s, pending.id)).grant?.agent_end_reason).toBe('expired'), 10_000);
    expect((await view(s, pending.id)).state).toBe('ended');
  });

  it('request raised from the API on the seat’s behalf; revocation relocks at once', async () => {
    const s = await site();
    const a = await seat(s, 'e2e-unlock-02');
    await insertBlocked(s, a);
    const spec = STICK();
    const created = await s.api<UnlockView>('duty01', 'POST', '/unlock-requests', {
      agent_id: a.identity.agentId,
      device: { vendor_id: spec.vendor_id, product_id: spec.product_id, serial: spec.serial, hash: fakeDeviceHash(spec), port: '1-2' },
      reason: 'seat user asked by phone',
      duration_ms: 60_000,
    });
    expect(created.status).toBe(201);
    // The requester may not approve their own request (separation of duties).
    expect((await s.api('duty01', 'POST', `/unlock-requests/${created.json.id}/approve`, {})).status).toBe(403);
    expect((await s.api<UnlockView>('maint01', 'POST', `/unlock-requests/${created.json.id}/approve`, {})).json.state).toBe('active');
    await eventually(() => expect(storage(a)).toBe(true), 10_000);

    const revoked = await s.api<UnlockView>('duty01', 'POST', `/unlock-requests/${created.json.id}/revoke`, { reason: 'done early' });
    expect(revoked.status).toBe(200);
    await eventually(() => expect(storage(a)).toBe(false), 10_000);
    await eventually(async () => expect((await view(s, created.json.id)).grant?.agent_end_reason).toBe('revoked'), 10_000);
  });

  it('relocks at expiry while the collector is down; grant.ended arrives after it is back', async () => {
    const s = await site();
    const a = await seat(s, 'e2e-unlock-03');
    await insertBlocked(s, a);
    const code = await runRequestUnlock(
      { socketPath: a.socketPath ?? '', device: '1-2', reason: 'restore a backup', duration: '4s', osUser: 'zhangsan' },
      { out: () => undefined, err: () => undefined },
    );
    expect(code).toBe(SEAT_EXIT.ok);
    const pending = await requestOf(s, a, 'pending');
    const approved = await s.api<UnlockView>('maint01', 'POST', `/unlock-requests/${pending.id}/approve`, {});
    const grantId = approved.json.grant?.id;
    expect(grantId).toBeDefined();
    await eventually(() => expect(storage(a)).toBe(true), 10_000);
    await eventually(async () => expect((await view(s, pending.id)).grant?.applied_at).toBeTruthy(), 10_000);

    await s.stop();
    await eventually(() => expect(storage(a)).toBe(false), 15_000);
    await s.restart();
    await eventually(async () => {
      const r = await s.api<{ events: Array<{ body: { grant_id: string; reason: string; relocked_interfaces: string[] } }> }>(
        'duty01',
        'GET',
        `/seats/${a.identity.agentId}/events?type=grant.ended`,
      );
      expect(r.json.events.map((e) => e.body)).toEqual([{ grant_id: grantId, reason: 'expired', relocked_interfaces: ['08:06:50'] }]);
    }, 20_000);
    expect((await view(s, pending.id)).grant?.agent_end_reason).toBe('expired');
  });

  it('removal before expiry ends the grant; the re-inserted stick stays blocked', async () => {
    const s = await site();
    const a = await seat(s, 'e2e-unlock-04');
    await insertBlocked(s, a);
    await runRequestUnlock({ socketPath: a.socketPath ?? '', device: '1-2', reason: 'print a file', duration: '60s', osUser: 'lisi' }, { out: () => undefined, err: () => undefined });
    const pending = await requestOf(s, a, 'pending');
    await s.api('maint01', 'POST', `/unlock-requests/${pending.id}/approve`, {});
    await eventually(() => expect(storage(a)).toBe(true), 10_000);
    a.platform.remove('1-2');
    await eventually(async () => expect((await view(s, pending.id)).grant?.agent_end_reason).toBe('removed'), 10_000);
    a.platform.insert(STICK(), { port: '1-2' });
    await eventually(async () => {
      const r = await s.api<{ events: Array<{ type: string }> }>('duty01', 'GET', `/seats/${a.identity.agentId}/events?type=usb.blocked`);
      expect(r.json.events.length).toBeGreaterThan(1);
    });
    expect(storage(a)).toBe(false);
  });

  it('offline code: challenge at the seat, code from the collector, single use, counted on the agent clock', async () => {
    const s = await site();
    const a = await seat(s, 'e2e-unlock-05');
    expect(a.identity.offlineSecret).toBeTruthy();
    await insertBlocked(s, a);
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runRequestUnlock({ socketPath: a.socketPath ?? '', device: '1-2', offline: true }, io)).toBe(SEAT_EXIT.ok);
    const challenge = /Offline challenge: ([0-9A-Z-]+)/.exec(out.join('\n'))?.[1] ?? '';
    // Read out to the maintainer, who asks the collector for the response (1 minute).
    const issued = await s.api<{ response: string }>('maint01', 'POST', '/offline-codes', { agent_id: a.identity.agentId, challenge, minutes: 1, reason: 'network down' });
    expect(issued.status).toBe(201);
    expect(await runUnlockCode({ socketPath: a.socketPath ?? '', code: issued.json.response, osUser: 'zhangsan' }, io)).toBe(SEAT_EXIT.ok);
    await eventually(() => expect(storage(a)).toBe(true), 10_000);
    expect(await runUnlockCode({ socketPath: a.socketPath ?? '', code: issued.json.response, osUser: 'zhangsan' }, io)).toBe(SEAT_EXIT.refused);
    await eventually(async () => {
      const r = await s.api<{ events: Array<{ body: { challenge: string; minutes: number } }> }>('duty01', 'GET', `/seats/${a.identity.agentId}/events?type=offline.unlock_used`);
      expect(r.json.events.map((e) => e.body)).toEqual([expect.objectContaining({ challenge, minutes: 1 })]);
    }, 10_000);
    // Its end comes from the agent's own clock, like any grant.
    const grant = a.unlock?.grants.list()[0];
    expect(grant?.remainingMs).toBeLessThanOrEqual(60_000);
    expect(grant?.grant.source).toBe('offline');
  });
});
