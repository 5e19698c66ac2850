import { SEAT_CODE_COLUMN, seatCodeOf, type SeatCode } from './code-drift.js';
import type { Db } from './db.js';

export type LockStateValue = 'locked' | 'degraded' | 'unknown';

/** One enrolled agent (a seat) as stored; never carries a secret besides the public key. */
export interface AgentRow {
  agent_id: string;
  seat_name: string;
  hostname: string;
  platform: string;
  department: string | null;
  public_key: string;
  agent_version: string | null;
  enrolled_at: string;
  revoked_at: string | null;
  online: number;
  last_seen: string | null;
  lock_state: LockStateValue;
  outbox_depth: number | null;
  last_seq: number;
}

/** Admin (setup) password state from the seat's latest firmware.state event. */
export type BiosPasswordState = 'set' | 'not_set' | 'not_implemented' | 'unknown';
/** violation: a software/process denial recently; compliant: an inventory and no recent denial. */
export type SoftwareCompliance = 'compliant' | 'violation';

/** A seat with its compliance columns; null = the seat never reported that sensor. */
export interface SeatRow extends AgentRow {
  bios_password: BiosPasswordState | null;
  software_compliance: SoftwareCompliance | null;
  /** The seat's latest agent.started code report (code-drift.ts); null = none yet. */
  code: SeatCode | null;
}

export interface NewAgent {
  agent_id: string;
  seat_name: string;
  hostname: string;
  platform: string;
  department: string | null;
  public_key: string;
  enrolled_at: string;
}

export interface SeatListQuery {
  q?: string;
  limit: number;
  offset: number;
  /** Only seats of these departments; undefined = every seat. */
  departments?: readonly string[];
}

