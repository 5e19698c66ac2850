import type { EndReason, UnlockRequest, UnlockState } from '../workflow/unlock-machine.js';
import { caseColumns, caseLister, deptParam, iso, ms, newCaseColumns, parseApprovals, type CaseRow } from './case-columns.js';
import type { Db } from './db.js';
import type { EventRow } from './events-repo.js';

/** One unlock case as stored (tables of migrations-unlock.ts): the shared case columns and these. Times are ISO-8601 UTC. */
export interface UnlockRow extends CaseRow {
  vendor_id: string;
  product_id: string;
  serial: string | null;
  hash: string | null;
  port: string | null;
  device_key: string;
  device: string | null;
  duration_ms: number;
  allow_reinsert: 0 | 1;
  any_port: 0 | 1;
  end_reason: EndReason | null;
  grant_accepted_at: string | null;
  grant_applied_at: string | null;
  relocked_at: string | null;
  agent_end_reason: string | null;
}

/** What a new case carries besides the machine's request. */
export interface NewCaseExtra {
  source: 'api' | 'agent';
  requestRef: string | null;
  deviceKey: string;
  /** JSON of the full reported descriptor, or null. */
  deviceJson: string | null;
  osUser: string | null;
}

export interface UnlockListQuery {
  state?: UnlockState;
  agentId?: string;
  /** Only cases of seats in these departments ('*' or absent = all; unassigned seats need '*'). */
  departments?: readonly string[] | '*';
  limit: number;
  offset: number;
}

/** Seat reports recorded on a case (first time only). */
export type ReportColumn = 'grant_accepted_at' | 'grant_applied_at';

export interface UnlockRepo {
  /** Inserts a new case; false when (agent_id, request_ref) already exists (agent retry). */
  insert(req: UnlockRequest, extra: NewCaseExtra, at: string): boolean;
  get(id: string): UnlockRow | undefined;
  getByRef(agentId: string, requestRef: string): UnlockRow | undefined;
  getByGrant(agentId: string, grantId: string): UnlockRow | undefined;
  /** Compare-and-set: writes `next` only if the stored version is still `expectedVersion`. */
  update(next: UnlockRequest, expectedVersion: number, at: string): boolean;
  /** Sets a seat-report timestamp unless it is already set; true when it was set now. */
  markReport(id: string, column: ReportColumn, at: string): boolean;
  /** Records the seat's relock confirmation (its grant.ended) unless already recorded. */
  markRelocked(id: string, at: string, agentReason: string): boolean;
  list(q: UnlockListQuery): { rows: UnlockRow[]; total: number };
  /** Active grants of one seat (for grants.sync). */
  activeForAgent(agentId: string): UnlockRow[];
  /** Grants, soonest expiry first: active ones, or (active = false) those that have ended. */
  listGrants(q: { active: boolean; limit: number; offset: number; agentId?: string; departments?: readonly string[] | '*' }): {
    rows: UnlockRow[];
    total: number;
  };
  /** Active grants whose expiry is at or before `atIso`. */
  dueToExpire(atIso: string, limit: number): UnlockRow[];
  /** Pending/approved requests raised at or before `cutoffIso`. */
  dueToLapse(cutoffIso: string, limit: number): UnlockRow[];
  /** Marks agent event (agent, seq) as applied by the workflow; false if it already was. */
  markEvent(agentId: string, seq: number): boolean;
  /** Stored events of `types` the workflow has not applied yet, oldest first (crash recovery). */
  unappliedEvents(types: readonly string[], afterId: number, limit: number): EventRow[];
}

const msOrNull = (s: string | null) => (s === null ? null : Date.parse(s));

/** Rebuilds the state machine's view of a stored case. */
export function rowToRequest(r: UnlockRow): UnlockRequest {
  const approvals = parseApprovals(r.approvals);
  return {
    id: r.id,
    agentId: r.agent_id,
    department: r.department,
    device: { vendor_id: r.vendor_id, product_id: r.product_id, serial: r.serial, hash: r.hash, port: r.port },
    reason: r.reason,
    durationMs: r.duration_ms,
    requestedBy: r.requested_by,
    requestedAt: ms(r.requested_at),
    state: r.state,
    approvalsRequired: r.approvals_required,
    approvals,
    closedBy: r.closed_by,
    closedReason: r.closed_reason,
    grant:
      r.grant_id === null || r.grant_executor === null || r.grant_starts_at === null || r.grant_expires_at === null
        ? null
        : {
            id: r.grant_id,
            executor: r.grant_executor,
            startsAt: ms(r.grant_starts_at),
            expiresAt: ms(r.grant_expires_at),
            allowReinsert: r.allow_reinsert === 1,
            anyPort: r.any_port === 1,
          },
    endReason: r.end_reason,
    endedAt: msOrNull(r.ended_at),
    version: r.version,
  };
}

