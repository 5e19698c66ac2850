import type { Db } from './db.js';

/** A user account row. `roles` and `departments` are JSON text (see migration 003). */
export interface UserRow {
  id: string;
  username: string;
  display_name: string;
  password_hash: string | null;
  roles: string;
  departments: string;
  disabled: 0 | 1;
  builtin: 0 | 1;
  created_at: string;
  password_changed_at: string | null;
}

export interface SessionRow {
  id_hash: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  revoked_at: string | null;
}

export interface UsersRepo {
  /** Throws (SQLITE_CONSTRAINT_UNIQUE) when the user name is taken, case-insensitively. */
  insert(row: Omit<UserRow, 'disabled' | 'builtin'>): void;
  get(id: string): UserRow | undefined;
  /** Case-insensitive lookup. */
  getByUsername(username: string): UserRow | undefined;
  list(): UserRow[];
  setDisabled(id: string, disabled: boolean): boolean;

  insertSession(row: Omit<SessionRow, 'revoked_at'>): void;
  getSession(idHash: string): SessionRow | undefined;
  touchSession(idHash: string, at: string): void;
  revokeSession(idHash: string, at: string): boolean;
  revokeUserSessions(userId: string, at: string): number;
  /** Deletes sessions that ended (revoked or expired) before `before` (ISO). */
  purgeSessions(before: string): number;

  /** Stores a new API token (sha256 only) owned by `userId`; returns its id. */
  insertApiToken(tokenHash: string, name: string, userId: string, at: string): number;
  /** The active token with this hash and its owner (disabled owners included; the caller checks). */
  findApiToken(tokenHash: string): { token_id: number; user_id: string } | undefined;
  revokeUserApiTokens(userId: string, at: string): number;
}

/** Users, their sessions and the ownership of API tokens. */
export function createUsersRepo(db: Db): UsersRepo {
  const insertStmt = db.prepare(`INSERT INTO users (id, username, display_name, password_hash, roles, departments, created_at, password_changed_at)
    VALUES (@id, @username, @display_name, @password_hash, @roles, @departments, @created_at, @password_changed_at)`);
  const getStmt = db.prepare('SELECT * FROM users WHERE id = ?');
  const byName = db.prepare('SELECT * FROM users WHERE username = ? COLLATE NOCASE');
  const listStmt = db.prepare('SELECT * FROM users ORDER BY username COLLATE NOCASE');
  const disableStmt = db.prepare('UPDATE users SET disabled = ? WHERE id = ?');

  const insSession = db.prepare(`INSERT INTO user_sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip)
    VALUES (@id_hash, @user_id, @created_at, @last_seen_at, @expires_at, @ip)`);
  const getSession = db.prepare('SELECT * FROM user_sessions WHERE id_hash = ?');
  const touch = db.prepare('UPDATE user_sessions SET last_seen_at = ? WHERE id_hash = ?');
  const revoke = db.prepare('UPDATE user_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL');
  const revokeAll = db.prepare('UPDATE user_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL');
  const purge = db.prepare('DELETE FROM user_sessions WHERE expires_at < @before OR (revoked_at IS NOT NULL AND revoked_at < @before)');

  const insToken = db.prepare('INSERT INTO api_tokens (token_hash, name, created_at, user_id) VALUES (?, ?, ?, ?)');
  const findToken = db.prepare('SELECT id AS token_id, user_id FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL');
  const revokeTokens = db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL');

  return {
    insert: (row) => void insertStmt.run(row),
    get: (id) => getStmt.get(id) as UserRow | undefined,
    getByUsername: (u) => byName.get(u) as UserRow | undefined,
    list: () => listStmt.all() as UserRow[],
    setDisabled: (id, d) => disableStmt.run(d ? 1 : 0, id).changes === 1,

    insertSession: (row) => void insSession.run(row),
    getSession: (h) => getSession.get(h) as SessionRow | undefined,
    touchSession: (h, at) => void touch.run(at, h),
    revokeSession: (h, at) => revoke.run(at, h).changes === 1,
    revokeUserSessions: (userId, at) => revokeAll.run(at, userId).changes,
    purgeSessions: (before) => purge.run({ before }).changes,

    insertApiToken: (h, name, userId, at) => Number(insToken.run(h, name, at, userId).lastInsertRowid),
    findApiToken: (h) => findToken.get(h) as { token_id: number; user_id: string } | undefined,
    revokeUserApiTokens: (userId, at) => revokeTokens.run(at, userId).changes,
  };
}