export interface AgentsRepo {
  insert(a: NewAgent): void;
  get(agentId: string): AgentRow | undefined;
  list(query: SeatListQuery): { rows: AgentRow[]; total: number };
  /** Like list() plus compliance; a denial received at or after `denialsSince` (ISO) is a violation. */
  listSeats(query: SeatListQuery, denialsSince: string): { rows: SeatRow[]; total: number };
  /** Like get() plus compliance (see listSeats). */
  getSeat(agentId: string, denialsSince: string): SeatRow | undefined;
  markOnline(agentId: string, at: string, info: { hostname: string; agent_version: string }): void;
  markOffline(agentId: string, at: string): void;
  /** Marks every agent offline: called at start, since no socket survives a restart. */
  resetOnline(): void;
  heartbeat(agentId: string, at: string, lockState: LockStateValue, outboxDepth: number): void;
  /** Raises last_seq to `seq` (never lowers it) and bumps last_seen. */
  advanceSeq(agentId: string, seq: number, at: string): void;
  revoke(agentId: string, at: string): boolean;
  countOnline(): number;
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

const BIOS_STATES: ReadonlySet<string> = new Set(['set', 'not_set', 'not_implemented', 'unknown']);

/** Latest event of one type for the outer seat `a`: one seek on events (agent_id, type, seq). */
const latest = (col: string, type: string) =>
  `(SELECT ${col} FROM events e WHERE e.agent_id = a.agent_id AND e.type = '${type}' ORDER BY e.seq DESC LIMIT 1)`;

// Correlated subqueries, each a bounded index seek per listed seat, so a page costs the same at
// 10M events as at 10. Ingest is in seq order per seat, so the newest denial by seq carries the
// newest received_at; received_at (collector clock) is used because the seat's clock is not trusted.
/** The seat list's compliance columns over `agents a`; takes the named parameter @since. */
export const SEAT_COMPLIANCE_COLUMNS = `
  ${latest("json_extract(e.body, '$.admin_password.state')", 'firmware.state')} AS bios_password,
  CASE
    WHEN coalesce(${latest('e.received_at', 'software.denied')} >= @since, 0)
      OR coalesce(${latest('e.received_at', 'process.denied')} >= @since, 0) THEN 'violation'
    WHEN EXISTS (SELECT 1 FROM events e WHERE e.agent_id = a.agent_id AND e.type = 'software.inventory') THEN 'compliant'
    ELSE NULL
  END AS software_compliance`;

type RawSeat = Omit<SeatRow, 'bios_password' | 'software_compliance' | 'code'> & { bios_password: unknown; software_compliance: unknown; code_info: unknown };

/** The stored body was schema-checked at ingest; anything else still reads as 'unknown', never as 'set'. */
function toSeat({ code_info, ...r }: RawSeat): SeatRow {
  const bios = r.bios_password === null ? null : typeof r.bios_password === 'string' && BIOS_STATES.has(r.bios_password) ? (r.bios_password as BiosPasswordState) : 'unknown';
  const sw = r.software_compliance === 'violation' || r.software_compliance === 'compliant' ? r.software_compliance : null;
  return { ...r, bios_password: bios, software_compliance: sw, code: seatCodeOf(code_info) };
}

/** Seats aggregate: enrollment identity, liveness and reported lock state. */
export function createAgentsRepo(db: Db): AgentsRepo {
  const insertStmt = db.prepare(`INSERT INTO agents
    (agent_id, seat_name, hostname, platform, department, public_key, enrolled_at)
    VALUES (@agent_id, @seat_name, @hostname, @platform, @department, @public_key, @enrolled_at)`);
  const getStmt = db.prepare('SELECT * FROM agents WHERE agent_id = ?');
  const listAll = db.prepare('SELECT * FROM agents ORDER BY seat_name, agent_id LIMIT ? OFFSET ?');
  const countAll = db.prepare('SELECT count(*) AS n FROM agents');
  const filter = `WHERE seat_name LIKE @p ESCAPE '\\' OR hostname LIKE @p ESCAPE '\\'
    OR agent_id LIKE @p ESCAPE '\\' OR department LIKE @p ESCAPE '\\'`;
  const listQ = db.prepare(`SELECT * FROM agents ${filter} ORDER BY seat_name, agent_id LIMIT @limit OFFSET @offset`);
  const countQ = db.prepare(`SELECT count(*) AS n FROM agents ${filter}`);
  const online = db.prepare('UPDATE agents SET online = 1, last_seen = ?, hostname = ?, agent_version = ? WHERE agent_id = ?');
  const offline = db.prepare('UPDATE agents SET online = 0, last_seen = ? WHERE agent_id = ?');
  const reset = db.prepare('UPDATE agents SET online = 0 WHERE online = 1');
  const hb = db.prepare('UPDATE agents SET last_seen = ?, lock_state = ?, outbox_depth = ? WHERE agent_id = ?');
  const seq = db.prepare('UPDATE agents SET last_seq = max(last_seq, ?), last_seen = ? WHERE agent_id = ?');
  const revokeStmt = db.prepare('UPDATE agents SET revoked_at = ?, online = 0 WHERE agent_id = ? AND revoked_at IS NULL');
  const seatGet = db.prepare(`SELECT a.*, ${SEAT_COMPLIANCE_COLUMNS}, ${SEAT_CODE_COLUMN} FROM agents a WHERE a.agent_id = @id`);
  // The page is cut first, so the compliance lookups run for the page's rows only, not for every
  // row the sorter passes over on the way to OFFSET.
  const seatPage = (where: string) => db.prepare(`SELECT a.*, ${SEAT_COMPLIANCE_COLUMNS}, ${SEAT_CODE_COLUMN}
    FROM (SELECT * FROM agents ${where} ORDER BY seat_name, agent_id LIMIT @limit OFFSET @offset) a
    ORDER BY a.seat_name, a.agent_id`);
  const seatListAll = seatPage('');
  const seatListQ = seatPage(filter);
  // Department scope (a user limited to some departments sees only their seats).
  const inScope = 'department IN (SELECT value FROM json_each(@deps))';
  const filterCond = filter.replace(/^WHERE /, '');
  const seatListScoped = seatPage(`WHERE ${inScope}`);
  const seatListQScoped = seatPage(`WHERE (${filterCond}) AND ${inScope}`);
  const countScoped = db.prepare(`SELECT count(*) AS n FROM agents WHERE ${inScope}`);
  const countQScoped = db.prepare(`SELECT count(*) AS n FROM agents WHERE (${filterCond}) AND ${inScope}`);
  const countOnlineStmt = db.prepare('SELECT count(*) AS n FROM agents WHERE online = 1');

  return {
    insert: (a) => void insertStmt.run(a),
    get: (id) => getStmt.get(id) as AgentRow | undefined,
    list: ({ q, limit, offset }) => {
      if (q === undefined || q === '') {
        return { rows: listAll.all(limit, offset) as AgentRow[], total: (countAll.get() as { n: number }).n };
      }
      const p = likePattern(q);
      return {
        rows: listQ.all({ p, limit, offset }) as AgentRow[],
        total: (countQ.get({ p }) as { n: number }).n,
      };
    },
    listSeats: ({ q, limit, offset, departments }, since) => {
      if (departments !== undefined) {
        const deps = JSON.stringify(departments);
        if (q === undefined || q === '') {
          const rows = seatListScoped.all({ since, limit, offset, deps }) as RawSeat[];
          return { rows: rows.map(toSeat), total: (countScoped.get({ deps }) as { n: number }).n };
        }
        const p = likePattern(q);
        const rows = seatListQScoped.all({ p, since, limit, offset, deps }) as RawSeat[];
        return { rows: rows.map(toSeat), total: (countQScoped.get({ p, deps }) as { n: number }).n };
      }
      if (q === undefined || q === '') {
        const rows = seatListAll.all({ since, limit, offset }) as RawSeat[];
        return { rows: rows.map(toSeat), total: (countAll.get() as { n: number }).n };
      }
      const p = likePattern(q);
      const rows = seatListQ.all({ p, since, limit, offset }) as RawSeat[];
      return { rows: rows.map(toSeat), total: (countQ.get({ p }) as { n: number }).n };
    },
    getSeat: (id, since) => {
      const r = seatGet.get({ id, since }) as RawSeat | undefined;
      return r ? toSeat(r) : undefined;
    },
    markOnline: (id, at, info) => void online.run(at, info.hostname, info.agent_version, id),
    markOffline: (id, at) => void offline.run(at, id),
    resetOnline: () => void reset.run(),
    heartbeat: (id, at, state, depth) => void hb.run(at, state, depth, id),
    advanceSeq: (id, s, at) => void seq.run(s, at, id),
    revoke: (id, at) => revokeStmt.run(at, id).changes === 1,
    countOnline: () => (countOnlineStmt.get() as { n: number }).n,
  };
}
