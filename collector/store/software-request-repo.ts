import type { CaseBase } from '../workflow/unlock-machine.js';
import { PERMANENT_DURATION_MS, type SoftwareCase } from '../workflow/software-case.js';
import { caseColumns, caseLister, iso, ms, newCaseColumns, parseApprovals, type CaseRow } from './case-columns.js';
import type { Db } from './db.js';

/** One row of `software_requests` (migrations-software.ts): the shared case columns and these. */
export interface SoftwareRequestRow extends CaseRow {
  package: string | null;
  versions: string | null;
  sha256: string | null;
  /** null: permanent. */
  duration_ms: number | null;
  end_reason: 'expired' | 'revoked' | null;
  fulfilled_at: string | null;
  fulfilled_version: string | null;
}

export interface SoftwareListQuery {
  state?: CaseBase['state'];
  agentId?: string;
  /** '*' or undefined: every department; else only cases of these departments. */
  departments?: readonly string[] | '*';
  limit: number;
  offset: number;
}

export interface SoftwareRequestRepo {
  /** false when (agent_id, request_ref) already exists (a replayed seat request). */
  insert(c: SoftwareCase, extra: { source: 'api' | 'agent'; requestRef: string | null; osUser: string | null }, at: string): boolean;
  get(id: string): SoftwareRequestRow | undefined;
  getByRef(agentId: string, ref: string): SoftwareRequestRow | undefined;
  /** Compare-and-set write of the machine's next state; false when the version moved. */
  update(next: SoftwareCase, expectedVersion: number, at: string): boolean;
  /** Records the first matching install; false when already fulfilled. */
  markFulfilled(id: string, at: string, version: string | null): boolean;
  list(q: SoftwareListQuery): { rows: SoftwareRequestRow[]; total: number };
  activeForAgent(agentId: string): SoftwareRequestRow[];
  /** Active time-boxed cases whose expiry is at or before `atIso`. */
  dueToExpire(atIso: string, limit: number): SoftwareRequestRow[];
  dueToLapse(cutoffIso: string, limit: number): SoftwareRequestRow[];
}

/** Rebuilds the state machine's view of a stored case. */
export function rowToSoftwareCase(r: SoftwareRequestRow): SoftwareCase {
  const approvals = parseApprovals(r.approvals);
  const permanent = r.duration_ms === null;
  const durationMs = r.duration_ms ?? PERMANENT_DURATION_MS;
  return {
    id: r.id,
    agentId: r.agent_id,
    department: r.department,
    target: { package: r.package, versions: r.versions, sha256: r.sha256 },
    permanent,
    reason: r.reason,
    durationMs,
    requestedBy: r.requested_by,
    requestedAt: ms(r.requested_at),
    state: r.state,
    approvalsRequired: r.approvals_required,
    approvals,
    closedBy: r.closed_by,
    closedReason: r.closed_reason,
    grant:
      r.grant_id === null || r.grant_executor === null || r.grant_starts_at === null
        ? null
        : {
            id: r.grant_id,
            executor: r.grant_executor,
            startsAt: ms(r.grant_starts_at),
            expiresAt: r.grant_expires_at === null ? ms(r.grant_starts_at) + durationMs : ms(r.grant_expires_at),
            allowReinsert: false,
            anyPort: false,
          },
    endReason: r.end_reason,
    endedAt: r.ended_at === null ? null : ms(r.ended_at),
    version: r.version,
  };
}

function mutableColumns(c: SoftwareCase) {
  const g = c.grant;
  return {
    ...caseColumns(c),
    // A permanent approval has no expiry in the store (the machine's far-future one stays in memory).
    grant_expires_at: g && !c.permanent ? iso(g.expiresAt) : null,
    // The machine's end reasons of a USB grant (removed, …) cannot happen to a software case.
    end_reason: c.endReason === 'expired' || c.endReason === 'revoked' ? c.endReason : null,
  };
}

/** Software install cases. Statements prepared once. */
export function createSoftwareRequestRepo(db: Db): SoftwareRequestRepo {
  const insertStmt = db.prepare(`INSERT INTO software_requests
    (id, agent_id, request_ref, source, department, package, versions, sha256, reason, duration_ms, requested_by,
     requested_at, os_user, state, approvals_required, approvals, closed_by, closed_reason, grant_id, grant_executor,
     grant_starts_at, grant_expires_at, end_reason, ended_at, version, updated_at)
    VALUES (@id, @agent_id, @request_ref, @source, @department, @package, @versions, @sha256, @reason, @duration_ms,
     @requested_by, @requested_at, @os_user, @state, @approvals_required, @approvals, @closed_by, @closed_reason,
     @grant_id, @grant_executor, @grant_starts_at, @grant_expires_at, @end_reason, @ended_at, @version, @updated_at)
    ON CONFLICT (agent_id, request_ref) DO NOTHING`);
  const getStmt = db.prepare('SELECT * FROM software_requests WHERE id = ?');
  const byRef = db.prepare('SELECT * FROM software_requests WHERE agent_id = ? AND request_ref = ?');
  const updateStmt = db.prepare(`UPDATE software_requests SET
      state = @state, approvals = @approvals, closed_by = @closed_by, closed_reason = @closed_reason,
      grant_id = @grant_id, grant_executor = @grant_executor, grant_starts_at = @grant_starts_at,
      grant_expires_at = @grant_expires_at, end_reason = @end_reason, ended_at = @ended_at, version = @version,
      updated_at = @updated_at
    WHERE id = @id AND version = @expected`);
  const fulfil = db.prepare('UPDATE software_requests SET fulfilled_at = ?, fulfilled_version = ? WHERE id = ? AND fulfilled_at IS NULL');
  const activeAgent = db.prepare("SELECT * FROM software_requests WHERE state = 'active' AND agent_id = ? ORDER BY grant_starts_at, id");
  const dueExpire = db.prepare(
    "SELECT * FROM software_requests WHERE state = 'active' AND grant_expires_at IS NOT NULL AND grant_expires_at <= ? ORDER BY grant_expires_at LIMIT ?",
  );
  const dueLapse = db.prepare(
    "SELECT * FROM software_requests WHERE state IN ('pending', 'approved') AND requested_at <= ? ORDER BY requested_at LIMIT ?",
  );
  const list = caseLister<SoftwareRequestRow>(db, 'software_requests');

  return {
    insert(c, extra, at) {
      const r = insertStmt.run({
        ...newCaseColumns(c, extra, at),
        package: c.target.package,
        versions: c.target.versions,
        sha256: c.target.sha256,
        duration_ms: c.permanent ? null : c.durationMs,
        ...mutableColumns(c),
      });
      return r.changes === 1;
    },
    get: (id) => getStmt.get(id) as SoftwareRequestRow | undefined,
    getByRef: (agentId, ref) => byRef.get(agentId, ref) as SoftwareRequestRow | undefined,
    update: (next, expected, at) => updateStmt.run({ id: next.id, expected, updated_at: at, ...mutableColumns(next) }).changes === 1,
    markFulfilled: (id, at, version) => fulfil.run(at, version, id).changes === 1,
    list,
    activeForAgent: (agentId) => activeAgent.all(agentId) as SoftwareRequestRow[],
    dueToExpire: (atIso, limit) => dueExpire.all(atIso, limit) as SoftwareRequestRow[],
    dueToLapse: (cutoffIso, limit) => dueLapse.all(cutoffIso, limit) as SoftwareRequestRow[],
  };
}
