import type { AlertsRepo } from '../store/alerts-repo.js';
import type { AlertSeverity, AlertState } from './channels/types.js';
import type { Bilingual } from './rules.js';

/** Most open alerts listed by name in a handover report (the counts always cover all). */
export const HANDOVER_ALERT_LIMIT = 200;

export interface HandoverAlert {
  id: number;
  rule: string;
  severity: AlertSeverity;
  state: AlertState;
  agent_id: string;
  seat_name: string | null;
  title: Bilingual;
  count: number;
  created_at: string;
  last_seen: string;
  assignee: string | null;
  escalation_level: number;
  escalated_to: string | null;
}

/** An active USB unlock grant. Everything but `id`/`agent_id` may be unknown (null). */
export interface HandoverGrant {
  id: string;
  agent_id: string;
  seat_name: string | null;
  executor: string | null;
  expires_at: string | null;
}

export interface HandoverSeat {
  agent_id: string;
  seat_name: string;
  hostname: string;
  /** null: the seat never connected since enrollment. */
  last_seen: string | null;
  in_maintenance: boolean;
}

/** The shift handover record (交接班) the collector pre-fills (WF-7 step 3). */
export interface HandoverReport {
  generated_at: string;
  /** Counting period: from the last confirmed handover, else one shift length back (or as asked). */
  period: { from: string; to: string; source: 'given' | 'last_handover' | 'shift_length' };
  time_zone: string;
  open_alerts: {
    total: number;
    by_severity: Record<AlertSeverity, number>;
    /** Most severe first, then oldest first; at most HANDOVER_ALERT_LIMIT. */
    items: HandoverAlert[];
    truncated: boolean;
  };
  active_grants: {
    /** False when grants could not be listed; `note` says why. */
    available: boolean;
    note: Bilingual | null;
    items: HandoverGrant[];
  };
  offline_seats: { total: number; items: HandoverSeat[] };
  counts: {
    raised: Record<AlertSeverity, number> & { total: number };
    acknowledged: number;
    assigned: number;
    escalated: number;
    resolved: number;
  };
}

export interface HandoverInputs {
  repo: AlertsRepo;
  nowMs: number;
  from: { ms: number; source: HandoverReport['period']['source'] };
  timeZone: string;
  heartbeatMissAfterMs: number;
  /** Supplied by the unlock workflow when wired; else the unlock_requests table is read if present. */
  activeGrants?: ((nowMs: number) => HandoverGrant[]) | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

function grantsSection(input: HandoverInputs): HandoverReport['active_grants'] {
  if (input.activeGrants) return { available: true, note: null, items: input.activeGrants(input.nowMs) };
  const g = input.repo.activeGrants();
  if (g.available) return { available: true, note: null, items: g.rows };
  const note =
    g.reason === 'no_table'
      ? { zh: '解锁审批流程尚未启用，无法列出有效授权', en: 'The unlock workflow is not installed; grants cannot be listed' }
      : { zh: '解锁记录表结构无法识别，无法列出有效授权', en: 'The unlock_requests table has an unknown shape; grants cannot be listed' };
  return { available: false, note, items: [] };
}

/** Seats that missed heartbeats (same rule as the agent.offline alert), revoked seats excluded. */
export function offlineSeats(repo: AlertsRepo, nowMs: number, missAfterMs: number): HandoverSeat[] {
  const maint = repo.seatsInMaintenance(iso(nowMs));
  const out: HandoverSeat[] = [];
  for (const s of repo.seats()) {
    if (s.revoked_at !== null) continue;
    if (!isStale(s.last_seen ?? s.enrolled_at, nowMs, missAfterMs)) continue;
    out.push({ agent_id: s.agent_id, seat_name: s.seat_name, hostname: s.hostname, last_seen: s.last_seen, in_maintenance: maint.has(s.agent_id) });
  }
  return out;
}

/** True when `lastIso` is older than `missAfterMs`. An unreadable time counts as stale: unknown is not "fine". */
export function isStale(lastIso: string, nowMs: number, missAfterMs: number): boolean {
  const t = Date.parse(lastIso);
  return !Number.isFinite(t) || nowMs - t > missAfterMs;
}

/** Builds the handover report from the store. Read-only. */
export function buildHandoverReport(input: HandoverInputs): HandoverReport {
  const { repo, nowMs } = input;
  const fromIso = iso(input.from.ms);
  const open = repo.unresolvedForHandover(HANDOVER_ALERT_LIMIT);
  const raised = repo.countRaisedSince(fromIso);
  const actions = repo.countActionsSince(fromIso);
  const offline = offlineSeats(repo, nowMs, input.heartbeatMissAfterMs);
  return {
    generated_at: iso(nowMs),
    period: { from: fromIso, to: iso(nowMs), source: input.from.source },
    time_zone: input.timeZone,
    open_alerts: {
      total: open.total,
      by_severity: open.bySeverity,
      items: open.rows.map((r) => ({
        id: r.id,
        rule: r.rule,
        severity: r.severity,
        state: r.state,
        agent_id: r.agent_id,
        seat_name: r.seat_name,
        title: { zh: r.title_zh, en: r.title_en },
        count: r.count,
        created_at: r.created_at,
        last_seen: r.last_seen,
        assignee: r.assignee,
        escalation_level: r.escalation_level,
        escalated_to: r.escalated_to,
      })),
      truncated: open.total > open.rows.length,
    },
    active_grants: grantsSection(input),
    offline_seats: { total: offline.length, items: offline },
    counts: {
      raised: { ...raised, total: raised.low + raised.medium + raised.high + raised.critical },
      acknowledged: actions.acknowledged ?? 0,
      assigned: actions.assigned ?? 0,
      escalated: actions.escalated ?? 0,
      resolved: actions.resolved ?? 0,
    },
  };
}