function mutableColumns(req: UnlockRequest) {
  const g = req.grant;
  return {
    ...caseColumns(req),
    grant_expires_at: g ? iso(g.expiresAt) : null,
    allow_reinsert: g?.allowReinsert ? 1 : 0,
    any_port: g?.anyPort ? 1 : 0,
    end_reason: req.endReason,
  };
}

/** Unlock cases aggregate: requests, their grants and what the seat reported about them. */
export function createUnlockRepo(db: Db): UnlockRepo {
  const insertStmt = db.prepare(`INSERT INTO unlock_requests
    (id, agent_id, request_ref, source, department, vendor_id, product_id, serial, hash, port, device_key, device,
     reason, duration_ms, requested_by, requested_at, os_user, state, approvals_required, approvals, closed_by,
     closed_reason, grant_id, grant_executor, grant_starts_at, grant_expires_at, allow_reinsert, any_port,
     end_reason, ended_at, version, updated_at)
    VALUES (@id, @agent_id, @request_ref, @source, @department, @vendor_id, @product_id, @serial, @hash, @port,
     @device_key, @device, @reason, @duration_ms, @requested_by, @requested_at, @os_user, @state,
     @approvals_required, @approvals, @closed_by, @closed_reason, @grant_id, @grant_executor, @grant_starts_at,
     @grant_expires_at, @allow_reinsert, @any_port, @end_reason, @ended_at, @version, @updated_at)
    ON CONFLICT (agent_id, request_ref) DO NOTHING`);
  const getStmt = db.prepare('SELECT * FROM unlock_requests WHERE id = ?');
  const byRef = db.prepare('SELECT * FROM unlock_requests WHERE agent_id = ? AND request_ref = ?');
  const byGrant = db.prepare('SELECT * FROM unlock_requests WHERE agent_id = ? AND grant_id = ?');
  const updateStmt = db.prepare(`UPDATE unlock_requests SET
      state = @state, approvals = @approvals, closed_by = @closed_by, closed_reason = @closed_reason,
      grant_id = @grant_id, grant_executor = @grant_executor, grant_starts_at = @grant_starts_at,
      grant_expires_at = @grant_expires_at, allow_reinsert = @allow_reinsert, any_port = @any_port,
      end_reason = @end_reason, ended_at = @ended_at, version = @version, updated_at = @updated_at
    WHERE id = @id AND version = @expected`);
  const report = {
    grant_accepted_at: db.prepare('UPDATE unlock_requests SET grant_accepted_at = ? WHERE id = ? AND grant_accepted_at IS NULL'),
    grant_applied_at: db.prepare('UPDATE unlock_requests SET grant_applied_at = ? WHERE id = ? AND grant_applied_at IS NULL'),
  } as const;
  const relock = db.prepare(
    'UPDATE unlock_requests SET relocked_at = ?, agent_end_reason = ? WHERE id = ? AND relocked_at IS NULL',
  );
  const activeAgent = db.prepare("SELECT * FROM unlock_requests WHERE state = 'active' AND agent_id = ? ORDER BY grant_expires_at");
  const dueExpire = db.prepare(
    "SELECT * FROM unlock_requests WHERE state = 'active' AND grant_expires_at <= ? ORDER BY grant_expires_at LIMIT ?",
  );
  const dueLapse = db.prepare(
    "SELECT * FROM unlock_requests WHERE state IN ('pending', 'approved') AND requested_at <= ? ORDER BY requested_at LIMIT ?",
  );
  const mark = db.prepare('INSERT INTO unlock_event_marks (agent_id, seq) VALUES (?, ?) ON CONFLICT DO NOTHING');
  const unapplied = db.prepare(`SELECT e.id, e.agent_id, e.seq, e.type, e.ts, e.received_at, e.body FROM events e
    WHERE e.type IN (SELECT value FROM json_each(?)) AND e.id > ?
      AND NOT EXISTS (SELECT 1 FROM unlock_event_marks m WHERE m.agent_id = e.agent_id AND m.seq = e.seq)
    ORDER BY e.id LIMIT ?`);
  // Filters are optional; `@x IS NULL OR col = @x` keeps one statement (the tables stay small).
  const scoped = `(@agent_id IS NULL OR agent_id = @agent_id)
    AND (@departments IS NULL OR department IN (SELECT value FROM json_each(@departments)))`;
  const grantsWhere = `WHERE grant_id IS NOT NULL AND (CASE WHEN @active = 1 THEN state = 'active' ELSE state = 'ended' END) AND ${scoped}`;
  const grantsStmt = db.prepare(`SELECT * FROM unlock_requests ${grantsWhere}
    ORDER BY CASE WHEN @active = 1 THEN grant_expires_at END ASC, ended_at DESC, id LIMIT @limit OFFSET @offset`);
  const grantsCount = db.prepare(`SELECT count(*) AS n FROM unlock_requests ${grantsWhere}`);
  const list = caseLister<UnlockRow>(db, 'unlock_requests');

  return {
    insert(req, extra, at) {
      const r = insertStmt.run({
        ...newCaseColumns(req, extra, at),
        vendor_id: req.device.vendor_id,
        product_id: req.device.product_id,
        serial: req.device.serial,
        hash: req.device.hash,
        port: req.device.port,
        device_key: extra.deviceKey,
        device: extra.deviceJson,
        duration_ms: req.durationMs,
        ...mutableColumns(req),
      });
      return r.changes === 1;
    },
    get: (id) => getStmt.get(id) as UnlockRow | undefined,
    getByRef: (agentId, ref) => byRef.get(agentId, ref) as UnlockRow | undefined,
    getByGrant: (agentId, grantId) => byGrant.get(agentId, grantId) as UnlockRow | undefined,
    update: (next, expected, at) => updateStmt.run({ id: next.id, expected, updated_at: at, ...mutableColumns(next) }).changes === 1,
    markReport: (id, column, at) => report[column].run(at, id).changes === 1,
    markRelocked: (id, at, reason) => relock.run(at, reason, id).changes === 1,
    list,
    activeForAgent: (agentId) => activeAgent.all(agentId) as UnlockRow[],
    listGrants(q) {
      const p = { active: q.active ? 1 : 0, agent_id: q.agentId ?? null, departments: deptParam(q.departments) };
      return {
        rows: grantsStmt.all({ ...p, limit: q.limit, offset: q.offset }) as UnlockRow[],
        total: (grantsCount.get(p) as { n: number }).n,
      };
    },
    dueToExpire: (atIso, limit) => dueExpire.all(atIso, limit) as UnlockRow[],
    dueToLapse: (cutoffIso, limit) => dueLapse.all(cutoffIso, limit) as UnlockRow[],
    markEvent: (agentId, seq) => mark.run(agentId, seq).changes === 1,
    unappliedEvents: (types, afterId, limit) => unapplied.all(JSON.stringify(types), afterId, limit) as EventRow[],
  };
}

