import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { deviceKey } from '../../shared/domain/usb.js';
import { AppError, formatError, isAppError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { EventBody } from '../../shared/protocol/messages.js';
import type { AuditInput, AuditLog, AuditRecord } from '../audit/audit-log.js';
import type { LiveBus } from '../live/live-bus.js';
import { can, inScope } from '../auth/privileges.js';
import type { Store } from '../store/store.js';
import { rowToRequest, type UnlockListQuery, type UnlockRow } from '../store/unlock-repo.js';
import { grantedFrame, grantsSyncFrame, revokedFrame } from './grant-frames.js';
import { sweepEach } from './sweep-each.js';
import {
  DEFAULT_UNLOCK_POLICY,
  newRequest,
  transition,
  validateNewRequest,
  type Actor,
  type DeviceMatch,
  type EndReason,
  type UnlockAction,
  type UnlockEffect,
  type UnlockPolicy,
  type UnlockRequest,
} from './unlock-machine.js';

/** How the workflow reaches connected agents (implemented by the agent gateway). */
export interface AgentChannel {
  /** Sends one frame to the agent's live session; false when it is not connected (it syncs on reconnect). */
  sendToAgent(agentId: string, frame: string): boolean;
  /** Sends one frame to every live session; returns how many got it. */
  broadcast(frame: string): number;
}

export interface UnlockServiceDeps {
  store: Store;
  audit: Pick<AuditLog, 'append' | 'list'>;
  channel: AgentChannel;
  clock: Clock;
  log: Logger;
  policy?: UnlockPolicy;
  /** Live console updates: every case change is published on topic 'unlock'. */
  live?: Pick<LiveBus, 'publish'>;
}

/** What the service does after a commit: the machine's effects plus console-only change notices. */
export type WorkflowEffect =
  | UnlockEffect
  | { kind: 'changed'; event: 'requested' | 'accepted' | 'applied' | 'relocked'; request: UnlockRequest };

/** A request raised from the API on a seat's behalf. */
export interface CreateRequestInput {
  agentId: string;
  device: DeviceMatch;
  reason: string;
  durationMs: number;
}

export interface ApproveInput {
  note: string;
  allowReinsert?: boolean;
  anyPort?: boolean;
}

export interface UnlockService {
  readonly policy: Readonly<UnlockPolicy>;
  createRequest(actor: Actor, input: CreateRequestInput): UnlockRow;
  approve(id: string, actor: Actor, input: ApproveInput): UnlockRow;
  reject(id: string, actor: Actor, reason: string): UnlockRow;
  execute(id: string, actor: Actor, input: { allowReinsert?: boolean; anyPort?: boolean }): UnlockRow;
  revoke(id: string, actor: Actor, reason: string): UnlockRow;
  cancel(id: string, actor: Actor, reason: string): UnlockRow;
  get(id: string): UnlockRow | undefined;
  /** The case trail: every audit record with case_id = request id, oldest first. */
  trail(id: string): AuditRecord[];
  list(q: UnlockListQuery): { rows: UnlockRow[]; total: number };
  grants(q: Parameters<Store['unlock']['listGrants']>[0]): { rows: UnlockRow[]; total: number };
  /** Ends grants past expiry ('expired') and lapses undecided requests; returns the counts. */
  sweep(): { expired: number; lapsed: number };
  /** The grants.sync frame for a seat that just said hello. */
  syncFrame(agentId: string): string;
  /** Agent events, each applied inside the caller's transaction; effects are returned, not applied. */
  onAgentRequested(agentId: string, body: EventBody<'unlock.requested'>): WorkflowEffect[];
  /** grant.accepted / grant.applied / grant.ended for a collector grant; null when the grant is not one of ours. */
  onGrantReport(agentId: string, report: GrantReport): WorkflowEffect[] | null;
  /** Applies effects after the transaction that produced them committed. */
  applyEffects(effects: readonly WorkflowEffect[]): void;
}

export type GrantReport =
  | { type: 'grant.accepted'; body: EventBody<'grant.accepted'> }
  | { type: 'grant.applied'; body: EventBody<'grant.applied'> }
  | { type: 'grant.ended'; body: EventBody<'grant.ended'> };

/** Audit actor of things the collector does by itself (expiry, lapse). */
export const SYSTEM_ACTOR = 'system';
/** Audit actor of a seat's reports. */
export const agentActor = (agentId: string): string => `agent:${agentId}`;
/** Requester id of a request raised at the seat (the state machine's convention). */
export const seatRequester = (agentId: string): string => `seat:${agentId}`;

const SWEEP_BATCH = 200;
const REASON_MAX = 1_024;

/** Opaque ids: prefix + 72 random bits, inside the protocol's GrantId alphabet. */
export function newId(prefix: 'req' | 'grt' | 'ofc'): string {
  return `${prefix}_${randomBytes(9).toString('hex')}`;
}

function fail(code: ErrorCode, message: string): never {
  throw new AppError(code, message);
}

/** The seat a case is for, if it is enrolled and not revoked; else UNLOCK_ERR_SEAT (both workflows). */
export function liveSeatOrFail(agents: Pick<Store['agents'], 'get'>, agentId: string) {
  const seat = agents.get(agentId);
  if (!seat || seat.revoked_at !== null) fail('UNLOCK_ERR_SEAT', formatError('UNLOCK_ERR_SEAT', agentId));
  return seat;
}

/** True when a device identity is precise enough to grant (vid:pid alone is too broad). */
export function identifiesDevice(d: Pick<DeviceMatch, 'serial' | 'hash'>): boolean {
  return (d.serial !== null && d.serial.length > 0) || d.hash !== null;
}

/**
 * The unlock workflow service: every step is load → `transition()` → compare-and-set write of the
 * new version plus its audit record(s) in ONE transaction → after commit, the effects (push the
 * grant or the revocation to the agent if it is connected; otherwise it gets grants.sync on its
 * next hello).
 */
export function createUnlockService(deps: UnlockServiceDeps): UnlockService {
  const { store, audit, channel, clock } = deps;
  const policy: Readonly<UnlockPolicy> = Object.freeze({ ...(deps.policy ?? DEFAULT_UNLOCK_POLICY) });
  const log = deps.log.child({ component: 'unlock' });
  const iso = (ms: number) => new Date(ms).toISOString();

  const seatOrFail = (agentId: string) => liveSeatOrFail(store.agents, agentId);

  function grantAudit(next: UnlockRequest, actor: string, via: 'approve' | 'execute'): AuditInput {
    const g = next.grant;
    return {
      actor,
      action: 'unlock.grant',
      targetType: 'unlock_request',
      targetId: next.id,
      caseId: next.id,
      detail: {
        via,
        agent_id: next.agentId,
        grant_id: g?.id ?? null,
        executor: g?.executor ?? null,
        starts_at: g ? iso(g.startsAt) : null,
        expires_at: g ? iso(g.expiresAt) : null,
        duration_ms: next.durationMs,
        allow_reinsert: g?.allowReinsert ?? false,
        any_port: g?.anyPort ?? false,
        device: { ...next.device },
      },
    };
  }

  /**
   * One workflow step. The read happens inside the IMMEDIATE transaction, so writers on the same
   * database file queue; the version compare-and-set still guards against any writer that read
   * before us. Runs nested (as a savepoint) when the caller already holds a transaction.
   */
  function stepTx(
    id: string,
    action: UnlockAction | ((prev: UnlockRequest) => UnlockAction),
    auditOf: (prev: UnlockRequest, next: UnlockRequest) => AuditInput[],
    now: number,
  ): { next: UnlockRequest; effects: UnlockEffect[] } {
    const row = store.unlock.get(id);
    if (!row) fail('UNLOCK_ERR_NOT_FOUND', formatError('UNLOCK_ERR_NOT_FOUND', id));
    const prev = rowToRequest(row);
    const r = transition(prev, typeof action === 'function' ? action(prev) : action, now, policy);
    if (!r.ok) fail(r.code, r.message);
    if (!store.unlock.update(r.next, prev.version, iso(now))) fail('UNLOCK_ERR_CONFLICT', formatError('UNLOCK_ERR_CONFLICT', id));
    for (const rec of auditOf(prev, r.next)) audit.append(rec);
    return { next: r.next, effects: r.effects };
  }

  function step(
    id: string,
    action: UnlockAction | ((prev: UnlockRequest) => UnlockAction),
    auditOf: (prev: UnlockRequest, next: UnlockRequest) => AuditInput[],
  ): UnlockRow {
    const now = clock.now();
    const { effects } = store.transaction(() => stepTx(id, action, auditOf, now));
    applyEffects(effects);
    // The row exists: the step above just wrote it.
    return store.unlock.get(id) as UnlockRow;
  }

  function publish(req: UnlockRequest, event: string): void {
    deps.live?.publish(
      'unlock',
      { kind: 'unlock', event, id: req.id, state: req.state, agent_id: req.agentId, grant_id: req.grant?.id ?? null, expires_at: req.grant ? iso(req.grant.expiresAt) : null },
      { department: req.department },
    );
  }

  function applyEffects(effects: readonly WorkflowEffect[]): void {
    const now = clock.now();
    for (const e of effects) {
      try {
        if (e.kind === 'changed') {
          publish(e.request, e.event);
          continue;
        }
        if (e.kind === 'push-grant') {
          const frame = grantedFrame(e.request, now, policy.warnBeforeMs);
          if (frame === null) continue;
          const sent = channel.sendToAgent(e.request.agentId, frame);
          log.info({ unlock_id: e.request.id, agent_id: e.request.agentId, grant_id: e.request.grant?.id ?? null, delivered: sent }, 'grant pushed');
        } else if (e.kind === 'push-revoke') {
          const grantId = e.request.grant?.id;
          if (grantId === undefined) continue;
          const sent = channel.sendToAgent(e.request.agentId, revokedFrame(grantId, e.reason, now));
          log.info({ unlock_id: e.request.id, agent_id: e.request.agentId, grant_id: grantId, delivered: sent }, 'revocation pushed');
        } else {
          log.info({ unlock_id: e.request.id, agent_id: e.request.agentId, event: e.event, state: e.request.state }, 'unlock case changed');
          publish(e.request, e.event);
        }
      } catch (err) {
        // The state is committed; an undelivered push is repaired by grants.sync on reconnect.
        log.error({ err, unlock_id: e.request.id }, 'unlock effect failed');
      }
    }
  }

  // No port recorded: there is nothing to bind the grant to, so it cannot be port-bound.
  const portless = (prev: UnlockRequest, anyPort: boolean | undefined) => (anyPort ?? false) || prev.device.port === null;

  const service: UnlockService = {
    policy,

    createRequest(actor, input) {
      if (!can(actor.roles, 'unlock.request')) fail('UNLOCK_ERR_FORBIDDEN', `${actor.id} may not request unlocks`);
      const seat = seatOrFail(input.agentId);
      if (!inScope(actor.departments, seat.department)) {
        fail('UNLOCK_ERR_SCOPE', `seat ${input.agentId} is outside the departments ${actor.id} may manage`);
      }
      if (!identifiesDevice(input.device)) fail('UNLOCK_ERR_DEVICE', 'give the device serial or its descriptor hash');
      const reason = sanitizeText(input.reason, REASON_MAX);
      const invalid = validateNewRequest({ durationMs: input.durationMs, reason }, policy);
      if (invalid) fail(invalid.code, invalid.message);
      const now = clock.now();
      const req = newRequest({
        id: newId('req'),
        agentId: input.agentId,
        department: seat.department,
        device: input.device,
        reason,
        durationMs: input.durationMs,
        requestedBy: actor.id,
        now,
        policy,
      });
      store.transaction(() => {
        store.unlock.insert(req, { source: 'api', requestRef: null, deviceKey: deviceKey(req.device), deviceJson: null, osUser: null }, iso(now));
        audit.append({
          actor: actor.id,
          action: 'unlock.request',
          targetType: 'unlock_request',
          targetId: req.id,
          caseId: req.id,
          detail: { source: 'api', agent_id: req.agentId, device: { ...req.device }, reason, duration_ms: req.durationMs },
        });
      });
      log.info({ unlock_id: req.id, agent_id: req.agentId, requested_by: actor.id }, 'unlock requested');
      applyEffects([{ kind: 'changed', event: 'requested', request: req }]);
      return store.unlock.get(req.id) as UnlockRow;
    },

    approve(id, actor, input) {
      const note = sanitizeText(input.note, REASON_MAX);
      const grantId = newId('grt');
      return step(
        id,
        (prev) => {
          // Only the first approval of a seat that is still enrolled can turn into a grant.
          if (prev.state === 'pending') seatOrFail(prev.agentId);
          return { type: 'approve', actor, note, grantId, allowReinsert: input.allowReinsert ?? false, anyPort: portless(prev, input.anyPort) };
        },
        (_prev, next) => [
          {
            actor: actor.id,
            action: 'unlock.approve',
            targetType: 'unlock_request',
            targetId: id,
            caseId: id,
            detail: { note, approvals: next.approvals.length, approvals_required: next.approvalsRequired, state: next.state },
          },
          ...(next.state === 'active' ? [grantAudit(next, actor.id, 'approve')] : []),
        ],
      );
    },

    reject(id, actor, reason) {
      const r = sanitizeText(reason, REASON_MAX);
      return step(id, { type: 'reject', actor, reason: r }, () => [
        { actor: actor.id, action: 'unlock.reject', targetType: 'unlock_request', targetId: id, caseId: id, detail: { reason: r } },
      ]);
    },

    execute(id, actor, input) {
      const grantId = newId('grt');
      return step(
        id,
        (prev) => {
          if (prev.state === 'approved') seatOrFail(prev.agentId);
          return { type: 'execute', actor, grantId, allowReinsert: input.allowReinsert ?? false, anyPort: portless(prev, input.anyPort) };
        },
        (_prev, next) => [grantAudit(next, actor.id, 'execute')],
      );
    },

    revoke(id, actor, reason) {
      const r = sanitizeText(reason, REASON_MAX);
      return step(id, { type: 'revoke', actor, reason: r }, (prev) => [
        {
          actor: actor.id,
          action: 'unlock.revoke',
          targetType: 'unlock_request',
          targetId: id,
          caseId: id,
          detail: { reason: r, grant_id: prev.grant?.id ?? null },
        },
      ]);
    },

    cancel(id, actor, reason) {
      const r = sanitizeText(reason, REASON_MAX);
      return step(id, { type: 'cancel', actor, reason: r }, () => [
        { actor: actor.id, action: 'unlock.cancel', targetType: 'unlock_request', targetId: id, caseId: id, detail: { reason: r } },
      ]);
    },

    get: (id) => store.unlock.get(id),
    trail: (id) => audit.list({ caseId: id }, { limit: 1_000 }).records,
    list: (q) => store.unlock.list(q),
    grants: (q) => store.unlock.listGrants(q),

    sweep() {
      const now = clock.now();
      const skipped = (err: unknown, id: string) => {
        // Another collector, a user or the seat's own report got there first: nothing to do.
        if (isAppError(err) && err.code.startsWith('UNLOCK_ERR_')) log.debug({ err, unlock_id: id }, 'sweep step skipped');
        else log.error({ err, unlock_id: id }, 'sweep step failed');
      };
      const expired = sweepEach(store.unlock.dueToExpire(iso(now), SWEEP_BATCH), (row) => {
        const { effects } = store.transaction(() =>
          stepTx(row.id, { type: 'end', reason: 'expired' }, (prev, next) => [
            {
              actor: SYSTEM_ACTOR,
              action: 'unlock.expire',
              targetType: 'unlock_request',
              targetId: row.id,
              caseId: row.id,
              detail: { grant_id: prev.grant?.id ?? null, expires_at: prev.grant ? iso(prev.grant.expiresAt) : null, ended_at: iso(next.endedAt ?? now) },
            },
          ], now),
        );
        applyEffects(effects);
      }, skipped);
      const lapsed = sweepEach(store.unlock.dueToLapse(iso(now - policy.requestTtlMs), SWEEP_BATCH), (row) => {
        const { effects } = store.transaction(() =>
          stepTx(row.id, { type: 'lapse' }, () => [
            { actor: SYSTEM_ACTOR, action: 'unlock.lapse', targetType: 'unlock_request', targetId: row.id, caseId: row.id, detail: { requested_at: row.requested_at } },
          ], now),
        );
        applyEffects(effects);
      }, skipped);
      if (expired + lapsed > 0) log.info({ expired, lapsed }, 'unlock sweep');
      return { expired, lapsed };
    },

    syncFrame(agentId) {
      const now = clock.now();
      return grantsSyncFrame(store.unlock.activeForAgent(agentId).map(rowToRequest), now, policy.warnBeforeMs);
    },

    onAgentRequested(agentId, body) {
      const actor = agentActor(agentId);
      if (store.unlock.getByRef(agentId, body.request_ref)) return [];
      const seat = store.agents.get(agentId);
      const d = body.device;
      const device: DeviceMatch = { vendor_id: d.vendor_id, product_id: d.product_id, serial: d.serial, hash: d.hash, port: d.port };
      const reason = sanitizeText(body.reason, REASON_MAX);
      // The seat user cannot be asked to fix a number: clamp into the policy bounds and show both.
      const durationMs = Math.min(Math.max(body.duration_ms, policy.minDurationMs), policy.maxDurationMs);
      const problem = !seat
        ? 'unknown seat'
        : !identifiesDevice(device)
          ? 'device has neither serial nor descriptor hash'
          : validateNewRequest({ durationMs, reason }, policy)?.message ?? null;
      if (problem !== null || !seat) {
        audit.append({
          actor,
          action: 'unlock.request_refused',
          targetType: 'seat',
          targetId: agentId,
          detail: { request_ref: body.request_ref, problem: problem ?? 'unknown seat', device: { ...device } },
        });
        log.warn({ agent_id: agentId, problem }, 'seat unlock request refused');
        return [];
      }
      const now = clock.now();
      const req = newRequest({
        id: newId('req'),
        agentId,
        department: seat.department,
        device,
        reason,
        durationMs,
        requestedBy: seatRequester(agentId),
        now,
        policy,
      });
      const osUser = body.os_user === null ? null : sanitizeText(body.os_user);
      store.unlock.insert(
        req,
        { source: 'agent', requestRef: body.request_ref, deviceKey: deviceKey(device), deviceJson: JSON.stringify(d), osUser },
        iso(now),
      );
      audit.append({
        actor,
        action: 'unlock.request',
        targetType: 'unlock_request',
        targetId: req.id,
        caseId: req.id,
        detail: {
          source: 'agent',
          request_ref: body.request_ref,
          os_user: osUser,
          device: { ...device },
          reason,
          duration_ms: durationMs,
          requested_duration_ms: body.duration_ms,
        },
      });
      log.info({ unlock_id: req.id, agent_id: agentId }, 'unlock requested at the seat');
      return [{ kind: 'changed', event: 'requested', request: req }];
    },

    onGrantReport(agentId, report) {
      const row = store.unlock.getByGrant(agentId, report.body.grant_id);
      if (!row) return null;
      const effects: WorkflowEffect[] = [];
      const actor = agentActor(agentId);
      const now = clock.now();
      const base = { actor, targetType: 'unlock_request', targetId: row.id, caseId: row.id } as const;
      if (report.type === 'grant.accepted') {
        store.unlock.markReport(row.id, 'grant_accepted_at', iso(now));
        effects.push({ kind: 'changed', event: 'accepted', request: rowToRequest(row) });
        audit.append({ ...base, action: 'unlock.grant_accepted', detail: { grant_id: row.grant_id, expires_in_ms: report.body.expires_in_ms, device_present: report.body.device_present } });
      } else if (report.type === 'grant.applied') {
        const first = store.unlock.markReport(row.id, 'grant_applied_at', iso(now));
        effects.push({ kind: 'changed', event: 'applied', request: rowToRequest(row) });
        audit.append({
          ...base,
          action: 'unlock.use',
          detail: { grant_id: row.grant_id, first, device: { ...report.body.device }, authorized_interfaces: report.body.authorized_interfaces },
        });
        if (row.state !== 'active') log.warn({ unlock_id: row.id, agent_id: agentId, state: row.state }, 'seat applied a grant that is not active');
      } else {
        const reason = report.body.reason;
        let transitioned = false;
        if (row.state === 'active' && reason !== 'revoked') {
          effects.push(...stepTx(row.id, { type: 'end', reason: reason as Exclude<EndReason, 'revoked'> }, () => [], now).effects);
          transitioned = true;
        } else if (row.state === 'active') {
          // The seat says "revoked" but nobody revoked it here: keep the mirror, flag it in the trail.
          log.warn({ unlock_id: row.id, agent_id: agentId }, 'seat reports a revocation the collector did not issue');
        }
        if (store.unlock.markRelocked(row.id, iso(now), reason)) {
          effects.push({ kind: 'changed', event: 'relocked', request: rowToRequest(store.unlock.get(row.id) as UnlockRow) });
        }
        audit.append({
          ...base,
          action: 'unlock.relock',
          detail: { grant_id: row.grant_id, reason, relocked_interfaces: report.body.relocked_interfaces, ended_here: transitioned },
        });
      }
      return effects;
    },

    applyEffects,
  };
  return service;
}
