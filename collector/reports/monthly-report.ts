import type { DepartmentScope } from '../auth/privileges.js';
import { inScope } from '../auth/privileges.js';
import { SEVERITIES, emptySeverities, type Severity, type SeverityCounts } from '../store/stats-repo.js';
import type { ReportRepo } from '../store/report-repo.js';
import { monthRange } from './time-zone.js';

export interface ReportApproval {
  by: string;
  by_name: string | null;
  at: string;
}

export interface ReportUnlock {
  id: string;
  agent_id: string;
  seat_name: string | null;
  device_key: string;
  state: string;
  reason: string;
  requested_by: string;
  requested_by_name: string | null;
  requested_at: string;
  approvals: ReportApproval[];
  executor: string | null;
  executor_name: string | null;
  started_at: string | null;
  ended_at: string | null;
  /** Time the grant was active (start → end, or → expiry while still running at report time); null without a grant. */
  duration_ms: number | null;
  end_reason: string | null;
}

export interface ReportSeat {
  agent_id: string;
  seat_name: string;
  blocked_insertions: number;
  alerts: number;
  lock_state: string;
}

export interface DepartmentReport {
  department: string | null;
  seats: number;
  unlocks: { available: boolean; requests: number; approved: number; rejected: number; total_duration_ms: number; items: ReportUnlock[] };
  violations: { blocked_insertions: number; alerts: { available: boolean; total: number; by_severity: SeverityCounts } };
  noncompliant_seats: ReportSeat[];
}

export interface MonthlyReport {
  month: string;
  tz: string;
  from: string;
  to: string;
  generated_at: string;
  generated_by: string;
  department: string | null;
  departments: DepartmentReport[];
}

const APPROVED_STATES = new Set(['approved', 'active', 'ended']);

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function parseApprovals(json: unknown): Array<{ by: string; at: string }> {
  if (typeof json !== 'string') return [];
  try {
    const v = JSON.parse(json) as unknown;
    if (!Array.isArray(v)) return [];
    return v.flatMap((a: unknown) => {
      const o = a as { by?: unknown; at?: unknown };
      return typeof o.by === 'string' && typeof o.at === 'string' ? [{ by: o.by, at: o.at }] : [];
    });
  } catch {
    return [];
  }
}

function grantDuration(r: Record<string, unknown>, now: number): number | null {
  const start = str(r.grant_starts_at);
  if (start === null) return null;
  const endIso = str(r.ended_at) ?? str(r.grant_expires_at);
  const end = endIso === null ? now : Math.min(Date.parse(endIso), now);
  return Math.max(0, end - Date.parse(start));
}

/**
 * The monthly compliance report per department: unlock cases of the month (requests,
 * approvals with names, executors, durations), violations (blocked insertions, alerts by
 * severity) and the seats that were not compliant. Counts use the collector's receive time.
 */
export function buildMonthlyReport(
  repo: ReportRepo,
  q: { month: string; tz: string; department?: string; scope: DepartmentScope; now: number; generatedBy: string },
): MonthlyReport {
  const { start, end } = monthRange(q.month, q.tz);
  const from = new Date(start).toISOString();
  const to = new Date(end).toISOString();
  const seats = repo.seatsDuring(from, to, q.scope, q.department);
  const seatById = new Map(seats.map((s) => [s.agent_id, s]));
  const blocked = repo.countEventsBySeat('usb.blocked', from, to);
  const alertRows = repo.countAlertsBySeat(from, to);
  const unlockRows = repo.unlocksRequested(from, to);
  const names = repo.userNames();
  const nameOf = (id: string | null) => (id === null ? null : (names.get(id) ?? null));

  const groups = new Map<string | null, DepartmentReport>();
  const group = (dep: string | null): DepartmentReport => {
    let g = groups.get(dep);
    if (!g) {
      g = {
        department: dep,
        seats: 0,
        unlocks: { available: unlockRows !== null, requests: 0, approved: 0, rejected: 0, total_duration_ms: 0, items: [] },
        violations: { blocked_insertions: 0, alerts: { available: alertRows !== null, total: 0, by_severity: emptySeverities() } },
        noncompliant_seats: [],
      };
      groups.set(dep, g);
    }
    return g;
  };
  for (const s of seats) group(s.department).seats++;

  const alertsBySeat = new Map<string, number>();
  for (const r of alertRows ?? []) {
    const seat = seatById.get(r.agent_id);
    if (!seat) continue;
    const g = group(seat.department);
    if ((SEVERITIES as readonly string[]).includes(r.severity)) g.violations.alerts.by_severity[r.severity as Severity] += r.n;
    g.violations.alerts.total += r.n;
    alertsBySeat.set(r.agent_id, (alertsBySeat.get(r.agent_id) ?? 0) + r.n);
  }
  for (const s of seats) {
    const b = blocked.get(s.agent_id) ?? 0;
    const a = alertsBySeat.get(s.agent_id) ?? 0;
    const g = group(s.department);
    g.violations.blocked_insertions += b;
    if (b > 0 || a > 0 || s.lock_state !== 'locked') {
      g.noncompliant_seats.push({ agent_id: s.agent_id, seat_name: s.seat_name, blocked_insertions: b, alerts: a, lock_state: s.lock_state });
    }
  }

  for (const r of unlockRows ?? []) {
    const dep = str(r.department);
    if (!inScope(q.scope, dep)) continue;
    if (q.department !== undefined && dep !== q.department) continue;
    const g = group(dep);
    const state = String(r.state);
    const duration = grantDuration(r, q.now);
    const executor = str(r.grant_executor);
    const requestedBy = String(r.requested_by);
    g.unlocks.requests++;
    if (APPROVED_STATES.has(state) || str(r.grant_id) !== null) g.unlocks.approved++;
    if (state === 'rejected') g.unlocks.rejected++;
    g.unlocks.total_duration_ms += duration ?? 0;
    g.unlocks.items.push({
      id: String(r.id),
      agent_id: String(r.agent_id),
      seat_name: seatById.get(String(r.agent_id))?.seat_name ?? null,
      device_key: String(r.device_key),
      state,
      reason: String(r.reason),
      requested_by: requestedBy,
      requested_by_name: nameOf(requestedBy),
      requested_at: String(r.requested_at),
      approvals: parseApprovals(r.approvals).map((a) => ({ by: a.by, by_name: nameOf(a.by), at: a.at })),
      executor,
      executor_name: nameOf(executor),
      started_at: str(r.grant_starts_at),
      ended_at: str(r.ended_at),
      duration_ms: duration,
      end_reason: str(r.end_reason),
    });
  }

  const departments = [...groups.values()].sort((a, b) => (a.department ?? '\uffff').localeCompare(b.department ?? '\uffff'));
  for (const d of departments) d.noncompliant_seats.sort((a, b) => b.blocked_insertions + b.alerts - (a.blocked_insertions + a.alerts) || a.seat_name.localeCompare(b.seat_name));
  return {
    month: q.month,
    tz: q.tz,
    from,
    to,
    generated_at: new Date(q.now).toISOString(),
    generated_by: q.generatedBy,
    department: q.department ?? null,
    departments,
  };
}
