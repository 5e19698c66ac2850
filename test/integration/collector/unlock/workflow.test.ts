import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_UNLOCK_POLICY } from '../../../../collector/workflow/unlock-machine.js';
import { SAMPLE_DEVICE } from '../harness.js';
import { API_DEVICE, MIN, api, eventFrame, isType, requestedFrame, sendEvent, unlockWorld, type SeatAgent, type TestUser, type UnlockWorld, type WorkflowCast, workflowCast } from './unlock-harness.js';

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

interface Cast extends WorkflowCast {
  root: TestUser; // admin
}

async function setup(): Promise<{ w: UnlockWorld; cast: Cast; seat: SeatAgent }> {
  const world = await unlockWorld();
  w = world;
  const cast: Cast = {
    ...(await workflowCast(world)),
    root: await world.user('root', ['admin'], '*'),
  };
  return { w: world, cast, seat: await world.seat('sales') };
}

/** A pending request raised at the seat (through a real unlock.requested event); returns its id. */
async function seatRequest(world: UnlockWorld, seat: SeatAgent, seq = 1, over: Record<string, unknown> = {}): Promise<string> {
  const conn = await world.online(seat);
  await sendEvent(conn, requestedFrame(seq, over));
  const { rows } = world.run.collector.workflow.unlock.list({ agentId: seat.agentId, limit: 10, offset: 0 });
  const row = rows.find((r) => r.request_ref === `rq_${seq}`);
  if (!row) throw new Error('request not created');
  return row.id;
}

