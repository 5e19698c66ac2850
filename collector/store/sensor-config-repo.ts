import type { Db } from './db.js';

/** Which seats a stored sensor configuration applies to. */
export type SensorScopeKind = 'default' | 'department' | 'agent';

/** One saved sensor configuration (table sensor_configs of migrations-sensors.ts). */
export interface SensorConfigRow {
  /** Global, increasing: the `version` the agents are sent. */
  id: number;
  scope_kind: SensorScopeKind;
  /** '' for default, else the department name or the agent id. */
  scope_key: string;
  /** 1, 2, 3, … within the scope. */
  revision: number;
  /** JSON of the configuration without `version`; null when the override was cleared. */
  config: string | null;
  created_by: string;
  created_at: string;
  comment: string;
}

export interface NewSensorConfigRow {
  scopeKind: SensorScopeKind;
  scopeKey: string;
  config: string | null;
  createdBy: string;
  createdAt: string;
  comment: string;
}

export interface SeatScopeInfo {
  agent_id: string;
  department: string | null;
}

/** The sensor configuration aggregate: append-only history per scope, plus the seat lookups it needs. */
export interface SensorConfigRepo {
  /** Appends the next revision of the scope; call inside the caller's transaction. */
  append(row: NewSensorConfigRow): { id: number; revision: number };
  /** The newest row of a scope (a cleared override is a row with config null). */
  latest(kind: SensorScopeKind, key: string): SensorConfigRow | undefined;
  /** A scope's rows, newest first. */
  history(kind: SensorScopeKind, key: string, page: { limit: number; offset: number }): { rows: SensorConfigRow[]; total: number };
  /** The newest row of every scope that has one, default first, then departments, then seats. */
  currentAll(): SensorConfigRow[];
  /** Department of an enrolled, not revoked seat; undefined when there is no such seat. */
  seat(agentId: string): SeatScopeInfo | undefined;
  /** Seats marked online (not revoked), optionally only those of one department or one agent id. */
  onlineSeats(filter?: { department?: string; agentId?: string }): SeatScopeInfo[];
}

/** Prepares the statements once. */
export function createSensorConfigRepo(db: Db): SensorConfigRepo {
  const nextRevision = db.prepare(
    'SELECT coalesce(max(revision), 0) + 1 AS r FROM sensor_configs WHERE scope_kind = ? AND scope_key = ?',
  );
  const insert = db.prepare(`INSERT INTO sensor_configs (scope_kind, scope_key, revision, config, created_by, created_at, comment)
    VALUES (@scopeKind, @scopeKey, @revision, @config, @createdBy, @createdAt, @comment)`);
  const latestStmt = db.prepare('SELECT * FROM sensor_configs WHERE scope_kind = ? AND scope_key = ? ORDER BY revision DESC LIMIT 1');
  const historyStmt = db.prepare(
    'SELECT * FROM sensor_configs WHERE scope_kind = ? AND scope_key = ? ORDER BY revision DESC LIMIT ? OFFSET ?',
  );
  const countStmt = db.prepare('SELECT count(*) AS n FROM sensor_configs WHERE scope_kind = ? AND scope_key = ?');
  const currentAllStmt = db.prepare(`SELECT s.* FROM sensor_configs s
    JOIN (SELECT scope_kind, scope_key, max(revision) AS revision FROM sensor_configs GROUP BY scope_kind, scope_key) m
      USING (scope_kind, scope_key, revision)
    ORDER BY CASE s.scope_kind WHEN 'default' THEN 0 WHEN 'department' THEN 1 ELSE 2 END, s.scope_key`);
  const seatStmt = db.prepare('SELECT agent_id, department FROM agents WHERE agent_id = ? AND revoked_at IS NULL');
  const onlineAll = db.prepare('SELECT agent_id, department FROM agents WHERE online = 1 AND revoked_at IS NULL ORDER BY agent_id');
  const onlineDept = db.prepare(
    'SELECT agent_id, department FROM agents WHERE online = 1 AND revoked_at IS NULL AND department = ? ORDER BY agent_id',
  );
  const onlineOne = db.prepare('SELECT agent_id, department FROM agents WHERE online = 1 AND revoked_at IS NULL AND agent_id = ?');

  return {
    append(row) {
      const revision = (nextRevision.get(row.scopeKind, row.scopeKey) as { r: number }).r;
      const info = insert.run({ ...row, revision });
      return { id: Number(info.lastInsertRowid), revision };
    },
    latest: (kind, key) => latestStmt.get(kind, key) as SensorConfigRow | undefined,
    history(kind, key, page) {
      const rows = historyStmt.all(kind, key, page.limit, page.offset) as SensorConfigRow[];
      const total = (countStmt.get(kind, key) as { n: number }).n;
      return { rows, total };
    },
    currentAll: () => currentAllStmt.all() as SensorConfigRow[],
    seat: (agentId) => seatStmt.get(agentId) as SeatScopeInfo | undefined,
    onlineSeats(filter = {}) {
      if (filter.agentId !== undefined) return onlineOne.all(filter.agentId) as SeatScopeInfo[];
      if (filter.department !== undefined) return onlineDept.all(filter.department) as SeatScopeInfo[];
      return onlineAll.all() as SeatScopeInfo[];
    },
  };
}
