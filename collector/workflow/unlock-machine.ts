import { can, inScope, type DepartmentScope } from '../auth/privileges.js';

/**
 * The USB unlock workflow as a pure state machine: `transition(request, action, now, policy)`
 * returns the next request and the effects a thin service applies (store, push to the agent,
 * audit). No I/O here, so every allowed and forbidden transition is tested table-driven.
 *
 *   pending ──approve×N──▶ approved ──execute──▶ active ──end(expired|removed|revoked…)──▶ ended
 *      │                      │  (a maintainer's final approval executes at once)
 *      ├─reject──▶ rejected   ├─cancel──▶ cancelled
 *      ├─cancel──▶ cancelled  └─lapse───▶ lapsed
 *      └─lapse───▶ lapsed (nobody decided within requestTtlMs)
 *
 * 「批准后由电脑维护人员一人操作」: exactly one named maintainer (the executor) is accountable for
 * each grant, and neither the approver nor the executor may be the requester.
 *
 * The machine knows only the case fields ({@link CaseBase}); what a case is about (a USB device, a
 * software package — collector/workflow/software-case.ts) rides along untouched, so every kind of
 * case gets the same roles, separation of duties and lifecycle from this one implementation.
 */

export type UnlockState = 'pending' | 'approved' | 'active' | 'rejected' | 'cancelled' | 'lapsed' | 'ended';
export type EndReason = 'expired' | 'removed' | 'revoked' | 'expired_offline' | 'agent_restart_after_expiry';

export interface Actor {
  /** User id, or `seat:<agent_id>` for a request raised at the seat. */
  id: string;
  roles: readonly string[];
  departments: DepartmentScope;
}

export interface DeviceMatch {
  vendor_id: string;
  product_id: string;
  serial: string | null;
  hash: string | null;
  /** Port the device was seen on; a grant binds it unless `anyPort` is set. */
  port: string | null;
}

export interface Approval {
  by: string;
  at: number;
  note: string;
}

export interface Grant {
  id: string;
  executor: string;
  startsAt: number;
  expiresAt: number;
  allowReinsert: boolean;
  anyPort: boolean;
}

/** What every workflow case has, whatever its subject. */
export interface CaseBase {
  id: string;
  agentId: string;
  /** Department of the seat (null = unassigned: only '*' scopes may act on it). */
  department: string | null;
  reason: string;
  durationMs: number;
  requestedBy: string;
  requestedAt: number;
  state: UnlockState;
  approvalsRequired: 1 | 2;
  approvals: Approval[];
  /** Who decided negatively or cancelled, and why. */
  closedBy: string | null;
  closedReason: string | null;
  grant: Grant | null;
  endReason: EndReason | null;
  endedAt: number | null;
  /** Optimistic-concurrency version: the service writes only if it is unchanged. */
  version: number;
}

/** A USB unlock case: the case fields plus the device it unlocks. */
export interface UnlockRequest extends CaseBase {
  device: DeviceMatch;
}

export interface UnlockPolicy {
  minDurationMs: number;
  maxDurationMs: number;
  /** 1 or 2 approvals; 2 = four-eyes (two different approvers). */
  approvalsRequired: 1 | 2;
  /** A request nobody decided on within this time lapses. */
  requestTtlMs: number;
  /** When the final approval comes from a maintainer, the grant starts at once with them as executor. */
  maintainerApprovalExecutes: boolean;
  /** May the person who approved also be the executor? (Regulations: separate roles; default true for small sites.) */
  approverMayExecute: boolean;
  /** Warn the seat user this long before expiry. */
  warnBeforeMs: number;
}

export const DEFAULT_UNLOCK_POLICY: Readonly<UnlockPolicy> = Object.freeze({
  minDurationMs: 15 * 60_000,
  maxDurationMs: 8 * 3_600_000,
  approvalsRequired: 1,
  requestTtlMs: 24 * 3_600_000,
  maintainerApprovalExecutes: true,
  approverMayExecute: true,
  warnBeforeMs: 5 * 60_000,
});

