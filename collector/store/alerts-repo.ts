import type { Db } from './db.js';
import type { EventRow } from './events-repo.js';

/**
 * Alerts aggregate (tables of migrations-alerts.ts): alerts, their history, linked events,
 * maintenance windows, handovers and the engine's event cursor. It also READS the core's
 * `agents` and `events` tables and, when present, `unlock_requests`; it never writes them.
 */

export type AlertSeverityValue = 'low' | 'medium' | 'high' | 'critical';
export type AlertStateValue = 'open' | 'acknowledged' | 'resolved';

export interface AlertRow {
  id: number;
  rule: string;
  severity: AlertSeverityValue;
  agent_id: string;
  dedup_key: string;
  title_zh: string;
  title_en: string;
  detail_zh: string;
  detail_en: string;
  /** JSON text of the device, or null. */
  device: string | null;
  count: number;
  first_seen: string;
  last_seen: string;
  created_at: string;
  state: AlertStateValue;
  assignee: string | null;
  assigned_by: string | null;
  assigned_at: string | null;
  acknowledged_by: string | null;
  acknowledged_at: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  resolution_note: string | null;
  escalation_level: number;
  escalated_to: string | null;
  escalated_at: string | null;
  last_event_id: number | null;
  cleared_at: string | null;
}

/** An alert row joined with its seat's name and hostname (null when the seat is unknown). */
export type AlertWithSeat = AlertRow & { seat_name: string | null; hostname: string | null };

export interface NewAlert {
  rule: string;
  severity: AlertSeverityValue;
  agent_id: string;
  dedup_key: string;
  title_zh: string;
  title_en: string;
  detail_zh: string;
  detail_en: string;
  device: string | null;
  first_seen: string;
  last_seen: string;
  created_at: string;
  last_event_id: number | null;
}

export interface AlertBatchUpdate {
  id: number;
  /** Occurrences to add to `count`. */
  n: number;
  /** Kept when the stored one is later (null: unchanged). */
  last_seen: string | null;
  last_event_id: number | null;
  cleared_at: string | null;
  severity: AlertSeverityValue;
}

export interface AlertHistoryRow {
  id: number;
  alert_id: number;
  at: string;
  actor: string;
  action: string;
  note: string | null;
  /** JSON text, or null. */
  details: string | null;
}

export interface AlertEventLink {
  event_id: number;
  alert_id: number;
  event_type: string;
  event_ts: string;
  received_at: string;
}

/** A stored agent event as the engine reads it back for catch-up. */
export type StoredEventRow = EventRow;

export interface SeatRow {
  agent_id: string;
  seat_name: string;
  hostname: string;
  online: number;
  last_seen: string | null;
  enrolled_at: string;
  revoked_at: string | null;
}

export interface MaintenanceRow {
  id: number;
  agent_id: string;
  starts_at: string;
  ends_at: string;
  created_by: string;
  reason: string;
  ended_by: string | null;
}

export interface HandoverRow {
  id: number;
  at: string;
  outgoing: string;
  incoming: string;
  period_from: string;
  report: string;
}

export interface GrantRow {
  id: string;
  agent_id: string;
  seat_name: string | null;
  executor: string | null;
  expires_at: string | null;
}

export interface AlertListFilter {
  state?: AlertStateValue;
  severity?: AlertSeverityValue;
  agent_id?: string;
  rule?: string;
  /** ISO time: only alerts whose last_seen is at or after it. */
  since?: string;
  limit: number;
  offset: number;
}

