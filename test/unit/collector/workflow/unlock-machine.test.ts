import { describe, expect, it } from 'vitest';
import {
  DEFAULT_UNLOCK_POLICY,
  newRequest,
  transition,
  validateNewRequest,
  type Actor,
  type UnlockAction,
  type UnlockPolicy,
  type UnlockRequest,
} from '../../../../collector/workflow/unlock-machine.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);
const MIN = 60_000;

const seatUser: Actor = { id: 'seat:agent-1', roles: [], departments: [] };
const alice: Actor = { id: 'alice', roles: ['maintainer'], departments: ['sales'] };
const bob: Actor = { id: 'bob', roles: ['maintainer'], departments: '*' };
const carol: Actor = { id: 'carol', roles: ['approver'], departments: ['sales'] };
const dave: Actor = { id: 'dave', roles: ['duty'], departments: '*' };
const erin: Actor = { id: 'erin', roles: ['auditor'], departments: '*' };
const mallory: Actor = { id: 'mallory', roles: ['maintainer'], departments: ['billing'] };

function pending(overrides: Partial<UnlockRequest> = {}, policy: UnlockPolicy = DEFAULT_UNLOCK_POLICY): UnlockRequest {
  return {
    ...newRequest({
      id: 'req-1',
      agentId: 'agent-1',
      department: 'sales',
      device: { vendor_id: '0781', product_id: '5583', serial: 'SN1', hash: null, port: '1-2' },
      reason: 'copy the monthly call report',
      durationMs: 30 * MIN,
      requestedBy: seatUser.id,
      now: T0,
      policy,
    }),
    ...overrides,
  };
}

function run(req: UnlockRequest, action: UnlockAction, now = T0 + MIN, policy = DEFAULT_UNLOCK_POLICY) {
  return transition(req, action, now, policy);
}

const approve = (actor: Actor): UnlockAction => ({ type: 'approve', actor, note: 'ok', grantId: 'g-1' });

