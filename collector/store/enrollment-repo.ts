import type { Db } from './db.js';

export interface EnrollmentTokenRow {
  token_hash: string;
  created_at: string;
  expires_at: string;
  department: string | null;
  seat_pattern: string | null;
  used_at: string | null;
  used_by: string | null;
}

export interface EnrollmentRepo {
  insert(row: Omit<EnrollmentTokenRow, 'used_at' | 'used_by'>): void;
  get(tokenHash: string): EnrollmentTokenRow | undefined;
  /**
   * Marks the token used by `agentId` if it is unused and not expired at `now` (ISO).
   * Call inside the transaction that inserts the agent; false when the token was not usable.
   */
  consume(tokenHash: string, agentId: string, now: string): boolean;
}

/** Enrollment tokens aggregate. Only sha256 hashes are stored; the plaintext is shown once. */
export function createEnrollmentRepo(db: Db): EnrollmentRepo {
  const insertStmt = db.prepare(`INSERT INTO enrollment_tokens (token_hash, created_at, expires_at, department, seat_pattern)
    VALUES (@token_hash, @created_at, @expires_at, @department, @seat_pattern)`);
  const getStmt = db.prepare('SELECT * FROM enrollment_tokens WHERE token_hash = ?');
  const consumeStmt = db.prepare(`UPDATE enrollment_tokens SET used_at = @now, used_by = @agent_id
    WHERE token_hash = @token_hash AND used_at IS NULL AND expires_at > @now`);
  return {
    insert: (row) => void insertStmt.run(row),
    get: (h) => getStmt.get(h) as EnrollmentTokenRow | undefined,
    consume: (h, agentId, now) => consumeStmt.run({ token_hash: h, agent_id: agentId, now }).changes === 1,
  };
}