export type UnlockAction =
  | { type: 'approve'; actor: Actor; note: string; grantId: string; allowReinsert?: boolean; anyPort?: boolean }
  | { type: 'reject'; actor: Actor; reason: string }
  | { type: 'cancel'; actor: Actor; reason: string }
  | { type: 'execute'; actor: Actor; grantId: string; allowReinsert?: boolean; anyPort?: boolean }
  | { type: 'revoke'; actor: Actor; reason: string }
  | { type: 'lapse' }
  | { type: 'end'; reason: Exclude<EndReason, 'revoked'> };

export type UnlockEffect<C extends CaseBase = UnlockRequest> =
  | { kind: 'push-grant'; request: C }
  | { kind: 'push-revoke'; request: C; reason: string }
  | { kind: 'notify'; event: 'approved' | 'rejected' | 'activated' | 'ended' | 'lapsed' | 'cancelled'; request: C };

export type UnlockErrorCode =
  | 'UNLOCK_ERR_NOT_PENDING'
  | 'UNLOCK_ERR_NOT_APPROVED'
  | 'UNLOCK_ERR_NOT_ACTIVE'
  | 'UNLOCK_ERR_SELF_APPROVAL'
  | 'UNLOCK_ERR_DUPLICATE_APPROVAL'
  | 'UNLOCK_ERR_FORBIDDEN'
  | 'UNLOCK_ERR_SCOPE'
  | 'UNLOCK_ERR_LAPSED'
  | 'UNLOCK_ERR_EXECUTOR'
  | 'UNLOCK_ERR_REASON'
  | 'UNLOCK_ERR_DURATION';

export type TransitionFailure = { ok: false; code: UnlockErrorCode; message: string };
export type TransitionResult<C extends CaseBase = UnlockRequest> = { ok: true; next: C; effects: UnlockEffect<C>[] } | TransitionFailure;

const fail = (code: UnlockErrorCode, message: string): TransitionFailure => ({ ok: false, code, message });

/** Checks a new request against policy; returns an error or null. */
export function validateNewRequest(
  input: { durationMs: number; reason: string },
  policy: UnlockPolicy,
): { code: UnlockErrorCode; message: string } | null {
  if (!Number.isInteger(input.durationMs) || input.durationMs < policy.minDurationMs || input.durationMs > policy.maxDurationMs) {
    return {
      code: 'UNLOCK_ERR_DURATION',
      message: `duration must be between ${policy.minDurationMs / 60_000} and ${policy.maxDurationMs / 60_000} minutes`,
    };
  }
  if (input.reason.trim().length < 2) return { code: 'UNLOCK_ERR_REASON', message: 'a work reason is required' };
  return null;
}

function isLapsed(req: CaseBase, now: number, policy: UnlockPolicy): boolean {
  return now >= req.requestedAt + policy.requestTtlMs;
}

function activate<C extends CaseBase>(req: C, executor: string, now: number, a: { grantId: string; allowReinsert?: boolean; anyPort?: boolean }): C {
  return {
    ...req,
    state: 'active',
    grant: {
      id: a.grantId,
      executor,
      startsAt: now,
      expiresAt: now + req.durationMs,
      allowReinsert: a.allowReinsert ?? false,
      anyPort: a.anyPort ?? false,
    },
  };
}

function checkScope(actor: Actor, req: CaseBase): TransitionFailure | null {
  if (!inScope(actor.departments, req.department)) {
    return fail('UNLOCK_ERR_SCOPE', `seat ${req.agentId} is outside the departments ${actor.id} may manage`);
  }
  return null;
}

