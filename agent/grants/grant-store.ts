import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Static } from 'typebox';
import { AppError, formatError } from '../../shared/errors.js';
import { generatedCheck } from '../generated-checks.js';
import type { GrantRow } from './grant-store-schema.js';
import type { GrantEndReason, StoredGrant } from './grant.js';

/**
 * The grant table of one seat, in its own SQLite file (STATE/grants.db, 0600). Active grants are
 * kept with their monotonic deadline and boot id so a restart can tell what is still valid. Ended
 * grants leave a tombstone until well after their expiry, so a late `unlock.granted` or a
 * `grants.sync` that crossed the `grant.ended` event cannot bring them back.
 */
export interface GrantStore {
  active(): StoredGrant[];
  /** Inserts or replaces an active grant (fsync'd before returning). */
  put(grant: StoredGrant): void;
  /** Moves a grant to the tombstones (also records ids that were never active, e.g. an early revoke). */
  end(grantId: string, reason: GrantEndReason, nowWall: number, forgetAfterWall: number): void;
  isEnded(grantId: string): boolean;
  /** Deletes tombstones past their forget time; returns how many went. */
  prune(nowWall: number): number;
  close(): void;
}

/** File name of the grant table inside the state dir. */
export const GRANTS_FILE = 'grants.db';

// Rows are re-checked on read: the file may be damaged or edited while the agent is down.
const checkRow = generatedCheck<Static<typeof GrantRow>>('grant_row', 'grant row');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS grants (grant_id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS ended_grants (
  grant_id TEXT PRIMARY KEY, reason TEXT NOT NULL, ended_at INTEGER NOT NULL, forget_after INTEGER NOT NULL
) STRICT;
`;

/** Most tombstones kept; the oldest go first beyond this (a flood of revokes must not grow the file). */
const MAX_TOMBSTONES = 10_000;

/** Opens (creating if needed) the grant table at `path` (or ':memory:'). Throws GRANT_ERR_STORE. */
export function openGrantStore(path: string): GrantStore {
  let db: Database.Database;
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    // FULL: a grant that ended must stay ended across a power cut.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    if (path !== ':memory:') chmodSync(path, 0o600);
  } catch (err) {
    throw new AppError('GRANT_ERR_STORE', formatError('GRANT_ERR_STORE', path, err instanceof Error ? err.message : 'open failed'), { cause: err });
  }

  const selectAll = db.prepare<[], { grant_id: string; body: string }>('SELECT grant_id, body FROM grants ORDER BY grant_id');
  const upsert = db.prepare<[string, string]>('INSERT INTO grants (grant_id, body) VALUES (?, ?) ON CONFLICT(grant_id) DO UPDATE SET body = excluded.body');
  const del = db.prepare<[string]>('DELETE FROM grants WHERE grant_id = ?');
  const tomb = db.prepare<[string, string, number, number]>(
    'INSERT INTO ended_grants (grant_id, reason, ended_at, forget_after) VALUES (?, ?, ?, ?) ON CONFLICT(grant_id) DO NOTHING',
  );
  const ended = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM ended_grants WHERE grant_id = ?');
  const pruneOld = db.prepare<[number]>('DELETE FROM ended_grants WHERE forget_after < ?');
  const pruneExcess = db.prepare<[number]>(
    'DELETE FROM ended_grants WHERE grant_id IN (SELECT grant_id FROM ended_grants ORDER BY ended_at DESC LIMIT -1 OFFSET ?)',
  );
  const endTx = db.transaction((grantId: string, reason: string, at: number, forget: number) => {
    del.run(grantId);
    tomb.run(grantId, reason, at, forget);
  });

  function write<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new AppError('GRANT_ERR_STORE', formatError('GRANT_ERR_STORE', path, what), { cause: err });
    }
  }

  return {
    active() {
      const out: StoredGrant[] = [];
      for (const r of selectAll.all()) {
        let value: unknown;
        try {
          value = JSON.parse(r.body);
        } catch {
          value = null;
        }
        // SECURITY: a row that does not parse cannot be enforced correctly; dropping it can only
        // close a device, never open one.
        if (checkRow.check(value)) out.push(value);
        else write('drop damaged row', () => endTx(r.grant_id, 'expired', Date.now(), Date.now() + 8 * 86_400_000));
      }
      return out;
    },
    put(grant) {
      write('put', () => upsert.run(grant.grantId, JSON.stringify(grant)));
    },
    end(grantId, reason, nowWall, forgetAfterWall) {
      write('end', () => endTx(grantId, reason, Math.floor(nowWall), Math.floor(forgetAfterWall)));
    },
    isEnded(grantId) {
      return (ended.get(grantId)?.n ?? 0) > 0;
    },
    prune(nowWall) {
      return write('prune', () => pruneOld.run(Math.floor(nowWall)).changes + pruneExcess.run(MAX_TOMBSTONES).changes);
    },
    close() {
      if (db.open) db.close();
    },
  };
}