export interface AlertsRepo {
  insert(a: NewAlert): number;
  get(id: number): AlertWithSeat | undefined;
  /** Newest unresolved alert of the seat and key whose last_seen is at or after `sinceIso`. */
  findForDedup(agentId: string, dedupKey: string, sinceIso: string): AlertRow | undefined;
  /** Newest unresolved alert of the seat and key, however old. */
  findUnresolved(agentId: string, dedupKey: string): AlertRow | undefined;
  /** Counts one more occurrence; the condition is back, so cleared_at is reset. */
  bump(id: number, lastSeen: string, eventId: number | null): void;
  /**
   * Writes what one evaluation batch did to an existing alert: `n` more occurrences (0 for a clear
   * only), the latest receive time and event, the final cleared state and severity.
   */
  applyBatch(u: AlertBatchUpdate): void;
  /** Links events to alerts in a few multi-row statements; already linked events are skipped. */
  linkEvents(links: readonly AlertEventLink[]): void;
  /** Marks the condition as reported gone; false when it was already marked. */
  markCleared(id: number, at: string): boolean;
  raiseSeverity(id: number, severity: AlertSeverityValue): void;
  /** Each returns false when the row was not in an allowed state (someone else got there first). */
  acknowledge(id: number, by: string, at: string): boolean;
  assign(id: number, assignee: string, by: string, at: string): boolean;
  resolve(id: number, by: string, at: string, note: string): boolean;
  escalate(id: number, fromLevel: number, role: string, at: string): boolean;
  list(f: AlertListFilter): { rows: AlertWithSeat[]; total: number };
  /** `open` alerts raised or last escalated at or before `cutoffIso`, below `maxLevel`. */
  dueForEscalation(cutoffIso: string, maxLevel: number): AlertRow[];
  unresolvedByRule(rule: string): AlertRow[];
  /** Unresolved alerts with seat names, most severe first, then oldest first. */
  unresolvedForHandover(limit: number): { rows: AlertWithSeat[]; total: number; bySeverity: Record<AlertSeverityValue, number> };
  addHistory(h: Omit<AlertHistoryRow, 'id'>): void;
  history(alertId: number): AlertHistoryRow[];
  /** Links an event to an alert; false when the event was already linked (evaluated before). */
  linkEvent(l: AlertEventLink): boolean;
  linkedEvents(alertId: number, limit: number): AlertEventLink[];
  /** Alerts raised since `sinceIso`, by severity. */
  countRaisedSince(sinceIso: string): Record<AlertSeverityValue, number>;
  /** History actions since `sinceIso`, by action. */
  countActionsSince(sinceIso: string): Record<string, number>;

  cursor(): number;
  setCursor(eventId: number): void;
  maxEventId(): number;
  /** Stored events with afterId < id < beforeId (beforeId null: no upper bound), in id order. */
  eventsBetween(afterId: number, beforeId: number | null, limit: number): StoredEventRow[];

  seats(): SeatRow[];
  seat(agentId: string): { seat_name: string; hostname: string } | undefined;

  addMaintenance(m: Omit<MaintenanceRow, 'id' | 'ended_by'>): number;
  /** Ends the seat's windows that are active at `atIso`; returns how many. */
  endMaintenance(agentId: string, atIso: string, by: string): number;
  inMaintenance(agentId: string, atIso: string): boolean;
  /** Seats with a window active at `atIso`. */
  seatsInMaintenance(atIso: string): Set<string>;

  addHandover(h: Omit<HandoverRow, 'id'>): number;
  lastHandover(): HandoverRow | undefined;

  /** Active USB unlock grants if the unlock workflow's table exists and has a readable shape. */
  activeGrants(): { available: true; rows: GrantRow[] } | { available: false; reason: string };
}

const SEVERITIES: readonly AlertSeverityValue[] = ['low', 'medium', 'high', 'critical'];
const zeroBySeverity = (): Record<AlertSeverityValue, number> => ({ low: 0, medium: 0, high: 0, critical: 0 });

/** Links per INSERT (5 parameters each; far below SQLite's parameter limit). */
const LINK_CHUNK = 100;

const SEAT_JOIN = `SELECT a.*, g.seat_name AS seat_name, g.hostname AS hostname FROM alerts a LEFT JOIN agents g ON g.agent_id = a.agent_id`;

