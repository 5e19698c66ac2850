import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/**
 * Statements prepared on first use and kept, for read models whose queries vary with the caller's
 * scope and touch optional tables: preparing fails if a table is absent, so callers check
 * `hasTable` first and prepare only what they run.
 */
export function lazyStatements(db: Db): { stmt: (sql: string) => Statement<unknown[]>; hasTable: (name: string) => boolean } {
  const tableStmt = db.prepare("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = ?");
  const cache = new Map<string, Statement<unknown[]>>();
  return {
    hasTable: (name) => tableStmt.get(name) !== undefined,
    stmt(sql) {
      let s = cache.get(sql);
      if (!s) {
        s = db.prepare(sql);
        cache.set(sql, s);
      }
      return s;
    },
  };
}
