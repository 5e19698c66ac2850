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
}

export interface AgentsRepo {
  insert(a: NewAgent): void;
  get(agentId: string): AgentRow | undefined;
  list(query: SeatListQuery): { rows: AgentRow[]; total: number };
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
    markOnline: (id, at, info) => void online.run(at, info.hostname, info.agent_version, id),
    markOffline: (id, at) => void offline.run(at, id),
    resetOnline: () => void reset.run(),
    heartbeat: (id, at, state, depth) => void hb.run(at, state, depth, id),
    advanceSeq: (id, s, at) => void seq.run(s, at, id),
    revoke: (id, at) => revokeStmt.run(at, id).changes === 1,
    countOnline: () => (countOnlineStmt.get() as { n: number }).n,
  };
}