function approve<C extends CaseBase>(req: C, a: Extract<UnlockAction, { type: 'approve' }>, now: number, policy: UnlockPolicy): TransitionResult<C> {
  if (req.state !== 'pending') return fail('UNLOCK_ERR_NOT_PENDING', `request ${req.id} is ${req.state}, not pending`);
  if (isLapsed(req, now, policy)) return fail('UNLOCK_ERR_LAPSED', `request ${req.id} lapsed without a decision`);
  if (!can(a.actor.roles, 'unlock.approve')) return fail('UNLOCK_ERR_FORBIDDEN', `${a.actor.id} may not approve unlocks`);
  const scope = checkScope(a.actor, req);
  if (scope) return scope;
  if (a.actor.id === req.requestedBy) return fail('UNLOCK_ERR_SELF_APPROVAL', 'the requester may not approve their own request');
  if (req.approvals.some((x) => x.by === a.actor.id)) {
    return fail('UNLOCK_ERR_DUPLICATE_APPROVAL', `${a.actor.id} already approved request ${req.id}; a second approver is required`);
  }
  const approvals = [...req.approvals, { by: a.actor.id, at: now, note: a.note }];
  const next: C = { ...req, approvals, version: req.version + 1 };
  if (approvals.length < req.approvalsRequired) return { ok: true, next, effects: [] };

  const executes = policy.maintainerApprovalExecutes && can(a.actor.roles, 'unlock.execute') && policy.approverMayExecute;
  if (!executes) {
    const approved: C = { ...next, state: 'approved' as const };
    return { ok: true, next: approved, effects: [{ kind: 'notify', event: 'approved', request: approved }] };
  }
  const active = activate(next, a.actor.id, now, a);
  return {
    ok: true,
    next: active,
    effects: [
      { kind: 'push-grant', request: active },
      { kind: 'notify', event: 'activated', request: active },
    ],
  };
}

function execute<C extends CaseBase>(req: C, a: Extract<UnlockAction, { type: 'execute' }>, now: number, policy: UnlockPolicy): TransitionResult<C> {
  if (req.state !== 'approved') return fail('UNLOCK_ERR_NOT_APPROVED', `request ${req.id} is ${req.state}, not approved`);
  if (!can(a.actor.roles, 'unlock.execute')) return fail('UNLOCK_ERR_FORBIDDEN', `${a.actor.id} may not execute unlocks`);
  const scope = checkScope(a.actor, req);
  if (scope) return scope;
  if (a.actor.id === req.requestedBy) return fail('UNLOCK_ERR_EXECUTOR', 'the requester may not execute their own unlock');
  if (!policy.approverMayExecute && req.approvals.some((x) => x.by === a.actor.id)) {
    return fail('UNLOCK_ERR_EXECUTOR', 'policy requires an executor other than the approvers');
  }
  const active = activate({ ...req, version: req.version + 1 }, a.actor.id, now, a);
  return {
    ok: true,
    next: active,
    effects: [
      { kind: 'push-grant', request: active },
      { kind: 'notify', event: 'activated', request: active },
    ],
  };
}

function closeWith<C extends CaseBase>(req: C, state: 'rejected' | 'cancelled' | 'lapsed', by: string | null, reason: string | null, now: number): C {
  return { ...req, state, closedBy: by, closedReason: reason, endedAt: now, version: req.version + 1 };
}

