import type { Db } from './db.js';

/**
 * Fleet code-hash drift, read-side only (docs/self-protection.md §3): every agent.started carries
 * `code_sha256`, the hash of the agent's code tree. Seats that run the same agent version should
 * run the same code; a seat whose latest hash differs from the one most seats of its version report
 * was patched, half-upgraded or built differently. Computed from the events at read time, so
 * ingest stays untouched and nothing needs a migration.
 */

/** What a seat's latest agent.started said about its code; null fields = an older agent sent none. */
export interface SeatCode {
  agent_version: string | null;
  sha256: string | null;
  /** Collector time the agent.started was received (the seat's clock is not trusted). */
  reported_at: string;
}

/** Per agent version: the hash most seats report, or null when two hashes tie for most. */
export interface VersionBaseline {
  sha256: string | null;
  /** Seats of this version that reported a hash. */
  seats: number;
  /** Distinct hashes among them. */
  variants: number;
}

export type CodeBaseline = ReadonlyMap<string, VersionBaseline>;

/**
 * One column over an outer `agents a`: the latest agent.started of that seat as
 * `[agent_version, code_sha256, received_at]` JSON, or NULL. One seek on events (agent_id, type, seq).
 */
export const SEAT_CODE_COLUMN = `(SELECT json_array(json_extract(e.body, '$.agent_version'), json_extract(e.body, '$.code_sha256'), e.received_at)
  FROM events e WHERE e.agent_id = a.agent_id AND e.type = 'agent.started' ORDER BY e.seq DESC LIMIT 1) AS code_info`;

const SHA256 = /^[0-9a-f]{64}$/;

/** Reads SEAT_CODE_COLUMN back; anything not shaped as written reads as "no report". */
export function seatCodeOf(raw: unknown): SeatCode | null {
  if (typeof raw !== 'string') return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!Array.isArray(v) || typeof v[2] !== 'string') return null;
  const [version, sha] = v as unknown[];
  return {
    agent_version: typeof version === 'string' ? version : null,
    sha256: typeof sha === 'string' && SHA256.test(sha) ? sha : null,
    reported_at: v[2],
  };
}

/**
 * true: the seat's hash differs from its version's majority; false: it matches; null: no hash
 * reported, no version, or no single majority for the version (compare those by hand).
 */
export function codeDrift(code: SeatCode | null, baseline: CodeBaseline): boolean | null {
  if (code === null || code.sha256 === null || code.agent_version === null) return null;
  const ref = baseline.get(code.agent_version)?.sha256 ?? null;
  return ref === null ? null : code.sha256 !== ref;
}

/** The majority hash per version from (version, sha256, seats) groups; a tie for the top leaves no reference. */
export function baselineOf(groups: ReadonlyArray<{ version: string; sha256: string; seats: number }>): CodeBaseline {
  const out = new Map<string, VersionBaseline & { top: number }>();
  for (const g of groups) {
    const cur = out.get(g.version) ?? { sha256: null, seats: 0, variants: 0, top: 0 };
    const sha256 = g.seats > cur.top ? g.sha256 : g.seats === cur.top ? null : cur.sha256;
    out.set(g.version, { sha256, seats: cur.seats + g.seats, variants: cur.variants + 1, top: Math.max(cur.top, g.seats) });
  }
  return new Map([...out].map(([v, { sha256, seats, variants }]) => [v, { sha256, seats, variants }]));
}

export interface CodeDriftRepo {
  /** The fleet baseline over every non-revoked seat's latest agent.started (all departments). */
  baseline(): CodeBaseline;
}

// MATERIALIZED: the latest-started lookup runs once per seat, not once per use of `body`.
// Revoked seats are retired hardware and do not vote; seats whose agent sends no hash do not either.
/** (version, sha256, seats) over every non-revoked seat's latest agent.started: one seek per seat. */
export const BASELINE_SQL = `WITH latest AS MATERIALIZED (
    SELECT (SELECT e.body FROM events e WHERE e.agent_id = a.agent_id AND e.type = 'agent.started' ORDER BY e.seq DESC LIMIT 1) AS body
    FROM agents a WHERE a.revoked_at IS NULL)
  SELECT json_extract(body, '$.agent_version') AS version, json_extract(body, '$.code_sha256') AS sha256, count(*) AS seats
  FROM latest
  WHERE body IS NOT NULL AND json_extract(body, '$.code_sha256') IS NOT NULL AND json_extract(body, '$.agent_version') IS NOT NULL
  GROUP BY version, sha256`;

export function createCodeDriftRepo(db: Db): CodeDriftRepo {
  const groups = db.prepare(BASELINE_SQL);
  // The baseline costs one seek per seat (about 60 ms at 5 000 seats), and the console asks on
  // every seat-list refresh. It can only change when an agent.started arrives (events are
  // append-only, so max(id) grows) or a seat is revoked; both are cheap to read, so the cache is exact.
  const stamp = db.prepare(`SELECT
      (SELECT max(id) FROM events WHERE type = 'agent.started') AS started,
      (SELECT count(*) FROM agents WHERE revoked_at IS NOT NULL) AS revoked`);
  let cached: { key: string; baseline: CodeBaseline } | null = null;
  return {
    baseline: () => {
      const s = stamp.get() as { started: number | null; revoked: number };
      const key = `${s.started ?? 0}:${s.revoked}`;
      if (cached?.key !== key) cached = { key, baseline: baselineOf(groups.all() as Array<{ version: string; sha256: string; seats: number }>) };
      return cached.baseline;
    },
  };
}