describe('unlock workflow service (real collector, SQLite file, API)', () => {
  it('creates one pending case per (seat, request_ref) from unlock.requested, department from the seat, audited', async () => {
    const { w, seat } = await setup();
    const conn = await w.online(seat);
    await sendEvent(conn, requestedFrame(1));
    // A retry of the same request under a new seq (e.g. after the agent lost its outbox ack).
    await sendEvent(conn, requestedFrame(2, { request_ref: 'rq_1' }));
    const { rows, total } = w.run.collector.workflow.unlock.list({ agentId: seat.agentId, limit: 10, offset: 0 });
    expect(total).toBe(1);
    expect(rows[0]).toMatchObject({
      state: 'pending',
      source: 'agent',
      department: 'sales',
      requested_by: `seat:${seat.agentId}`,
      os_user: 'zhangsan',
      serial: SAMPLE_DEVICE.serial,
      port: SAMPLE_DEVICE.port,
      duration_ms: 30 * MIN,
    });
    const trail = w.run.collector.workflow.unlock.trail(rows[0]!.id);
    expect(trail.map((t) => [t.action, t.actor])).toEqual([['unlock.request', `agent:${seat.agentId}`]]);
  });

  it('clamps a seat request to the policy bounds and refuses one without serial or hash (audited, no case)', async () => {
    const { w, seat } = await setup();
    const conn = await w.online(seat);
    await sendEvent(conn, requestedFrame(1, { duration_ms: 3 * 24 * 3_600_000 }));
    await sendEvent(conn, requestedFrame(2, { device: { ...SAMPLE_DEVICE, serial: null, hash: null } }));
    const { rows } = w.run.collector.workflow.unlock.list({ agentId: seat.agentId, limit: 10, offset: 0 });
    expect(rows.map((r) => [r.request_ref, r.duration_ms])).toEqual([['rq_1', DEFAULT_UNLOCK_POLICY.maxDurationMs]]);
    const refused = w.run.collector.audit.list({ action: 'unlock.request_refused' }).records;
    expect(refused).toHaveLength(1);
    expect(refused[0]?.detail).toMatchObject({ request_ref: 'rq_2' });
  });

  it('activates at once when a maintainer approves, and pushes unlock.granted to the connected seat', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const conn = await w.online(seat);
    const res = await api(w.run, cast.alice.token, `/unlock-requests/${id}/approve`, { note: 'report due today' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ state: 'active', grant: { executor: cast.alice.id, any_port: false, allow_reinsert: false } });
    const granted = await conn.next(isType('unlock.granted'));
    expect(granted.body).toMatchObject({
      grant_id: res.json.grant.id,
      request_id: id,
      device: API_DEVICE,
      duration_ms: 30 * MIN,
      executor: cast.alice.id,
      warn_before_ms: DEFAULT_UNLOCK_POLICY.warnBeforeMs,
      expires_at: new Date(w.clock.now() + 30 * MIN).toISOString(),
    });
  });

  it('needs a maintainer to execute after an approver (not a maintainer) approves; the grant is pushed on execute', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const conn = await w.online(seat);
    const approved = await api(w.run, cast.carol.token, `/unlock-requests/${id}/approve`, { note: 'ok' });
    expect(approved.json.state).toBe('approved');
    expect(conn.received.some(isType('unlock.granted'))).toBe(false);
    w.clock.advance(2 * MIN);
    const executed = await api(w.run, cast.alice.token, `/unlock-requests/${id}/execute`, { allow_reinsert: true });
    expect(executed.status).toBe(200);
    expect(executed.json).toMatchObject({ state: 'active', grant: { executor: cast.alice.id, allow_reinsert: true } });
    const granted = await conn.next(isType('unlock.granted'));
    expect(granted.body.allow_reinsert).toBe(true);
  });

  it('refuses self-approval: a user who raised a request on a seat\'s behalf cannot approve it (403 UNLOCK_ERR_SELF_APPROVAL)', async () => {
    const { w, cast, seat } = await setup();
    const created = await api(w.run, cast.alice.token, '/unlock-requests', {
      agent_id: seat.agentId,
      device: API_DEVICE,
      reason: 'copy a customer recording',
      duration_ms: 30 * MIN,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ state: 'pending', requested_by: cast.alice.id, source: 'api' });
    const self = await api(w.run, cast.alice.token, `/unlock-requests/${created.json.id}/approve`, { note: 'mine' });
    expect(self.status).toBe(403);
    expect(self.json.error.code).toBe('UNLOCK_ERR_SELF_APPROVAL');
    const other = await api(w.run, cast.bob.token, `/unlock-requests/${created.json.id}/approve`, {});
    expect(other.json.state).toBe('active');
  });

  it('refuses an approver outside the seat department (403 UNLOCK_ERR_SCOPE) and hides the case from them', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const res = await api(w.run, cast.mallory.token, `/unlock-requests/${id}/approve`, { note: 'x' });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('UNLOCK_ERR_SCOPE');
    expect((await api(w.run, cast.mallory.token, `/unlock-requests/${id}`)).status).toBe(404);
    expect((await api(w.run, cast.mallory.token, '/unlock-requests')).json.total).toBe(0);
    expect((await api(w.run, cast.alice.token, '/unlock-requests')).json.total).toBe(1);
    expect(w.run.collector.workflow.unlock.get(id)?.state).toBe('pending');
  });

  it('refuses roles without the step: duty cannot approve (403), and the service refuses an admin actor with UNLOCK_ERR_FORBIDDEN', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const duty = await api(w.run, cast.dave.token, `/unlock-requests/${id}/approve`, { note: 'x' });
    expect(duty.status).toBe(403);
    expect(duty.json.error.code).toBe('AUTH_ERR_FORBIDDEN');
    expect(() => w.run.collector.workflow.unlock.approve(id, { id: cast.root.id, roles: ['admin'], departments: '*' }, { note: 'x' })).toThrow(
      expect.objectContaining({ code: 'UNLOCK_ERR_FORBIDDEN' }),
    );
  });

  it('refuses approval after the request window lapsed (409 UNLOCK_ERR_LAPSED), and the sweep marks it lapsed', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    w.clock.advance(DEFAULT_UNLOCK_POLICY.requestTtlMs + 1);
    const res = await api(w.run, cast.alice.token, `/unlock-requests/${id}/approve`, { note: 'late' });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('UNLOCK_ERR_LAPSED');
    expect(w.run.collector.workflow.unlock.sweep()).toEqual({ expired: 0, lapsed: 1 });
    expect(w.run.collector.workflow.unlock.get(id)).toMatchObject({ state: 'lapsed', closed_by: null });
    expect(w.run.collector.workflow.unlock.trail(id).map((t) => [t.action, t.actor])).toContainEqual(['unlock.lapse', 'system']);
  });

  it('rejects with a reason and lets the requester cancel; neither can then be approved (409 UNLOCK_ERR_NOT_PENDING)', async () => {
    const { w, cast, seat } = await setup();
    const a = await seatRequest(w, seat, 1);
    const rejected = await api(w.run, cast.carol.token, `/unlock-requests/${a}/reject`, { reason: 'no work need stated' });
    expect(rejected.json).toMatchObject({ state: 'rejected', closed_by: cast.carol.id, closed_reason: 'no work need stated' });
    const created = await api(w.run, cast.carol.token, '/unlock-requests', { agent_id: seat.agentId, device: API_DEVICE, reason: 'scan import', duration_ms: 20 * MIN });
    const cancelled = await api(w.run, cast.carol.token, `/unlock-requests/${created.json.id}/cancel`, { reason: 'not needed after all' });
    expect(cancelled.json.state).toBe('cancelled');
    for (const id of [a, created.json.id as string]) {
      const late = await api(w.run, cast.bob.token, `/unlock-requests/${id}/approve`, {});
      expect(late.status).toBe(409);
      expect(late.json.error.code).toBe('UNLOCK_ERR_NOT_PENDING');
    }
  });

  it('refuses an API request outside the policy duration bounds (400 UNLOCK_ERR_DURATION) or without serial/hash (400 UNLOCK_ERR_DEVICE)', async () => {
    const { w, cast, seat } = await setup();
    const tooShort = await api(w.run, cast.alice.token, '/unlock-requests', { agent_id: seat.agentId, device: API_DEVICE, reason: 'copy', duration_ms: 5 * MIN });
    expect(tooShort.status).toBe(400);
    expect(tooShort.json.error.code).toBe('UNLOCK_ERR_DURATION');
    const vague = await api(w.run, cast.alice.token, '/unlock-requests', {
      agent_id: seat.agentId,
      device: { vendor_id: '0781', product_id: '5567' },
      reason: 'copy',
      duration_ms: 30 * MIN,
    });
    expect(vague.status).toBe(400);
    expect(vague.json.error.code).toBe('UNLOCK_ERR_DEVICE');
    const unknownSeat = await api(w.run, cast.alice.token, '/unlock-requests', { agent_id: 'agt_nope', device: API_DEVICE, reason: 'copy', duration_ms: 30 * MIN });
    expect(unknownSeat.status).toBe(404);
    expect(unknownSeat.json.error.code).toBe('UNLOCK_ERR_SEAT');
  });

  it('refuses execution by the requester (403 UNLOCK_ERR_EXECUTOR) and of a request still pending (409 UNLOCK_ERR_NOT_APPROVED)', async () => {
    const { w, cast, seat } = await setup();
    const created = await api(w.run, cast.alice.token, '/unlock-requests', { agent_id: seat.agentId, device: API_DEVICE, reason: 'import scans', duration_ms: 30 * MIN });
    const id = created.json.id as string;
    const early = await api(w.run, cast.bob.token, `/unlock-requests/${id}/execute`, {});
    expect([early.status, early.json.error.code]).toEqual([409, 'UNLOCK_ERR_NOT_APPROVED']);
    expect((await api(w.run, cast.carol.token, `/unlock-requests/${id}/approve`, {})).json.state).toBe('approved');
    const own = await api(w.run, cast.alice.token, `/unlock-requests/${id}/execute`, {});
    expect([own.status, own.json.error.code]).toEqual([403, 'UNLOCK_ERR_EXECUTOR']);
    const bob = await api(w.run, cast.bob.token, `/unlock-requests/${id}/execute`, {});
    expect(bob.json).toMatchObject({ state: 'active', grant: { executor: cast.bob.id } });
  });

  it('needs two different approvers under a four-eyes policy (409 UNLOCK_ERR_DUPLICATE_APPROVAL for the same one twice)', async () => {
    const world = await unlockWorld({ unlock: { sweepIntervalMs: 3_600_000, policy: { approvalsRequired: 2 } } });
    w = world;
    const carol = await world.user('carol', ['approver'], ['sales']);
    const alice = await world.user('alice', ['maintainer'], ['sales']);
    const seat = await world.seat('sales');
    const id = await seatRequest(world, seat);
    expect((await api(world.run, carol.token, `/unlock-requests/${id}/approve`, { note: 'first' })).json).toMatchObject({ state: 'pending', approvals_required: 2 });
    const twice = await api(world.run, carol.token, `/unlock-requests/${id}/approve`, { note: 'again' });
    expect([twice.status, twice.json.error.code]).toEqual([409, 'UNLOCK_ERR_DUPLICATE_APPROVAL']);
    const second = await api(world.run, alice.token, `/unlock-requests/${id}/approve`, { note: 'second' });
    expect(second.json.state).toBe('active');
    expect(second.json.approvals.map((a: { by: string }) => a.by)).toEqual([carol.id, alice.id]);
  });

  it('revokes an active grant and pushes unlock.revoked to the seat at once', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const conn = await w.online(seat);
    const granted = await api(w.run, cast.alice.token, `/unlock-requests/${id}/approve`, {});
    const revoked = await api(w.run, cast.dave.token, `/unlock-requests/${id}/revoke`, { reason: 'seat user left the floor' });
    expect(revoked.json).toMatchObject({ state: 'ended', end_reason: 'revoked', closed_by: cast.dave.id });
    const frame = await conn.next(isType('unlock.revoked'));
    expect(frame.body).toEqual({ grant_id: granted.json.grant.id, reason: 'seat user left the floor' });
    const again = await api(w.run, cast.dave.token, `/unlock-requests/${id}/revoke`, { reason: 'twice' });
    expect(again.json.error.code).toBe('UNLOCK_ERR_NOT_ACTIVE');
  });

  it('sends grants.sync after welcome with the active grants only, counting the time left; a revoked grant is gone', async () => {
    const { w, cast, seat } = await setup();
    const keep = await seatRequest(w, seat, 1);
    const drop = await seatRequest(w, seat, 2, { request_ref: 'rq_2', duration_ms: 60 * MIN });
    await api(w.run, cast.alice.token, `/unlock-requests/${keep}/approve`, {});
    await api(w.run, cast.alice.token, `/unlock-requests/${drop}/approve`, {});
    await api(w.run, cast.alice.token, `/unlock-requests/${drop}/revoke`, { reason: 'wrong stick' });
    w.clock.advance(10 * MIN);
    const conn = await w.online(seat);
    const sync = await conn.next(isType('grants.sync'));
    expect(sync.body.grants).toHaveLength(1);
    expect(sync.body.grants[0]).toMatchObject({ request_id: keep, duration_ms: 20 * MIN });
    // Sent after welcome, before the policy.
    const order = conn.received.map((m) => m.type).filter((t) => ['welcome', 'grants.sync', 'policy.updated'].includes(t));
    expect(order).toEqual(['welcome', 'grants.sync', 'policy.updated']);
  });

  it('marks a grant ended (expired) at its expiry when the seat has not reported, then records the seat relock', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const approved = await api(w.run, cast.alice.token, `/unlock-requests/${id}/approve`, {});
    w.clock.advance(30 * MIN - 1);
    expect(w.run.collector.workflow.unlock.sweep().expired).toBe(0);
    w.clock.advance(1);
    expect(w.run.collector.workflow.unlock.sweep().expired).toBe(1);
    expect(w.run.collector.workflow.unlock.get(id)).toMatchObject({ state: 'ended', end_reason: 'expired', relocked_at: null });
    const conn = await w.online(seat);
    await sendEvent(conn, eventFrame('grant.ended', 5, { grant_id: approved.json.grant.id, reason: 'expired', relocked_interfaces: ['08:06:50'] }));
    expect(w.run.collector.workflow.unlock.get(id)).toMatchObject({ state: 'ended', end_reason: 'expired', agent_end_reason: 'expired' });
    expect(w.run.collector.workflow.unlock.get(id)?.relocked_at).not.toBeNull();
  });

  it('ends an active grant when the seat reports the device removed before expiry', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const approved = await api(w.run, cast.alice.token, `/unlock-requests/${id}/approve`, {});
    const conn = await w.online(seat);
    await sendEvent(conn, eventFrame('grant.ended', 7, { grant_id: approved.json.grant.id, reason: 'removed', relocked_interfaces: ['08:06:50'] }));
    expect(w.run.collector.workflow.unlock.get(id)).toMatchObject({ state: 'ended', end_reason: 'removed', agent_end_reason: 'removed' });
    expect(w.run.collector.workflow.unlock.sweep().expired).toBe(0);
  });

  it('keeps the case trail request → approve → grant → accepted → use → relock under one case id, on the hash chain', async () => {
    const { w, cast, seat } = await setup();
    const id = await seatRequest(w, seat);
    const approved = await api(w.run, cast.alice.token, `/unlock-requests/${id}/approve`, { note: 'monthly report' });
    const grantId = approved.json.grant.id as string;
    const conn = await w.online(seat);
    await sendEvent(conn, eventFrame('grant.accepted', 10, { grant_id: grantId, expires_in_ms: 29 * MIN, device_present: true }));
    await sendEvent(conn, eventFrame('grant.applied', 11, { grant_id: grantId, device: SAMPLE_DEVICE, authorized_interfaces: ['08:06:50'] }));
    await sendEvent(conn, eventFrame('grant.ended', 12, { grant_id: grantId, reason: 'removed', relocked_interfaces: ['08:06:50'] }));
    const res = await api(w.run, cast.carol.token, `/unlock-requests/${id}`);
    expect(res.status).toBe(200);
    expect(res.json.trail.map((t: { action: string }) => t.action)).toEqual([
      'unlock.request',
      'unlock.approve',
      'unlock.grant',
      'unlock.grant_accepted',
      'unlock.use',
      'unlock.relock',
    ]);
    expect(res.json.request.grant).toMatchObject({ id: grantId, executor: cast.alice.id });
    expect(res.json.request.grant.accepted_at).not.toBeNull();
    expect(res.json.request.grant.applied_at).not.toBeNull();
    expect(w.run.collector.audit.verify().ok).toBe(true);
  });

  it('flags a grant report for a grant the collector never issued', async () => {
    const { w, seat } = await setup();
    const conn = await w.online(seat);
    await sendEvent(conn, eventFrame('grant.applied', 3, { grant_id: 'grt_forged', device: SAMPLE_DEVICE, authorized_interfaces: ['08:06:50'] }));
    const flagged = w.run.collector.audit.list({ action: 'unlock.unknown_grant' }).records;
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({ actor: `agent:${seat.agentId}`, target_id: seat.agentId });
  });

  it('lists active grants at /grants?active=1 and ended ones at active=0', async () => {
    const { w, cast, seat } = await setup();
    const a = await seatRequest(w, seat, 1);
    const b = await seatRequest(w, seat, 2, { request_ref: 'rq_2' });
    await api(w.run, cast.alice.token, `/unlock-requests/${a}/approve`, {});
    await api(w.run, cast.alice.token, `/unlock-requests/${b}/approve`, {});
    await api(w.run, cast.alice.token, `/unlock-requests/${b}/revoke`, { reason: 'done early' });
    const active = await api(w.run, cast.carol.token, '/grants?active=1');
    expect(active.json.grants.map((g: { id: string }) => g.id)).toEqual([a]);
    const ended = await api(w.run, cast.carol.token, '/grants?active=0');
    expect(ended.json.grants.map((g: { id: string }) => g.id)).toEqual([b]);
    expect((await api(w.run, cast.mallory.token, '/grants?active=1')).json.total).toBe(0);
  });
});
