import type { Db } from './db.js';

/** One stored USB policy version. */
export interface PolicyRow {
  version: number;
  rules: string;
  sha256: string;
  created_by: string;
  created_at: string;
  comment: string;
}

/** The latest policy.applied report of a seat. */
export interface PolicyStatusRow {
  agent_id: string;
  version: number;
  sha256: string;
  ok: 0 | 1;
  detail: string;
  reported_at: string;
}

/** How far a policy version has reached the enrolled (not revoked) seats. */
export interface PolicyRollout {
  /** Seats that reported applying exactly this version and hash. */
  applied: number;
  /** Seats whose latest report for this version says it failed. */
  failed: number;
  /** Seats with no report for this version yet. */
  pending: number;
}

export interface PolicyRepo {
  latest(): PolicyRow | undefined;
  get(version: number): PolicyRow | undefined;
  /** Newest first. */
  list(q: { limit: number; offset: number }): { rows: PolicyRow[]; total: number };
  /** Appends the next version (max + 1) and returns it. Call inside a transaction. */
  append(p: Omit<PolicyRow, 'version'>): number;
  recordStatus(s: PolicyStatusRow): void;
  rollout(version: number, sha256: string): PolicyRollout;
}

/** Policy aggregate: the append-only version history and the seats' apply reports. */
export function createPolicyRepo(db: Db): PolicyRepo {
  const latestStmt = db.prepare('SELECT * FROM policies ORDER BY version DESC LIMIT 1');
  const getStmt = db.prepare('SELECT * FROM policies WHERE version = ?');
  const listStmt = db.prepare('SELECT * FROM policies ORDER BY version DESC LIMIT ? OFFSET ?');
  const countStmt = db.prepare('SELECT count(*) AS n FROM policies');
  const appendStmt = db.prepare(`INSERT INTO policies (version, rules, sha256, created_by, created_at, comment)
    SELECT coalesce(max(version), 0) + 1, @rules, @sha256, @created_by, @created_at, @comment FROM policies
    RETURNING version`);
  const statusStmt = db.prepare(`INSERT INTO policy_status (agent_id, version, sha256, ok, detail, reported_at)
    VALUES (@agent_id, @version, @sha256, @ok, @detail, @reported_at)
    ON CONFLICT (agent_id) DO UPDATE SET version = excluded.version, sha256 = excluded.sha256, ok = excluded.ok,
      detail = excluded.detail, reported_at = excluded.reported_at`);
  const rolloutStmt = db.prepare(`SELECT
      count(*) FILTER (WHERE s.version = @version AND s.sha256 = @sha256 AND s.ok = 1) AS applied,
      count(*) FILTER (WHERE s.version = @version AND s.ok = 0) AS failed,
      count(*) AS seats
    FROM agents a LEFT JOIN policy_status s ON s.agent_id = a.agent_id
    WHERE a.revoked_at IS NULL`);

  return {
    latest: () => latestStmt.get() as PolicyRow | undefined,
    get: (version) => getStmt.get(version) as PolicyRow | undefined,
    list: (q) => ({ rows: listStmt.all(q.limit, q.offset) as PolicyRow[], total: (countStmt.get() as { n: number }).n }),
    append: (p) => (appendStmt.get(p) as { version: number }).version,
    recordStatus: (s) => void statusStmt.run(s),
    rollout(version, sha256) {
      const r = rolloutStmt.get({ version, sha256 }) as { applied: number; failed: number; seats: number };
      return { applied: r.applied, failed: r.failed, pending: r.seats - r.applied - r.failed };
    },
  };
}
