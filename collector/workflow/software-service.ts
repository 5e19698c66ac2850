import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { sanitizeOptional, sanitizeText } from '../../shared/domain/sanitize.js';
import type { SoftwareRule } from '../../shared/domain/software-policy.js';
import { AppError, formatError, isAppError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { EventBody } from '../../shared/protocol/messages.js';
import type { AuditInput, AuditLog, AuditRecord } from '../audit/audit-log.js';
import { can, inScope } from '../auth/privileges.js';
import type { LiveBus } from '../live/live-bus.js';
import { rowToSoftwareCase, type SoftwareListQuery, type SoftwareRequestRepo, type SoftwareRequestRow } from '../store/software-request-repo.js';
import type { Store } from '../store/store.js';
import {
  allowRuleOf,
  checkTarget,
  DEFAULT_SOFTWARE_POLICY_BOUNDS,
  fulfils,
  machinePolicy,
  PERMANENT_DURATION_MS,
  targetLabel,
  type SoftwareCase,
  type SoftwarePolicyBounds,
  type SoftwareTarget,
} from './software-case.js';
import { sweepEach } from './sweep-each.js';
import { newCase, transition, type Actor, type UnlockAction, type UnlockEffect, type UnlockPolicy } from './unlock-machine.js';
import { agentActor, liveSeatOrFail, seatRequester, SYSTEM_ACTOR } from './unlock-service.js';

/**
 * The software install workflow service (docs/software-requests.md). Every step is the unlock
 * workflow's: load → `transition()` of unlock-machine.ts → compare-and-set write plus audit record(s)
 * in ONE transaction → after commit, the effects. The "grant" of a software case is an allow rule
 * for exactly its package or hash on its one seat, delivered as a fresh `sensor.config` through the
 * sensor-config service (`pushConfig`), which merges {@link SoftwareService.allowRules} into what the
 * seat runs.
 */
export interface SoftwareServiceDeps {
  store: Pick<Store, 'transaction' | 'agents'>;
  repo: SoftwareRequestRepo;
  audit: Pick<AuditLog, 'append' | 'list'>;
  clock: Clock;
  log: Logger;
  /** The unlock policy: who may execute (maintainerApprovalExecutes, approverMayExecute). */
  unlockPolicy: Readonly<UnlockPolicy>;
  bounds?: Partial<SoftwarePolicyBounds>;
  /** Sends the seat its current effective sensor.config if it is connected (the sensor-config service's push). */
  pushConfig: (agentId: string) => boolean;
  live?: Pick<LiveBus, 'publish'>;
}

export interface CreateSoftwareInput {
  agentId: string;
  target: { package?: string | null; versions?: string | null; sha256?: string | null };
  reason: string;
  /** null or absent: permanent (until revoked). */
  durationMs?: number | null;
}

export type SoftwareEffect = UnlockEffect<SoftwareCase> | { kind: 'changed'; event: 'requested' | 'fulfilled'; request: SoftwareCase };

export interface SoftwareService {
  readonly bounds: Readonly<SoftwarePolicyBounds>;
  createRequest(actor: Actor, input: CreateSoftwareInput): SoftwareRequestRow;
  approve(id: string, actor: Actor, note: string): SoftwareRequestRow;
  reject(id: string, actor: Actor, reason: string): SoftwareRequestRow;
  execute(id: string, actor: Actor): SoftwareRequestRow;
  revoke(id: string, actor: Actor, reason: string): SoftwareRequestRow;
  cancel(id: string, actor: Actor, reason: string): SoftwareRequestRow;
  get(id: string): SoftwareRequestRow | undefined;
  trail(id: string): AuditRecord[];
  list(q: SoftwareListQuery): { rows: SoftwareRequestRow[]; total: number };
  /** The allow rules the seat's active cases add to its software policy (merged by the sensor-config service). */
  allowRules(agentId: string): SoftwareRule[];
  /** True when an active, unexpired case of the seat approves this installed package (the alert engine asks). */
  approves(agentId: string, pkg: { name: string; version: string | null }): boolean;
  /** Ends time-boxed approvals past expiry and lapses undecided requests. */
  sweep(): { expired: number; lapsed: number };
  /** software.requested from the seat, inside the caller's transaction; effects returned, not applied. */
  onAgentRequested(agentId: string, body: EventBody<'software.requested'>): SoftwareEffect[];
  /**
   * software.installed from the seat, inside the caller's transaction: marks active cases whose
   * package was installed as fulfilled, at `at` (ISO; default now: a replay passes the time the
   * event was received). Effects returned, not applied.
   */
  onInstalled(agentId: string, body: EventBody<'software.installed'>, at?: string): SoftwareEffect[];
  /** Applies effects after the transaction that produced them committed. */
  applyEffects(effects: readonly SoftwareEffect[]): void;
}

const REASON_MAX = 1_024;
const SWEEP_BATCH = 200;
/** At most this many approved rules per seat go into its policy (the frame must stay small). */
export const MAX_ALLOW_RULES_PER_SEAT = 200;

/** Case ids: prefix + 72 random bits (the protocol's rule id alphabet). */
export function newSoftwareId(prefix: 'swr' | 'swa'): string {
  return `${prefix}_${randomBytes(9).toString('hex')}`;
}

function fail(code: ErrorCode, message: string): never {
  throw new AppError(code, message);
}

export function createSoftwareService(deps: SoftwareServiceDeps): SoftwareService {
  const { store, repo, audit, clock } = deps;
  const bounds: Readonly<SoftwarePolicyBounds> = Object.freeze({ ...DEFAULT_SOFTWARE_POLICY_BOUNDS, ...deps.bounds });
  const policy = machinePolicy(deps.unlockPolicy, bounds);
  const log = deps.log.child({ component: 'software-requests' });
  const iso = (ms: number) => new Date(ms).toISOString();

  const seatOrFail = (agentId: string) => liveSeatOrFail(store.agents, agentId);

  function targetOrFail(input: CreateSoftwareInput['target']): SoftwareTarget {
    const r = checkTarget(input);
    if (!r.ok) fail('SOFTWARE_ERR_TARGET', formatError('SOFTWARE_ERR_TARGET', r.problem));
    return r.target;
  }

  function durationOrFail(durationMs: number | null | undefined): number | null {
    if (durationMs === null || durationMs === undefined) return null;
    if (!Number.isInteger(durationMs) || durationMs < bounds.minDurationMs || durationMs > bounds.maxDurationMs) {
      fail('SOFTWARE_ERR_DURATION', formatError('SOFTWARE_ERR_DURATION', `between ${bounds.minDurationMs / 3_600_000} h and ${bounds.maxDurationMs / 86_400_000} days, or none for permanent`));
    }
    return durationMs;
  }

  function build(input: { id: string; agentId: string; department: string | null; target: SoftwareTarget; reason: string; durationMs: number | null; requestedBy: string; now: number }): SoftwareCase {
    const base = newCase({ ...input, durationMs: input.durationMs ?? PERMANENT_DURATION_MS, policy });
    return { ...base, target: input.target, permanent: input.durationMs === null };
  }

  const target = (c: SoftwareCase) => ({ package: c.target.package, versions: c.target.versions, sha256: c.target.sha256 });

  function allowAudit(next: SoftwareCase, actor: string, via: 'approve' | 'execute'): AuditInput {
    const g = next.grant;
    return {
      actor,
      action: 'software.allow',
      targetType: 'software_request',
      targetId: next.id,
      caseId: next.id,
      detail: {
        via,
        agent_id: next.agentId,
        allow_id: g?.id ?? null,
        rule: allowRuleOf(next),
        executor: g?.executor ?? null,
        starts_at: g ? iso(g.startsAt) : null,
        expires_at: g && !next.permanent ? iso(g.expiresAt) : null,
        permanent: next.permanent,
      },
    };
  }

  /** One step inside the caller's transaction: the same load → transition → CAS as the unlock service. */
  function stepTx(
    id: string,
    action: UnlockAction | ((prev: SoftwareCase) => UnlockAction),
    auditOf: (prev: SoftwareCase, next: SoftwareCase) => AuditInput[],
    now: number,
  ): UnlockEffect<SoftwareCase>[] {
    const row = repo.get(id);
    if (!row) fail('SOFTWARE_ERR_NOT_FOUND', formatError('SOFTWARE_ERR_NOT_FOUND', id));
    const prev = rowToSoftwareCase(row);
    const r = transition(prev, typeof action === 'function' ? action(prev) : action, now, policy);
    if (!r.ok) fail(r.code, r.message.replace(/^request /, 'software request '));
    if (!repo.update(r.next, prev.version, iso(now))) fail('SOFTWARE_ERR_CONFLICT', formatError('SOFTWARE_ERR_CONFLICT', id));
    for (const rec of auditOf(prev, r.next)) audit.append(rec);
    return r.effects;
  }

  function step(id: string, action: UnlockAction | ((prev: SoftwareCase) => UnlockAction), auditOf: (prev: SoftwareCase, next: SoftwareCase) => AuditInput[]): SoftwareRequestRow {
    const now = clock.now();
    const effects = store.transaction(() => stepTx(id, action, auditOf, now));
    applyEffects(effects);
    return repo.get(id) as SoftwareRequestRow;
  }

  function publish(c: SoftwareCase, event: string): void {
    deps.live?.publish(
      'unlock',
      { kind: 'software', event, id: c.id, state: c.state, agent_id: c.agentId, target: targetLabel(c.target) },
      { department: c.department },
    );
  }

  function applyEffects(effects: readonly SoftwareEffect[]): void {
    // A step can carry several effects for one seat (revoke + ended): push each seat once.
    const seats = new Set<string>();
    for (const e of effects) {
      if (e.kind === 'push-grant' || e.kind === 'push-revoke' || (e.kind === 'notify' && e.event === 'ended')) seats.add(e.request.agentId);
      if (e.kind === 'notify' || e.kind === 'changed') {
        log.info({ software_request: e.request.id, agent_id: e.request.agentId, event: e.event, state: e.request.state }, 'software request changed');
        publish(e.request, e.event);
      }
    }
    for (const agentId of seats) {
      try {
        const sent = deps.pushConfig(agentId);
        log.info({ agent_id: agentId, delivered: sent }, 'software allow rules pushed');
      } catch (err) {
        // Committed; a seat that missed the push gets the same config after its next welcome.
        log.error({ err, agent_id: agentId }, 'software allow rule push failed');
      }
    }
  }

  /** Active cases of a seat that have not reached their expiry (the sweep may not have run yet). */
  function liveCases(agentId: string): SoftwareCase[] {
    const now = clock.now();
    return repo
      .activeForAgent(agentId)
      .map(rowToSoftwareCase)
      .filter((c) => c.permanent || (c.grant !== null && c.grant.expiresAt > now));
  }

  const simple = (action: string, actorId: string, id: string, detail: Record<string, unknown>): AuditInput => ({
    actor: actorId,
    action,
    targetType: 'software_request',
    targetId: id,
    caseId: id,
    detail,
  });

  const service: SoftwareService = {
    bounds,

    createRequest(actor, input) {
      if (!can(actor.roles, 'unlock.request')) fail('UNLOCK_ERR_FORBIDDEN', `${actor.id} may not file software requests`);
      const seat = seatOrFail(input.agentId);
      if (!inScope(actor.departments, seat.department)) fail('UNLOCK_ERR_SCOPE', `seat ${input.agentId} is outside the departments ${actor.id} may manage`);
      const t = targetOrFail(input.target);
      const durationMs = durationOrFail(input.durationMs);
      const reason = sanitizeText(input.reason, REASON_MAX);
      if (reason.length < 2) fail('UNLOCK_ERR_REASON', formatError('UNLOCK_ERR_REASON', 'a work reason is required'));
      const now = clock.now();
      const c = build({ id: newSoftwareId('swr'), agentId: input.agentId, department: seat.department, target: t, reason, durationMs, requestedBy: actor.id, now });
      store.transaction(() => {
        repo.insert(c, { source: 'api', requestRef: null, osUser: null }, iso(now));
        audit.append(simple('software.request', actor.id, c.id, { source: 'api', agent_id: c.agentId, target: target(c), reason, duration_ms: durationMs, permanent: c.permanent }));
      });
      log.info({ software_request: c.id, agent_id: c.agentId, requested_by: actor.id }, 'software requested');
      applyEffects([{ kind: 'changed', event: 'requested', request: c }]);
      return repo.get(c.id) as SoftwareRequestRow;
    },

    approve(id, actor, note) {
      const n = sanitizeText(note, REASON_MAX);
      const allowId = newSoftwareId('swa');
      return step(
        id,
        (prev) => {
          if (prev.state === 'pending') seatOrFail(prev.agentId);
          return { type: 'approve', actor, note: n, grantId: allowId };
        },
        (_prev, next) => [
          simple('software.approve', actor.id, id, { note: n, approvals: next.approvals.length, approvals_required: next.approvalsRequired, state: next.state }),
          ...(next.state === 'active' ? [allowAudit(next, actor.id, 'approve')] : []),
        ],
      );
    },

    reject(id, actor, reason) {
      const r = sanitizeText(reason, REASON_MAX);
      return step(id, { type: 'reject', actor, reason: r }, () => [simple('software.reject', actor.id, id, { reason: r })]);
    },

    execute(id, actor) {
      const allowId = newSoftwareId('swa');
      return step(
        id,
        (prev) => {
          if (prev.state === 'approved') seatOrFail(prev.agentId);
          return { type: 'execute', actor, grantId: allowId };
        },
        (_prev, next) => [allowAudit(next, actor.id, 'execute')],
      );
    },

    revoke(id, actor, reason) {
      const r = sanitizeText(reason, REASON_MAX);
      return step(id, { type: 'revoke', actor, reason: r }, (prev) => [
        simple('software.revoke', actor.id, id, { reason: r, allow_id: prev.grant?.id ?? null, rule_id: allowRuleOf(prev).id }),
      ]);
    },

    cancel(id, actor, reason) {
      const r = sanitizeText(reason, REASON_MAX);
      return step(id, { type: 'cancel', actor, reason: r }, () => [simple('software.cancel', actor.id, id, { reason: r })]);
    },

    get: (id) => repo.get(id),
    trail: (id) => audit.list({ caseId: id }, { limit: 1_000 }).records,
    list: (q) => repo.list(q),

    allowRules: (agentId) => liveCases(agentId).slice(0, MAX_ALLOW_RULES_PER_SEAT).map(allowRuleOf),
    approves: (agentId, pkg) => liveCases(agentId).some((c) => fulfils(c.target, pkg)),

    sweep() {
      const now = clock.now();
      const skipped = (err: unknown, id: string) => {
        if (isAppError(err) && (err.code.startsWith('UNLOCK_ERR_') || err.code.startsWith('SOFTWARE_ERR_'))) log.debug({ err, software_request: id }, 'sweep step skipped');
        else log.error({ err, software_request: id }, 'software sweep step failed');
      };
      const expired = sweepEach(repo.dueToExpire(iso(now), SWEEP_BATCH), (row) => {
        const effects = store.transaction(() =>
          stepTx(row.id, { type: 'end', reason: 'expired' }, (prev) => [
            simple('software.expire', SYSTEM_ACTOR, row.id, { allow_id: prev.grant?.id ?? null, expires_at: row.grant_expires_at }),
          ], now),
        );
        applyEffects(effects);
      }, skipped);
      const lapsed = sweepEach(repo.dueToLapse(iso(now - policy.requestTtlMs), SWEEP_BATCH), (row) => {
        const effects = store.transaction(() =>
          stepTx(row.id, { type: 'lapse' }, () => [simple('software.lapse', SYSTEM_ACTOR, row.id, { requested_at: row.requested_at })], now),
        );
        applyEffects(effects);
      }, skipped);
      if (expired + lapsed > 0) log.info({ expired, lapsed }, 'software request sweep');
      return { expired, lapsed };
    },

    onAgentRequested(agentId, body) {
      if (repo.getByRef(agentId, body.request_ref)) return [];
      const actor = agentActor(agentId);
      const seat = store.agents.get(agentId);
      const checked = checkTarget({ package: body.package, versions: body.versions });
      const reason = sanitizeText(body.reason, REASON_MAX);
      const problem = !seat || seat.revoked_at !== null ? 'unknown seat' : !checked.ok ? checked.problem : reason.length < 2 ? 'a work reason is required' : null;
      if (problem !== null || !seat || !checked.ok) {
        audit.append({
          actor,
          action: 'software.request_refused',
          targetType: 'seat',
          targetId: agentId,
          detail: { request_ref: body.request_ref, problem: problem ?? 'invalid', package: sanitizeText(body.package, 128), versions: body.versions === null ? null : sanitizeText(body.versions, 128) },
        });
        log.warn({ agent_id: agentId, problem }, 'seat software request refused');
        return [];
      }
      const now = clock.now();
      // A seat asks for an install; installs are meant to stay, so seat requests are permanent.
      const c = build({ id: newSoftwareId('swr'), agentId, department: seat.department, target: checked.target, reason, durationMs: null, requestedBy: seatRequester(agentId), now });
      const osUser = sanitizeOptional(body.os_user, 64);
      repo.insert(c, { source: 'agent', requestRef: body.request_ref, osUser }, iso(now));
      audit.append(simple('software.request', actor, c.id, { source: 'agent', request_ref: body.request_ref, os_user: osUser, agent_id: agentId, target: target(c), reason, duration_ms: null, permanent: true }));
      log.info({ software_request: c.id, agent_id: agentId }, 'software requested at the seat');
      return [{ kind: 'changed', event: 'requested', request: c }];
    },

    onInstalled(agentId, body, at) {
      const active = repo.activeForAgent(agentId);
      if (active.length === 0) return [];
      const atIso = at ?? iso(clock.now());
      const effects: SoftwareEffect[] = [];
      for (const row of active) {
        const c = rowToSoftwareCase(row);
        // A report received before the allow took effect is an earlier install, even when it is
        // applied later (a replay): it does not count.
        if (c.grant !== null && Date.parse(atIso) < c.grant.startsAt) continue;
        const pkg = body.packages.find((p) => fulfils(c.target, p));
        if (!pkg || !repo.markFulfilled(c.id, atIso, pkg.version)) continue;
        audit.append(
          simple('software.fulfilled', agentActor(agentId), c.id, {
            package: pkg.name,
            version: pkg.version,
            source: pkg.source,
            ...(pkg.previous_version === undefined ? {} : { previous_version: pkg.previous_version }),
          }),
        );
        effects.push({ kind: 'changed', event: 'fulfilled', request: c });
      }
      return effects;
    },

    applyEffects,
  };
  return service;
}
