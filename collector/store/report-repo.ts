import type { DepartmentScope } from '../auth/privileges.js';
import type { Db } from './db.js';
import { lazyStatements } from './lazy-statements.js';
import { scopeClause, scopeParam } from './stats-repo.js';

/** A seat as exports and reports show it (no key material). */
export interface ReportSeatRow {
  agent_id: string;
  seat_name: string;
  hostname: string;
  department: string | null;
  platform: string;
  agent_version: string | null;
  online: number;
  lock_state: string;
  last_seen: string | null;
  enrolled_at: string;
  revoked_at: string | null;
  last_seq: number;
}

export interface ReportEventRow {
  id: number;
  agent_id: string;
  seat_name: string | null;
  seq: number;
  type: string;
  ts: string;
  received_at: string;
  body: string;
}

/** Filters shared by the exports; undefined = no filter. Times are ISO, half-open [since, until). */
export interface EventFilter {
  type?: string;
  agentId?: string;
  since?: string;
  until?: string;
}

export interface RowFilter {
  state?: string;
  severity?: string;
  agentId?: string;
  since?: string;
  until?: string;
}

/** Cursor of keyset paging: the last row's sort key, null for the first page. */
export type Cursor = readonly (string | number)[] | null;

export interface Page<T> {
  rows: T[];
  next: Cursor;
}

/** Read-side queries of the CSV exports (keyset-paged, so a page is a short statement) and the monthly report. */
export interface ReportRepo {
  hasTable(name: string): boolean;
  seatsPage(f: { q?: string; department?: string; scope: DepartmentScope }, after: Cursor, limit: number): Page<ReportSeatRow>;
  eventsPage(f: EventFilter & { scope: DepartmentScope }, after: Cursor, limit: number): Page<ReportEventRow>;
  /** Null without the alerts table. */
  alertsPage(f: RowFilter & { scope: DepartmentScope }, after: Cursor, limit: number): Page<Record<string, unknown>> | null;
  /** Null without the unlock_requests table. */
  unlockPage(f: RowFilter & { scope: DepartmentScope }, after: Cursor, limit: number): Page<Record<string, unknown>> | null;

  /** Seats that existed during [from, to) (enrolled before `to`, not revoked before `from`). */
  seatsDuring(from: string, to: string, scope: DepartmentScope, department?: string | null): ReportSeatRow[];
  /** Events of `type` per seat received in [from, to). */
  countEventsBySeat(type: string, from: string, to: string): Map<string, number>;
  /** Alerts first seen in [from, to) per seat and severity; null without the alerts table. */
  countAlertsBySeat(from: string, to: string): Array<{ agent_id: string; severity: string; n: number }> | null;
  /** Unlock cases requested in [from, to), oldest first; null without the unlock_requests table. */
  unlocksRequested(from: string, to: string): Array<Record<string, unknown>> | null;
  /** Unlock cases of a device, newest first, seats in `scope`; null without the unlock_requests table. */
  unlocksForDevice(key: string, scope: DepartmentScope): Array<Record<string, unknown>> | null;
  /** id → display name (or username) of every user; empty without the users table. */
  userNames(): Map<string, string>;
}

const SEAT_COLS = `a.agent_id, a.seat_name, a.hostname, a.department, a.platform, a.agent_version, a.online,
  a.lock_state, a.last_seen, a.enrolled_at, a.revoked_at, a.last_seq`;

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const seatScope = (col: string, scope: DepartmentScope) =>
  scope === '*' ? '' : ` AND ${col} IN (SELECT agent_id FROM agents WHERE 1 = 1${scopeClause('department', scope)})`;