/** Applies one action. Never throws; forbidden transitions return a coded error. */
export function transition<C extends CaseBase = UnlockRequest>(req: C, action: UnlockAction, now: number, policy: UnlockPolicy = DEFAULT_UNLOCK_POLICY): TransitionResult<C> {
  switch (action.type) {
    case 'approve':
      return approve(req, action, now, policy);
    case 'execute':
      return execute(req, action, now, policy);
    case 'reject': {
      if (req.state !== 'pending' && req.state !== 'approved') return fail('UNLOCK_ERR_NOT_PENDING', `request ${req.id} is ${req.state}`);
      if (!can(action.actor.roles, 'unlock.reject')) return fail('UNLOCK_ERR_FORBIDDEN', `${action.actor.id} may not reject unlocks`);
      const scope = checkScope(action.actor, req);
      if (scope) return scope;
      if (action.actor.id === req.requestedBy) return fail('UNLOCK_ERR_SELF_APPROVAL', 'the requester decides nothing on their own request; cancel it instead');
      if (action.reason.trim().length < 2) return fail('UNLOCK_ERR_REASON', 'a rejection needs a reason');
      const next = closeWith(req, 'rejected', action.actor.id, action.reason, now);
      return { ok: true, next, effects: [{ kind: 'notify', event: 'rejected', request: next }] };
    }
    case 'cancel': {
      if (req.state !== 'pending' && req.state !== 'approved') return fail('UNLOCK_ERR_NOT_PENDING', `request ${req.id} is ${req.state}`);
      const own = action.actor.id === req.requestedBy;
      if (!own && !can(action.actor.roles, 'unlock.reject')) return fail('UNLOCK_ERR_FORBIDDEN', `${action.actor.id} may not cancel this request`);
      const next = closeWith(req, 'cancelled', action.actor.id, action.reason, now);
      return { ok: true, next, effects: [{ kind: 'notify', event: 'cancelled', request: next }] };
    }
    case 'lapse': {
      if (req.state !== 'pending' && req.state !== 'approved') return fail('UNLOCK_ERR_NOT_PENDING', `request ${req.id} is ${req.state}`);
      if (!isLapsed(req, now, policy)) return fail('UNLOCK_ERR_NOT_PENDING', `request ${req.id} has not lapsed yet`);
      const next = closeWith(req, 'lapsed', null, 'no decision within the request window', now);
      return { ok: true, next, effects: [{ kind: 'notify', event: 'lapsed', request: next }] };
    }
    case 'revoke': {
      if (req.state !== 'active') return fail('UNLOCK_ERR_NOT_ACTIVE', `request ${req.id} is ${req.state}, not active`);
      if (!can(action.actor.roles, 'unlock.revoke')) return fail('UNLOCK_ERR_FORBIDDEN', `${action.actor.id} may not revoke unlocks`);
      if (action.reason.trim().length < 2) return fail('UNLOCK_ERR_REASON', 'a revocation needs a reason');
      const next: C = { ...req, state: 'ended', endReason: 'revoked', endedAt: now, closedBy: action.actor.id, closedReason: action.reason, version: req.version + 1 };
      return {
        ok: true,
        next,
        effects: [
          { kind: 'push-revoke', request: next, reason: action.reason },
          { kind: 'notify', event: 'ended', request: next },
        ],
      };
    }
    case 'end': {
      if (req.state !== 'active') return fail('UNLOCK_ERR_NOT_ACTIVE', `request ${req.id} is ${req.state}, not active`);
      const next: C = { ...req, state: 'ended', endReason: action.reason, endedAt: now, version: req.version + 1 };
      return { ok: true, next, effects: [{ kind: 'notify', event: 'ended', request: next }] };
    }
  }
}

/** The case fields of a fresh pending case of any kind. */
export function newCase(input: {
  id: string;
  agentId: string;
  department: string | null;
  reason: string;
  durationMs: number;
  requestedBy: string;
  now: number;
  policy?: UnlockPolicy;
}): CaseBase {
  return {
    id: input.id,
    agentId: input.agentId,
    department: input.department,
    reason: input.reason,
    durationMs: input.durationMs,
    requestedBy: input.requestedBy,
    requestedAt: input.now,
    state: 'pending',
    approvalsRequired: (input.policy ?? DEFAULT_UNLOCK_POLICY).approvalsRequired,
    approvals: [],
    closedBy: null,
    closedReason: null,
    grant: null,
    endReason: null,
    endedAt: null,
    version: 0,
  };
}

/** Builds a fresh pending request (validated separately by validateNewRequest). */
export function newRequest(input: Parameters<typeof newCase>[0] & { device: DeviceMatch }): UnlockRequest {
  const { device, ...rest } = input;
  return { ...newCase(rest), device };
}
