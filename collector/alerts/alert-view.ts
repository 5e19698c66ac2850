import type { AlertHistoryRow, AlertWithSeat } from '../store/alerts-repo.js';
import type { Alert, AlertDevice, AlertSeverity, AlertState } from './channels/types.js';
import type { Bilingual } from './rules.js';

/** One alert as the API and console see it. Strings are raw data: escape them when rendering. */
export interface AlertView {
  id: number;
  rule: string;
  severity: AlertSeverity;
  state: AlertState;
  seat: { agent_id: string; seat_name: string | null; hostname: string | null };
  title: Bilingual;
  detail: Bilingual;
  device: AlertDevice | null;
  count: number;
  first_seen: string;
  last_seen: string;
  created_at: string;
  assignee: string | null;
  assigned_by: string | null;
  assigned_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  resolution_note: string | null;
  escalation: { level: number; role: string | null; at: string | null };
  /** When the seat last reported the condition gone (the alert stays open for a human). */
  cleared_at: string | null;
}

export interface AlertHistoryEntry {
  at: string;
  actor: string;
  action: string;
  note: string | null;
  details: Record<string, unknown> | null;
}

function parseObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function parseDevice(text: string | null): AlertDevice | null {
  const o = parseObject(text);
  if (o === null || typeof o.vendor_id !== 'string' || typeof o.product_id !== 'string') return null;
  return { vendor_id: o.vendor_id, product_id: o.product_id, serial: strOrNull(o.serial), product: strOrNull(o.product) };
}

/** Row → view. */
export function toAlertView(r: AlertWithSeat): AlertView {
  return {
    id: r.id,
    rule: r.rule,
    severity: r.severity,
    state: r.state,
    seat: { agent_id: r.agent_id, seat_name: r.seat_name, hostname: r.hostname },
    title: { zh: r.title_zh, en: r.title_en },
    detail: { zh: r.detail_zh, en: r.detail_en },
    device: parseDevice(r.device),
    count: r.count,
    first_seen: r.first_seen,
    last_seen: r.last_seen,
    created_at: r.created_at,
    assignee: r.assignee,
    assigned_by: r.assigned_by,
    assigned_at: r.assigned_at,
    acknowledged_by: r.acknowledged_by,
    acknowledged_at: r.acknowledged_at,
    resolved_by: r.resolved_by,
    resolved_at: r.resolved_at,
    resolution_note: r.resolution_note,
    escalation: { level: r.escalation_level, role: r.escalated_to, at: r.escalated_at },
    cleared_at: r.cleared_at,
  };
}

export function toHistoryEntry(h: AlertHistoryRow): AlertHistoryEntry {
  return { at: h.at, actor: h.actor, action: h.action, note: h.note, details: parseObject(h.details) };
}

/** Why an alert is (re)sent to the channels. */
export type DispatchReason = 'opened' | 'severity_raised' | 'escalated' | 'resolved';

/**
 * View → the delivery layer's Alert. The channel shape has no marker field, so an escalation is
 * marked at the start of the title (「已升级 L1 → officer」 / ESCALATED), where every channel shows it.
 */
export function toChannelAlert(v: AlertView, reason: DispatchReason, consoleUrl: string | null): Alert {
  let title = `${v.title.zh} / ${v.title.en}`;
  let detail = `${v.detail.zh} / ${v.detail.en}`;
  if (reason === 'escalated') {
    const to = `L${v.escalation.level} → ${v.escalation.role ?? '?'}`;
    title = `【已升级 ${to}】[ESCALATED ${to}] ${title}`;
  }
  if (v.state === 'resolved' && v.resolution_note !== null) detail = `${detail} / 处理结果 resolution: ${v.resolution_note}`;
  return {
    id: String(v.id),
    rule: v.rule,
    severity: v.severity,
    seat: { agent_id: v.seat.agent_id, seat_name: v.seat.seat_name, hostname: v.seat.hostname },
    title,
    detail,
    count: v.count,
    first_seen: v.first_seen,
    last_seen: v.last_seen,
    state: v.state,
    ...(consoleUrl === null ? {} : { url: `${consoleUrl}/alerts/${v.id}` }),
    ...(v.device === null ? {} : { device: v.device }),
  };
}
