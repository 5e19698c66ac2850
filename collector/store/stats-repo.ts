import type { DepartmentScope } from '../auth/privileges.js';
import type { Db } from './db.js';
import { lazyStatements } from './lazy-statements.js';

/** Alert severities, lowest first (same list as the alerts table's CHECK). */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export type SeverityCounts = Record<Severity, number>;

export interface SeatCounts {
  total: number;
  online: number;
  offline: number;
  revoked: number;
  lock: { locked: number; degraded: number; unknown: number };
}

/** Read-only aggregates for the console's overview. Tables of optional areas are detected, not assumed. */
export interface StatsRepo {
  /** True when the table exists (alerts, unlock_requests, users come from other areas' migrations). */
  hasTable(name: string): boolean;
  seatCounts(scope: DepartmentScope): SeatCounts;
  /** Events of `type` per 15-minute slot of received_at, from ≤ bucket < to, on seats of `scope` (department at event time). */
  eventBuckets(type: string, fromBucket: number, toBucket: number, scope: DepartmentScope): Array<{ bucket: number; n: number }>;
  /** Unresolved alerts by severity; null without the alerts table. */
  openAlerts(scope: DepartmentScope): SeverityCounts | null;
  /** Number of alerts whose first event falls in [from, to); null without the alerts table. */
  alertsOpened(fromIso: string, toIso: string, scope: DepartmentScope): number | null;
  /** Pending requests and active grants; null without the unlock_requests table. */
  unlockCounts(scope: DepartmentScope): { pending: number; active: number } | null;
}

/** `AND <col> IN (scope)` for a department list; '' for '*'. Bound as JSON to keep it one statement. */
export function scopeClause(col: string, scope: DepartmentScope): string {
  return scope === '*' ? '' : ` AND ${col} IN (SELECT value FROM json_each(@scope))`;
}

export function scopeParam(scope: DepartmentScope): { scope?: string } {
  return scope === '*' ? {} : { scope: JSON.stringify(scope) };
}

export function emptySeverities(): SeverityCounts {
  return { low: 0, medium: 0, high: 0, critical: 0 };
}

/** Console read-side aggregates over agents, event_counts, alerts and unlock_requests. */
export function createStatsRepo(db: Db): StatsRepo {
  const { stmt, hasTable } = lazyStatements(db);
  const seatSql = (scope: DepartmentScope) => `SELECT
      coalesce(sum(revoked_at IS NULL), 0) AS total,
      coalesce(sum(revoked_at IS NULL AND online = 1), 0) AS online,
      coalesce(sum(revoked_at IS NOT NULL), 0) AS revoked,
      coalesce(sum(revoked_at IS NULL AND lock_state = 'locked'), 0) AS locked,
      coalesce(sum(revoked_at IS NULL AND lock_state = 'degraded'), 0) AS degraded,
      coalesce(sum(revoked_at IS NULL AND lock_state = 'unknown'), 0) AS unknown
    FROM agents WHERE 1 = 1${scopeClause('department', scope)}`;

  return {
    hasTable,
    seatCounts(scope) {
      const r = stmt(seatSql(scope)).get(scopeParam(scope)) as Record<'total' | 'online' | 'revoked' | 'locked' | 'degraded' | 'unknown', number>;
      return {
        total: r.total,
        online: r.online,
        offline: r.total - r.online,
        revoked: r.revoked,
        lock: { locked: r.locked, degraded: r.degraded, unknown: r.unknown },
      };
    },
    eventBuckets: (type, from, to, scope) =>
      stmt(`SELECT bucket, sum(n) AS n FROM event_counts WHERE type = @type AND bucket >= @from AND bucket < @to${scopeClause('department', scope)}
        GROUP BY bucket ORDER BY bucket`).all({ type, from, to, ...scopeParam(scope) }) as Array<{ bucket: number; n: number }>,
    openAlerts(scope) {
      if (!hasTable('alerts')) return null;
      const rows = stmt(`SELECT severity, count(*) AS n FROM alerts
        WHERE state != 'resolved'${scope === '*' ? '' : ` AND agent_id IN (SELECT agent_id FROM agents WHERE 1 = 1${scopeClause('department', scope)})`}
        GROUP BY severity`).all(scopeParam(scope)) as Array<{ severity: string; n: number }>;
      const out = emptySeverities();
      for (const r of rows) if ((SEVERITIES as readonly string[]).includes(r.severity)) out[r.severity as Severity] = r.n;
      return out;
    },
    alertsOpened(fromIso, toIso, scope) {
      if (!hasTable('alerts')) return null;
      const r = stmt(`SELECT count(*) AS n FROM alerts WHERE first_seen >= @from AND first_seen < @to${
        scope === '*' ? '' : ` AND agent_id IN (SELECT agent_id FROM agents WHERE 1 = 1${scopeClause('department', scope)})`
      }`).get({ from: fromIso, to: toIso, ...scopeParam(scope) }) as { n: number };
      return r.n;
    },
    unlockCounts(scope) {
      if (!hasTable('unlock_requests')) return null;
      const count = (state: string) =>
        (stmt(`SELECT count(*) AS n FROM unlock_requests WHERE state = @state${scopeClause('department', scope)}`).get({ state, ...scopeParam(scope) }) as { n: number }).n;
      return { pending: count('pending'), active: count('active') };
    },
  };
}
