import type { Db } from './db.js';

export interface ApiTokenRow {
  id: number;
  token_hash: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ApiTokensRepo {
  insert(tokenHash: string, name: string, at: string): number;
  /** The active (not revoked) token with this hash. */
  findActive(tokenHash: string): ApiTokenRow | undefined;
  countActive(): number;
  touch(id: number, at: string): void;
}

/** API tokens aggregate (sha256 hashes only). User accounts and sessions come later. */
export function createApiTokensRepo(db: Db): ApiTokensRepo {
  const insertStmt = db.prepare('INSERT INTO api_tokens (token_hash, name, created_at) VALUES (?, ?, ?)');
  const find = db.prepare('SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL');
  const count = db.prepare('SELECT count(*) AS n FROM api_tokens WHERE revoked_at IS NULL');
  const touchStmt = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  return {
    insert: (h, name, at) => Number(insertStmt.run(h, name, at).lastInsertRowid),
    findActive: (h) => find.get(h) as ApiTokenRow | undefined,
    countActive: () => (count.get() as { n: number }).n,
    touch: (id, at) => void touchStmt.run(at, id),
  };
}
