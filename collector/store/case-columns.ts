import type { Approval, CaseBase, UnlockState } from '../workflow/unlock-machine.js';
import type { Db } from './db.js';

/**
 * What the two case tables (unlock_requests, software_requests) store the same way: both hold
 * cases of the one state machine (collector/workflow/unlock-machine.ts), so their shared columns
 * are written and read back by one piece of code here. Times are ISO-8601 UTC strings.
 */

/** The columns both case tables have, as read back (each table adds its target and grant details). */
export interface CaseRow {
  id: string;
  agent_id: string;
  request_ref: string | null;
  source: 'api' | 'agent';
  department: string | null;
  reason: string;
  requested_by: string;
  requested_at: string;
  os_user: string | null;
  state: UnlockState;
  approvals_required: 1 | 2;
  approvals: string;
  closed_by: string | null;
  closed_reason: string | null;
  grant_id: string | null;
  grant_executor: string | null;
  grant_starts_at: string | null;
  grant_expires_at: string | null;
  ended_at: string | null;
  version: number;
  updated_at: string;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
export const ms = (s: string): number => Date.parse(s);

interface StoredApproval {
  by: string;
  at: string;
  note: string;
}

/** The machine's approvals from the `approvals` column (our own JSON, written by caseColumns). */
export function parseApprovals(json: string): Approval[] {
  return (JSON.parse(json) as StoredApproval[]).map((a): Approval => ({ by: a.by, at: ms(a.at), note: a.note }));
}

/** How a case was raised, besides what the state machine holds (both tables store it). */
export interface CaseOrigin {
  source: 'api' | 'agent';
  /** The seat's request id of a request raised at the seat (null from the API): one case per (seat, ref). */
  requestRef: string | null;
  osUser: string | null;
}

/** The columns a new case sets once that mean the same in both tables (with caseColumns: all shared ones). */
export function newCaseColumns(c: CaseBase, origin: CaseOrigin, at: string) {
  return {
    id: c.id,
    agent_id: c.agentId,
    request_ref: origin.requestRef,
    source: origin.source,
    department: c.department,
    reason: c.reason,
    requested_by: c.requestedBy,
    requested_at: iso(c.requestedAt),
    os_user: origin.osUser,
    approvals_required: c.approvalsRequired,
    updated_at: at,
  };
}

/**
 * The columns every write of a case sets that mean the same in both tables. The grant's expiry,
 * its flags and the end reason are left to each table: they differ in what they may hold.
 */
export function caseColumns(c: CaseBase) {
  const g = c.grant;
  return {
    state: c.state,
    approvals: JSON.stringify(c.approvals.map((a) => ({ by: a.by, at: iso(a.at), note: a.note }))),
    closed_by: c.closedBy,
    closed_reason: c.closedReason,
    grant_id: g?.id ?? null,
    grant_executor: g?.executor ?? null,
    grant_starts_at: g ? iso(g.startsAt) : null,
    ended_at: c.endedAt === null ? null : iso(c.endedAt),
    version: c.version,
  };
}

/** The `@departments` parameter of a scoped query: null (every department) or a JSON array. */
export const deptParam = (d: readonly string[] | '*' | undefined): string | null => (d === undefined || d === '*' ? null : JSON.stringify(d));

/**
 * One page of a table's cases plus the total, filtered by state, seat and department (optional:
 * `@x IS NULL OR col = @x` keeps one statement each; the tables stay small).
 */
export function caseLister<R>(db: Db, table: 'unlock_requests' | 'software_requests') {
  const where = `WHERE (@state IS NULL OR state = @state) AND (@agent_id IS NULL OR agent_id = @agent_id)
    AND (@departments IS NULL OR department IN (SELECT value FROM json_each(@departments)))`;
  const listStmt = db.prepare(`SELECT * FROM ${table} ${where} ORDER BY requested_at DESC, id DESC LIMIT @limit OFFSET @offset`);
  const countStmt = db.prepare(`SELECT count(*) AS n FROM ${table} ${where}`);
  return (q: { state?: string; agentId?: string; departments?: readonly string[] | '*'; limit: number; offset: number }): { rows: R[]; total: number } => {
    const p = { state: q.state ?? null, agent_id: q.agentId ?? null, departments: deptParam(q.departments) };
    return {
      rows: listStmt.all({ ...p, limit: q.limit, offset: q.offset }) as R[],
      total: (countStmt.get(p) as { n: number }).n,
    };
  };
}