// ---------------------------------------------------------------------------------------------
// Offline codes
// ---------------------------------------------------------------------------------------------

export interface OfflineCodeRow {
  id: string;
  agent_id: string;
  challenge: string;
  minutes: number;
  device: string | null;
  reason: string;
  issued_by: string;
  issued_at: string;
  used_at: string | null;
}

export interface OfflineUseRow {
  id: number;
  agent_id: string;
  code_id: string | null;
  challenge: string;
  minutes: number;
  grant_id: string;
  device: string;
  used_at: string;
  received_at: string;
  flag: 'unknown_code' | 'reused' | null;
  relocked_at: string | null;
  end_reason: string | null;
}

export interface OfflineCodesRepo {
  insert(c: Omit<OfflineCodeRow, 'used_at'>): void;
  get(id: string): OfflineCodeRow | undefined;
  /** Codes issued for this seat and challenge, oldest first. */
  find(agentId: string, challenge: string): OfflineCodeRow[];
  /** Sets used_at unless already set; true when this was the first use. */
  markUsed(id: string, at: string): boolean;
  insertUse(u: Omit<OfflineUseRow, 'id' | 'relocked_at' | 'end_reason'>): number;
  /** How many uses a seat already reported for this challenge. */
  usesOfChallenge(agentId: string, challenge: string): number;
  /** The latest not-yet-relocked use of an agent-local grant id. */
  openUseByGrant(agentId: string, grantId: string): OfflineUseRow | undefined;
  markUseRelocked(id: number, at: string, reason: string): boolean;
  uses(codeId: string): OfflineUseRow[];
  list(q: { agentId?: string; departments?: readonly string[] | '*'; limit: number; offset: number }): { rows: OfflineCodeRow[]; total: number };
  /** Uses flagged as suspicious (unknown code, re-use), newest first. */
  flaggedUses(limit: number): OfflineUseRow[];
}