/** Builds the alerts repo; prepares every fixed statement once. */
export function createAlertsRepo(db: Db): AlertsRepo {
  const insertStmt = db.prepare(`INSERT INTO alerts
    (rule, severity, agent_id, dedup_key, title_zh, title_en, detail_zh, detail_en, device, count, first_seen, last_seen, created_at, last_event_id)
    VALUES (@rule, @severity, @agent_id, @dedup_key, @title_zh, @title_en, @detail_zh, @detail_en, @device, 1, @first_seen, @last_seen, @created_at, @last_event_id)`);
  const getStmt = db.prepare(`${SEAT_JOIN} WHERE a.id = ?`);
  const dedupStmt = db.prepare(`SELECT * FROM alerts WHERE agent_id = ? AND dedup_key = ? AND state != 'resolved' AND last_seen >= ?
    ORDER BY last_seen DESC, id DESC LIMIT 1`);
  const unresolvedStmt = db.prepare(`SELECT * FROM alerts WHERE agent_id = ? AND dedup_key = ? AND state != 'resolved' ORDER BY id DESC LIMIT 1`);
  const bumpStmt = db.prepare(`UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?), last_event_id = coalesce(?, last_event_id),
    cleared_at = NULL WHERE id = ?`);
  const batchStmt = db.prepare(`UPDATE alerts SET count = count + @n, last_seen = max(last_seen, coalesce(@last_seen, last_seen)),
    last_event_id = coalesce(@last_event_id, last_event_id), cleared_at = @cleared_at, severity = @severity WHERE id = @id`);
  const clearedStmt = db.prepare('UPDATE alerts SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL');
  const severityStmt = db.prepare('UPDATE alerts SET severity = ? WHERE id = ?');
  const ackStmt = db.prepare(`UPDATE alerts SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?,
    assignee = coalesce(assignee, ?) WHERE id = ? AND state = 'open'`);
  const assignStmt = db.prepare(`UPDATE alerts SET assignee = ?, assigned_by = ?, assigned_at = ? WHERE id = ? AND state != 'resolved'`);
  const resolveStmt = db.prepare(`UPDATE alerts SET state = 'resolved', resolved_by = ?, resolved_at = ?, resolution_note = ?
    WHERE id = ? AND state != 'resolved'`);
  const escalateStmt = db.prepare(`UPDATE alerts SET escalation_level = escalation_level + 1, escalated_to = ?, escalated_at = ?
    WHERE id = ? AND state = 'open' AND escalation_level = ?`);
  const dueStmt = db.prepare(`SELECT * FROM alerts WHERE state = 'open' AND escalation_level < ?
    AND coalesce(escalated_at, created_at) <= ? ORDER BY id`);
  const byRuleStmt = db.prepare(`SELECT * FROM alerts WHERE rule = ? AND state != 'resolved' ORDER BY id`);
  const handoverStmt = db.prepare(`${SEAT_JOIN} WHERE a.state != 'resolved'
    ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, a.created_at, a.id LIMIT ?`);
  const handoverCount = db.prepare(`SELECT severity, count(*) AS n FROM alerts WHERE state != 'resolved' GROUP BY severity`);
  const historyInsert = db.prepare(`INSERT INTO alert_history (alert_id, at, actor, action, note, details)
    VALUES (@alert_id, @at, @actor, @action, @note, @details)`);
  const historyStmt = db.prepare('SELECT * FROM alert_history WHERE alert_id = ? ORDER BY id');
  const linkStmt = db.prepare(`INSERT INTO alert_events (event_id, alert_id, event_type, event_ts, received_at)
    VALUES (@event_id, @alert_id, @event_type, @event_ts, @received_at) ON CONFLICT (event_id) DO NOTHING`);
  // One statement per chunk size, prepared on first use: a batch's links cost a few statements, not one each.
  const linkChunk = new Map<number, ReturnType<Db['prepare']>>();
  const linkMany = (n: number) => {
    let st = linkChunk.get(n);
    if (!st) {
      st = db.prepare(`INSERT INTO alert_events (event_id, alert_id, event_type, event_ts, received_at)
        VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?)').join(', ')} ON CONFLICT (event_id) DO NOTHING`);
      linkChunk.set(n, st);
    }
    return st;
  };
  const linkedStmt = db.prepare('SELECT * FROM alert_events WHERE alert_id = ? ORDER BY event_id DESC LIMIT ?');
  const raisedSince = db.prepare('SELECT severity, count(*) AS n FROM alerts WHERE created_at >= ? GROUP BY severity');
  const actionsSince = db.prepare('SELECT action, count(*) AS n FROM alert_history WHERE at >= ? GROUP BY action');
  const cursorGet = db.prepare('SELECT last_event_id AS id FROM alert_cursor WHERE id = 1');
  const cursorSet = db.prepare('UPDATE alert_cursor SET last_event_id = ? WHERE id = 1 AND last_event_id < ?');
  const maxEvent = db.prepare('SELECT coalesce(max(id), 0) AS id FROM events');
  const eventsOpen = db.prepare('SELECT id, agent_id, seq, type, ts, received_at, body FROM events WHERE id > ? ORDER BY id LIMIT ?');
  const eventsClosed = db.prepare('SELECT id, agent_id, seq, type, ts, received_at, body FROM events WHERE id > ? AND id < ? ORDER BY id LIMIT ?');
  const seatsStmt = db.prepare('SELECT agent_id, seat_name, hostname, online, last_seen, enrolled_at, revoked_at FROM agents ORDER BY seat_name, agent_id');
  const seatStmt = db.prepare('SELECT seat_name, hostname FROM agents WHERE agent_id = ?');
  const maintInsert = db.prepare(`INSERT INTO alert_maintenance (agent_id, starts_at, ends_at, created_by, reason)
    VALUES (@agent_id, @starts_at, @ends_at, @created_by, @reason)`);
  const maintEnd = db.prepare(`UPDATE alert_maintenance SET ends_at = ?, ended_by = ? WHERE agent_id = ? AND starts_at <= ? AND ends_at > ?`);
  const maintActive = db.prepare('SELECT 1 FROM alert_maintenance WHERE agent_id = ? AND starts_at <= ? AND ends_at > ? LIMIT 1');
  const maintAll = db.prepare('SELECT DISTINCT agent_id FROM alert_maintenance WHERE starts_at <= ? AND ends_at > ?');
  const handoverInsert = db.prepare(`INSERT INTO alert_handovers (at, outgoing, incoming, period_from, report)
    VALUES (@at, @outgoing, @incoming, @period_from, @report)`);
  const handoverLast = db.prepare('SELECT * FROM alert_handovers ORDER BY at DESC, id DESC LIMIT 1');
  const tableCols = db.prepare('SELECT name FROM pragma_table_info(?)');

  // The console's filter combinations are few; one prepared statement per combination.
  const listCache = new Map<string, { rows: ReturnType<Db['prepare']>; count: ReturnType<Db['prepare']> }>();
  function listStatements(f: AlertListFilter) {
    const conds: string[] = [];
    if (f.state !== undefined) conds.push('a.state = @state');
    if (f.severity !== undefined) conds.push('a.severity = @severity');
    if (f.agent_id !== undefined) conds.push('a.agent_id = @agent_id');
    if (f.rule !== undefined) conds.push('a.rule = @rule');
    if (f.since !== undefined) conds.push('a.last_seen >= @since');
    const where = conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : '';
    let s = listCache.get(where);
    if (!s) {
      s = {
        rows: db.prepare(`${SEAT_JOIN} ${where} ORDER BY a.id DESC LIMIT @limit OFFSET @offset`),
        count: db.prepare(`SELECT count(*) AS n FROM alerts a ${where}`),
      };
      listCache.set(where, s);
    }
    return s;
  }

  function grants(): { available: true; rows: GrantRow[] } | { available: false; reason: string } {
    const cols = new Set((tableCols.all('unlock_requests') as Array<{ name: string }>).map((c) => c.name));
    if (cols.size === 0) return { available: false, reason: 'no_table' };
    if (!cols.has('id') || !cols.has('agent_id') || !cols.has('state')) return { available: false, reason: 'unknown_shape' };
    // The workflow's table is owned elsewhere; read only the columns that exist under known names.
    const pick = (names: string[]) => names.find((n) => cols.has(n));
    const executor = pick(['executor', 'grant_executor', 'executed_by']);
    const expires = pick(['expires_at', 'grant_expires_at']);
    // The grant id is what the console and the agent show; fall back to the request id.
    const idExpr = cols.has('grant_id') ? 'coalesce(u.grant_id, u.id)' : 'u.id';
    const sql = `SELECT CAST(${idExpr} AS TEXT) AS id, u.agent_id AS agent_id, g.seat_name AS seat_name,
      ${executor ? `u.${executor}` : 'NULL'} AS executor, ${expires ? `u.${expires}` : 'NULL'} AS expires_at
      FROM unlock_requests u LEFT JOIN agents g ON g.agent_id = u.agent_id WHERE u.state = 'active' ORDER BY ${expires ? `u.${expires}` : 'u.agent_id'}, u.agent_id LIMIT 1000`;
    const rows = (db.prepare(sql).all() as Array<Record<string, unknown>>).map((r) => ({
      id: String(r.id),
      agent_id: String(r.agent_id),
      seat_name: typeof r.seat_name === 'string' ? r.seat_name : null,
      executor: typeof r.executor === 'string' ? r.executor : null,
      expires_at: typeof r.expires_at === 'string' ? r.expires_at : typeof r.expires_at === 'number' ? new Date(r.expires_at).toISOString() : null,
    }));
    return { available: true, rows };
  }

  return {
    insert: (a) => Number(insertStmt.run(a).lastInsertRowid),
    get: (id) => getStmt.get(id) as AlertWithSeat | undefined,
    findForDedup: (agentId, key, since) => dedupStmt.get(agentId, key, since) as AlertRow | undefined,
    findUnresolved: (agentId, key) => unresolvedStmt.get(agentId, key) as AlertRow | undefined,
    bump: (id, lastSeen, eventId) => void bumpStmt.run(lastSeen, eventId, id),
    applyBatch: (u) => void batchStmt.run(u),
    linkEvents: (links) => {
      for (let i = 0; i < links.length; i += LINK_CHUNK) {
        const part = links.slice(i, i + LINK_CHUNK);
        const params: unknown[] = [];
        for (const l of part) params.push(l.event_id, l.alert_id, l.event_type, l.event_ts, l.received_at);
        linkMany(part.length).run(params);
      }
    },
    markCleared: (id, at) => clearedStmt.run(at, id).changes === 1,
    raiseSeverity: (id, severity) => void severityStmt.run(severity, id),
    acknowledge: (id, by, at) => ackStmt.run(by, at, by, id).changes === 1,
    assign: (id, assignee, by, at) => assignStmt.run(assignee, by, at, id).changes === 1,
    resolve: (id, by, at, note) => resolveStmt.run(by, at, note, id).changes === 1,
    escalate: (id, fromLevel, role, at) => escalateStmt.run(role, at, id, fromLevel).changes === 1,
    list: (f) => {
      const s = listStatements(f);
      const params: Record<string, unknown> = { limit: f.limit, offset: f.offset };
      for (const k of ['state', 'severity', 'agent_id', 'rule', 'since'] as const) if (f[k] !== undefined) params[k] = f[k];
      const { limit: _l, offset: _o, ...countParams } = params;
      return { rows: s.rows.all(params) as AlertWithSeat[], total: (s.count.get(countParams) as { n: number }).n };
    },
    dueForEscalation: (cutoff, maxLevel) => dueStmt.all(maxLevel, cutoff) as AlertRow[],
    unresolvedByRule: (rule) => byRuleStmt.all(rule) as AlertRow[],
    unresolvedForHandover: (limit) => {
      const bySeverity = zeroBySeverity();
      let total = 0;
      for (const r of handoverCount.all() as Array<{ severity: AlertSeverityValue; n: number }>) {
        if (SEVERITIES.includes(r.severity)) bySeverity[r.severity] = r.n;
        total += r.n;
      }
      return { rows: handoverStmt.all(limit) as AlertWithSeat[], total, bySeverity };
    },
    addHistory: (h) => void historyInsert.run(h),
    history: (alertId) => historyStmt.all(alertId) as AlertHistoryRow[],
    linkEvent: (l) => linkStmt.run(l).changes === 1,
    linkedEvents: (alertId, limit) => linkedStmt.all(alertId, limit) as AlertEventLink[],
    countRaisedSince: (since) => {
      const out = zeroBySeverity();
      for (const r of raisedSince.all(since) as Array<{ severity: AlertSeverityValue; n: number }>) if (SEVERITIES.includes(r.severity)) out[r.severity] = r.n;
      return out;
    },
    countActionsSince: (since) => {
      const out: Record<string, number> = {};
      for (const r of actionsSince.all(since) as Array<{ action: string; n: number }>) out[r.action] = r.n;
      return out;
    },
    cursor: () => (cursorGet.get() as { id: number } | undefined)?.id ?? 0,
    setCursor: (id) => void cursorSet.run(id, id),
    maxEventId: () => (maxEvent.get() as { id: number }).id,
    eventsBetween: (after, before, limit) =>
      (before === null ? eventsOpen.all(after, limit) : eventsClosed.all(after, before, limit)) as StoredEventRow[],
    seats: () => seatsStmt.all() as SeatRow[],
    seat: (agentId) => seatStmt.get(agentId) as { seat_name: string; hostname: string } | undefined,
    addMaintenance: (m) => Number(maintInsert.run(m).lastInsertRowid),
    endMaintenance: (agentId, at, by) => maintEnd.run(at, by, agentId, at, at).changes,
    inMaintenance: (agentId, at) => maintActive.get(agentId, at, at) !== undefined,
    seatsInMaintenance: (at) => new Set((maintAll.all(at, at) as Array<{ agent_id: string }>).map((r) => r.agent_id)),
    addHandover: (h) => Number(handoverInsert.run(h).lastInsertRowid),
    lastHandover: () => handoverLast.get() as HandoverRow | undefined,
    activeGrants: grants,
  };
}