describe('unlock workflow state machine', () => {
  describe('allowed transitions', () => {
    it('activates a grant at once when a maintainer gives the final approval, with the maintainer as executor', () => {
      const r = run(pending(), approve(alice));
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.next.state).toBe('active');
      expect(r.next.grant).toMatchObject({ id: 'g-1', executor: 'alice', startsAt: T0 + MIN, expiresAt: T0 + MIN + 30 * MIN, allowReinsert: false, anyPort: false });
      expect(r.effects.map((e) => e.kind)).toEqual(['push-grant', 'notify']);
    });

    it('waits for a maintainer to execute when an approver (not a maintainer) approves', () => {
      const r = run(pending(), approve(carol));
      expect(r.ok && r.next.state).toBe('approved');
      if (!r.ok) return;
      expect(r.effects.some((e) => e.kind === 'push-grant')).toBe(false);
      const x = run(r.next, { type: 'execute', actor: alice, grantId: 'g-2' }, T0 + 2 * MIN);
      expect(x.ok && x.next.state).toBe('active');
      if (!x.ok) return;
      expect(x.next.grant?.executor).toBe('alice');
      expect(x.next.grant?.expiresAt).toBe(T0 + 2 * MIN + 30 * MIN);
    });

    it('stays pending after the first of two required approvals, and activates on the second', () => {
      const policy: UnlockPolicy = { ...DEFAULT_UNLOCK_POLICY, approvalsRequired: 2 };
      const req = pending({}, policy);
      const first = run(req, approve(carol), T0 + MIN, policy);
      expect(first.ok && first.next.state).toBe('pending');
      if (!first.ok) return;
      const second = run(first.next, approve(alice), T0 + 2 * MIN, policy);
      expect(second.ok && second.next.state).toBe('active');
      if (!second.ok) return;
      expect(second.next.approvals.map((a) => a.by)).toEqual(['carol', 'alice']);
    });

    it('rejects a pending request with a reason', () => {
      const r = run(pending(), { type: 'reject', actor: alice, reason: 'not a work need' });
      expect(r.ok && r.next.state).toBe('rejected');
      if (r.ok) expect(r.next.closedReason).toBe('not a work need');
    });

    it('lets the requester cancel their own pending request', () => {
      const r = run(pending(), { type: 'cancel', actor: seatUser, reason: 'no longer needed' });
      expect(r.ok && r.next.state).toBe('cancelled');
    });

    it('revokes an active grant and asks the agent to relock', () => {
      const active = run(pending(), approve(alice));
      if (!active.ok) throw new Error('setup');
      const r = run(active.next, { type: 'revoke', actor: dave, reason: 'seat user left the floor' }, T0 + 5 * MIN);
      expect(r.ok && r.next.state).toBe('ended');
      if (!r.ok) return;
      expect(r.next.endReason).toBe('revoked');
      expect(r.effects[0]).toMatchObject({ kind: 'push-revoke' });
    });

    it.each(['expired', 'removed', 'expired_offline', 'agent_restart_after_expiry'] as const)('ends an active grant with reason %s', (reason) => {
      const active = run(pending(), approve(alice));
      if (!active.ok) throw new Error('setup');
      const r = run(active.next, { type: 'end', reason }, T0 + 31 * MIN);
      expect(r.ok && r.next.endReason).toBe(reason);
    });

    it('lapses a request nobody decided on within the request window', () => {
      const r = run(pending(), { type: 'lapse' }, T0 + DEFAULT_UNLOCK_POLICY.requestTtlMs);
      expect(r.ok && r.next.state).toBe('lapsed');
    });
  });

  describe('forbidden transitions', () => {
    it('refuses self-approval', () => {
      const req = pending({ requestedBy: 'alice' });
      const r = run(req, approve(alice));
      expect(r).toMatchObject({ ok: false, code: 'UNLOCK_ERR_SELF_APPROVAL' });
    });

    it('refuses approval after the request lapsed', () => {
      const r = run(pending(), approve(alice), T0 + DEFAULT_UNLOCK_POLICY.requestTtlMs + 1);
      expect(r).toMatchObject({ ok: false, code: 'UNLOCK_ERR_LAPSED' });
    });

    it('refuses approval of a seat outside the approver department scope', () => {
      const r = run(pending(), approve(mallory));
      expect(r).toMatchObject({ ok: false, code: 'UNLOCK_ERR_SCOPE' });
    });

    it('refuses approval of an unassigned seat by a department-scoped approver', () => {
      const r = run(pending({ department: null }), approve(alice));
      expect(r).toMatchObject({ ok: false, code: 'UNLOCK_ERR_SCOPE' });
      const ok = run(pending({ department: null }), approve(bob));
      expect(ok.ok).toBe(true);
    });

    it.each([dave, erin, { id: 'root', roles: ['admin'], departments: '*' } as Actor])('refuses approval by role without unlock.approve ($id)', (actor) => {
      expect(run(pending(), approve(actor))).toMatchObject({ ok: false, code: 'UNLOCK_ERR_FORBIDDEN' });
    });

    it('refuses the same person approving twice when two approvals are required', () => {
      const policy: UnlockPolicy = { ...DEFAULT_UNLOCK_POLICY, approvalsRequired: 2 };
      const first = run(pending({}, policy), approve(alice), T0 + MIN, policy);
      if (!first.ok) throw new Error('setup');
      expect(run(first.next, approve(alice), T0 + 2 * MIN, policy)).toMatchObject({ ok: false, code: 'UNLOCK_ERR_DUPLICATE_APPROVAL' });
    });

    it('refuses approving a request that is already active, rejected or ended', () => {
      const active = run(pending(), approve(alice));
      if (!active.ok) throw new Error('setup');
      expect(run(active.next, approve(bob))).toMatchObject({ ok: false, code: 'UNLOCK_ERR_NOT_PENDING' });
      const rejected = run(pending(), { type: 'reject', actor: bob, reason: 'no' + ' need' });
      if (!rejected.ok) throw new Error('setup');
      expect(run(rejected.next, approve(alice))).toMatchObject({ ok: false, code: 'UNLOCK_ERR_NOT_PENDING' });
    });

    it('refuses execution by the requester, by a non-maintainer, and of a request not approved', () => {
      const approved = run(pending({ requestedBy: 'alice' }), approve(carol));
      if (!approved.ok) throw new Error('setup');
      expect(run(approved.next, { type: 'execute', actor: alice, grantId: 'g' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_EXECUTOR' });
      expect(run(approved.next, { type: 'execute', actor: carol, grantId: 'g' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_FORBIDDEN' });
      expect(run(pending(), { type: 'execute', actor: bob, grantId: 'g' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_NOT_APPROVED' });
    });

    it('keeps approver and executor apart when policy says so', () => {
      const policy: UnlockPolicy = { ...DEFAULT_UNLOCK_POLICY, approverMayExecute: false };
      const approved = run(pending({}, policy), approve(alice), T0 + MIN, policy);
      expect(approved.ok && approved.next.state).toBe('approved');
      if (!approved.ok) return;
      expect(run(approved.next, { type: 'execute', actor: alice, grantId: 'g' }, T0 + MIN, policy)).toMatchObject({ ok: false, code: 'UNLOCK_ERR_EXECUTOR' });
      expect(run(approved.next, { type: 'execute', actor: bob, grantId: 'g' }, T0 + MIN, policy).ok).toBe(true);
    });

    it('refuses a rejection without a reason and a rejection by the requester', () => {
      expect(run(pending(), { type: 'reject', actor: alice, reason: ' ' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_REASON' });
      expect(run(pending({ requestedBy: 'alice' }), { type: 'reject', actor: alice, reason: 'changed my mind' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_SELF_APPROVAL' });
    });

    it('refuses a cancel by someone who is neither the requester nor a decider', () => {
      expect(run(pending(), { type: 'cancel', actor: erin, reason: 'x y' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_FORBIDDEN' });
    });

    it('refuses revoking or ending a grant that is not active', () => {
      expect(run(pending(), { type: 'revoke', actor: bob, reason: 'stop it' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_NOT_ACTIVE' });
      expect(run(pending(), { type: 'end', reason: 'expired' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_NOT_ACTIVE' });
    });

    it('refuses a revocation by a role that may not revoke', () => {
      const active = run(pending(), approve(alice));
      if (!active.ok) throw new Error('setup');
      expect(run(active.next, { type: 'revoke', actor: carol, reason: 'because' })).toMatchObject({ ok: false, code: 'UNLOCK_ERR_FORBIDDEN' });
    });

    it('refuses to lapse a request before its window ends', () => {
      expect(run(pending(), { type: 'lapse' }, T0 + MIN)).toMatchObject({ ok: false, code: 'UNLOCK_ERR_NOT_PENDING' });
    });

    it('bumps the version on every successful transition so concurrent writers can detect a lost race', () => {
      const a = run(pending(), approve(alice));
      expect(a.ok && a.next.version).toBe(1);
    });
  });

  describe('new request validation', () => {
    it.each([
      [14 * MIN, 'UNLOCK_ERR_DURATION'],
      [8 * 60 * MIN + 1, 'UNLOCK_ERR_DURATION'],
      [20 * MIN + 0.5, 'UNLOCK_ERR_DURATION'],
    ])('refuses a duration of %d ms', (durationMs, code) => {
      expect(validateNewRequest({ durationMs, reason: 'work file' }, DEFAULT_UNLOCK_POLICY)).toMatchObject({ code });
    });

    it('accepts the policy bounds themselves and refuses an empty reason', () => {
      expect(validateNewRequest({ durationMs: 15 * MIN, reason: 'work file' }, DEFAULT_UNLOCK_POLICY)).toBeNull();
      expect(validateNewRequest({ durationMs: 8 * 60 * MIN, reason: 'work file' }, DEFAULT_UNLOCK_POLICY)).toBeNull();
      expect(validateNewRequest({ durationMs: 30 * MIN, reason: '' }, DEFAULT_UNLOCK_POLICY)).toMatchObject({ code: 'UNLOCK_ERR_REASON' });
    });
  });
});
