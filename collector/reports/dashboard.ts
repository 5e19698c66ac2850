import type { DepartmentScope } from '../auth/privileges.js';
import type { SeatCounts, SeverityCounts, StatsRepo } from '../store/stats-repo.js';
import { lastDays } from './time-zone.js';

const BUCKET_MS = 900_000;

export interface DashboardSeriesDay {
  date: string;
  start: string;
  end: string;
  blocked: number;
  alerts_opened: number | null;
}

export interface Dashboard {
  generated_at: string;
  tz: string;
  days: number;
  seats: SeatCounts;
  alerts: { available: boolean; open: number | null; by_severity: SeverityCounts | null };
  unlock: { available: boolean; pending: number | null; active_grants: number | null };
  series: DashboardSeriesDay[];
}

/** Builds the overview: seat/alert/unlock counts now, and a per-local-day series of the last `days` days. */
export function buildDashboard(stats: StatsRepo, q: { now: number; tz: string; days: number; scope: DepartmentScope }): Dashboard {
  const days = lastDays(q.now, q.days, q.tz);
  const first = days[0];
  const last = days[days.length - 1];
  const blocked = new Array<number>(days.length).fill(0);
  if (first && last) {
    const dayOf = (ms: number): number => {
      // Days are contiguous and few: a linear probe from the right is simplest and fast enough.
      for (let i = days.length - 1; i >= 0; i--) if (ms >= (days[i] as { start: number }).start) return ms < (days[i] as { end: number }).end ? i : -1;
      return -1;
    };
    for (const r of stats.eventBuckets('usb.blocked', first.start / BUCKET_MS, last.end / BUCKET_MS, q.scope)) {
      const i = dayOf(r.bucket * BUCKET_MS);
      if (i >= 0) blocked[i] = (blocked[i] ?? 0) + r.n;
    }
  }
  const alertsBySeverity = stats.openAlerts(q.scope);
  const unlock = stats.unlockCounts(q.scope);
  return {
    generated_at: new Date(q.now).toISOString(),
    tz: q.tz,
    days: q.days,
    seats: stats.seatCounts(q.scope),
    alerts: {
      available: alertsBySeverity !== null,
      open: alertsBySeverity === null ? null : Object.values(alertsBySeverity).reduce((a, b) => a + b, 0),
      by_severity: alertsBySeverity,
    },
    unlock: { available: unlock !== null, pending: unlock?.pending ?? null, active_grants: unlock?.active ?? null },
    series: days.map((d, i) => {
      const start = new Date(d.start).toISOString();
      const end = new Date(d.end).toISOString();
      return { date: d.date, start, end, blocked: blocked[i] ?? 0, alerts_opened: alertsBySeverity === null ? null : stats.alertsOpened(start, end, q.scope) };
    }),
  };
}