/** Builds the report repo over the collector database. */
export function createReportRepo(db: Db): ReportRepo {
  const { stmt, hasTable } = lazyStatements(db);

  function page<T>(rows: T[], limit: number, key: (r: T) => readonly (string | number)[]): Page<T> {
    const last = rows.at(-1);
    return { rows, next: rows.length === limit && last !== undefined ? key(last) : null };
  }

  return {
    hasTable,
    seatsPage(f, after, limit) {
      let where = `WHERE 1 = 1${scopeClause('a.department', f.scope)}`;
      const p: Record<string, unknown> = { ...scopeParam(f.scope), limit };
      if (f.q !== undefined && f.q !== '') {
        where += ` AND (a.seat_name LIKE @p ESCAPE '\\' OR a.hostname LIKE @p ESCAPE '\\' OR a.agent_id LIKE @p ESCAPE '\\' OR a.department LIKE @p ESCAPE '\\')`;
        p.p = likePattern(f.q);
      }
      if (f.department !== undefined) {
        where += ' AND a.department = @department';
        p.department = f.department;
      }
      if (after) {
        where += ' AND (a.seat_name, a.agent_id) > (@s, @a)';
        p.s = after[0];
        p.a = after[1];
      }
      const rows = stmt(`SELECT ${SEAT_COLS} FROM agents a ${where} ORDER BY a.seat_name, a.agent_id LIMIT @limit`).all(p) as ReportSeatRow[];
      return page(rows, limit, (r) => [r.seat_name, r.agent_id]);
    },
    eventsPage(f, after, limit) {
      const p: Record<string, unknown> = { ...scopeParam(f.scope), limit };
      let where = `WHERE 1 = 1${seatScope('e.agent_id', f.scope)}`;
      if (f.type !== undefined) {
        where += ' AND e.type = @type';
        p.type = f.type;
      }
      if (f.since !== undefined) {
        where += ' AND e.received_at >= @since';
        p.since = f.since;
      }
      if (f.until !== undefined) {
        where += ' AND e.received_at < @until';
        p.until = f.until;
      }
      // Order by the index that serves the filter: (agent_id, seq), else (type, received_at) / (received_at).
      let order: string;
      let key: (r: ReportEventRow) => readonly (string | number)[];
      if (f.agentId !== undefined) {
        where += ' AND e.agent_id = @agent';
        p.agent = f.agentId;
        if (after) {
          where += ' AND e.seq > @after_seq';
          p.after_seq = after[0];
        }
        order = 'e.seq';
        key = (r) => [r.seq];
      } else {
        if (after) {
          where += ' AND (e.received_at, e.id) > (@after_at, @after_id)';
          p.after_at = after[0];
          p.after_id = after[1];
        }
        order = 'e.received_at, e.id';
        key = (r) => [r.received_at, r.id];
      }
      const rows = stmt(`SELECT e.id, e.agent_id, a.seat_name, e.seq, e.type, e.ts, e.received_at, e.body
        FROM events e LEFT JOIN agents a ON a.agent_id = e.agent_id ${where} ORDER BY ${order} LIMIT @limit`).all(p) as ReportEventRow[];
      return page(rows, limit, key);
    },
    alertsPage(f, after, limit) {
      if (!hasTable('alerts')) return null;
      const p: Record<string, unknown> = { ...scopeParam(f.scope), limit, after: after ? after[0] : 0 };
      let where = `WHERE al.id > @after${seatScope('al.agent_id', f.scope)}`;
      for (const [col, v, name] of [
        ['al.state', f.state, 'state'],
        ['al.severity', f.severity, 'severity'],
        ['al.agent_id', f.agentId, 'agent'],
      ] as const) {
        if (v !== undefined) {
          where += ` AND ${col} = @${name}`;
          p[name] = v;
        }
      }
      if (f.since !== undefined) {
        where += ' AND al.first_seen >= @since';
        p.since = f.since;
      }
      if (f.until !== undefined) {
        where += ' AND al.first_seen < @until';
        p.until = f.until;
      }
      const rows = stmt(`SELECT al.id, al.rule, al.severity, al.state, al.agent_id, a.seat_name, a.department, al.title_zh, al.title_en,
          al.count, al.first_seen, al.last_seen, al.created_at, al.assignee, al.acknowledged_by, al.acknowledged_at,
          al.resolved_by, al.resolved_at, al.resolution_note, al.escalation_level
        FROM alerts al LEFT JOIN agents a ON a.agent_id = al.agent_id ${where} ORDER BY al.id LIMIT @limit`).all(p) as Array<Record<string, unknown>>;
      return page(rows, limit, (r) => [r.id as number]);
    },
    unlockPage(f, after, limit) {
      if (!hasTable('unlock_requests')) return null;
      const p: Record<string, unknown> = { ...scopeParam(f.scope), limit };
      let where = `WHERE 1 = 1${scopeClause('u.department', f.scope)}`;
      if (f.state !== undefined) {
        where += ' AND u.state = @state';
        p.state = f.state;
      }
      if (f.agentId !== undefined) {
        where += ' AND u.agent_id = @agent';
        p.agent = f.agentId;
      }
      if (f.since !== undefined) {
        where += ' AND u.requested_at >= @since';
        p.since = f.since;
      }
      if (f.until !== undefined) {
        where += ' AND u.requested_at < @until';
        p.until = f.until;
      }
      if (after) {
        where += ' AND (u.requested_at, u.id) > (@after_at, @after_id)';
        p.after_at = after[0];
        p.after_id = after[1];
      }
      const rows = stmt(`SELECT u.*, a.seat_name FROM unlock_requests u LEFT JOIN agents a ON a.agent_id = u.agent_id
        ${where} ORDER BY u.requested_at, u.id LIMIT @limit`).all(p) as Array<Record<string, unknown>>;
      return page(rows, limit, (r) => [r.requested_at as string, r.id as string]);
    },

    seatsDuring(from, to, scope, department) {
      let where = `WHERE a.enrolled_at < @to AND (a.revoked_at IS NULL OR a.revoked_at >= @from)${scopeClause('a.department', scope)}`;
      const p: Record<string, unknown> = { from, to, ...scopeParam(scope) };
      if (department === null) where += ' AND a.department IS NULL';
      else if (department !== undefined) {
        where += ' AND a.department = @department';
        p.department = department;
      }
      return stmt(`SELECT ${SEAT_COLS} FROM agents a ${where} ORDER BY a.seat_name, a.agent_id`).all(p) as ReportSeatRow[];
    },
    countEventsBySeat(type, from, to) {
      const rows = stmt(`SELECT agent_id, count(*) AS n FROM events WHERE type = @type AND received_at >= @from AND received_at < @to
        GROUP BY agent_id`).all({ type, from, to }) as Array<{ agent_id: string; n: number }>;
      return new Map(rows.map((r) => [r.agent_id, r.n]));
    },
    countAlertsBySeat(from, to) {
      if (!hasTable('alerts')) return null;
      return stmt(`SELECT agent_id, severity, count(*) AS n FROM alerts WHERE first_seen >= @from AND first_seen < @to
        GROUP BY agent_id, severity`).all({ from, to }) as Array<{ agent_id: string; severity: string; n: number }>;
    },
    unlocksRequested(from, to) {
      if (!hasTable('unlock_requests')) return null;
      return stmt('SELECT * FROM unlock_requests WHERE requested_at >= @from AND requested_at < @to ORDER BY requested_at, id').all({ from, to }) as Array<
        Record<string, unknown>
      >;
    },
    unlocksForDevice(key, scope) {
      if (!hasTable('unlock_requests')) return null;
      return stmt(`SELECT * FROM unlock_requests u WHERE u.device_key = @key${scopeClause('u.department', scope)}
        ORDER BY u.requested_at DESC, u.id LIMIT 200`).all({ key, ...scopeParam(scope) }) as Array<Record<string, unknown>>;
    },
    userNames() {
      if (!hasTable('users')) return new Map();
      const rows = stmt('SELECT id, username, display_name FROM users').all() as Array<{ id: string; username: string; display_name: string | null }>;
      return new Map(rows.map((r) => [r.id, r.display_name !== null && r.display_name !== '' ? r.display_name : r.username]));
    },
  };
}