/** Offline codes aggregate: codes handed out and every use a seat reported. */
export function createOfflineCodesRepo(db: Db): OfflineCodesRepo {
  const insertStmt = db.prepare(`INSERT INTO offline_codes (id, agent_id, challenge, minutes, device, reason, issued_by, issued_at)
    VALUES (@id, @agent_id, @challenge, @minutes, @device, @reason, @issued_by, @issued_at)`);
  const getStmt = db.prepare('SELECT * FROM offline_codes WHERE id = ?');
  const findStmt = db.prepare('SELECT * FROM offline_codes WHERE agent_id = ? AND challenge = ? ORDER BY issued_at, id');
  const used = db.prepare('UPDATE offline_codes SET used_at = ? WHERE id = ? AND used_at IS NULL');
  const insertUseStmt = db.prepare(`INSERT INTO offline_code_uses
    (agent_id, code_id, challenge, minutes, grant_id, device, used_at, received_at, flag)
    VALUES (@agent_id, @code_id, @challenge, @minutes, @grant_id, @device, @used_at, @received_at, @flag)`);
  const openUse = db.prepare(
    'SELECT * FROM offline_code_uses WHERE agent_id = ? AND grant_id = ? AND relocked_at IS NULL ORDER BY id DESC LIMIT 1',
  );
  const relockUse = db.prepare('UPDATE offline_code_uses SET relocked_at = ?, end_reason = ? WHERE id = ? AND relocked_at IS NULL');
  const usesStmt = db.prepare('SELECT * FROM offline_code_uses WHERE code_id = ? ORDER BY id');
  const challengeUses = db.prepare('SELECT count(*) AS n FROM offline_code_uses WHERE agent_id = ? AND challenge = ?');
  const where = `WHERE (@agent_id IS NULL OR agent_id = @agent_id) AND (@departments IS NULL OR agent_id IN
    (SELECT agent_id FROM agents WHERE department IN (SELECT value FROM json_each(@departments))))`;
  const listStmt = db.prepare(`SELECT * FROM offline_codes ${where} ORDER BY issued_at DESC, id DESC LIMIT @limit OFFSET @offset`);
  const countStmt = db.prepare(`SELECT count(*) AS n FROM offline_codes ${where}`);
  const flagged = db.prepare('SELECT * FROM offline_code_uses WHERE flag IS NOT NULL ORDER BY id DESC LIMIT ?');

  return {
    insert: (c) => void insertStmt.run(c),
    get: (id) => getStmt.get(id) as OfflineCodeRow | undefined,
    find: (agentId, challenge) => findStmt.all(agentId, challenge) as OfflineCodeRow[],
    markUsed: (id, at) => used.run(at, id).changes === 1,
    insertUse: (u) => Number(insertUseStmt.run(u).lastInsertRowid),
    usesOfChallenge: (agentId, challenge) => (challengeUses.get(agentId, challenge) as { n: number }).n,
    openUseByGrant: (agentId, grantId) => openUse.get(agentId, grantId) as OfflineUseRow | undefined,
    markUseRelocked: (id, at, reason) => relockUse.run(at, reason, id).changes === 1,
    uses: (codeId) => usesStmt.all(codeId) as OfflineUseRow[],
    list(q) {
      const p = { agent_id: q.agentId ?? null, departments: q.departments === undefined || q.departments === '*' ? null : JSON.stringify(q.departments) };
      return {
        rows: listStmt.all({ ...p, limit: q.limit, offset: q.offset }) as OfflineCodeRow[],
        total: (countStmt.get(p) as { n: number }).n,
      };
    },
    flaggedUses: (limit) => flagged.all(limit) as OfflineUseRow[],
  };
}
