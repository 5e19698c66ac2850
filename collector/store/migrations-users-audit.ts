import type { Migration } from './migrations.js';

/** Id of the built-in account that owns API tokens created without a user (the bootstrap token). */
export const SERVICE_USER_ID = 'usr_service';

/**
 * Users, sessions, token ownership and the tamper-evident audit trail (collector/users,
 * collector/audit). Requires 001 (api_tokens, events). See docs/security-model.md.
 */
const M003_USERS_AUDIT = `
CREATE TABLE users (
  id                  TEXT PRIMARY KEY,
  -- ASCII only (checked by the service), so NOCASE is a complete case fold.
  username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
  display_name        TEXT NOT NULL,
  -- 'scrypt$N=…,r=…,p=…$salt$hash'; NULL = cannot log in (the built-in service account).
  password_hash       TEXT,
  roles               TEXT NOT NULL CHECK (json_valid(roles) AND json_type(roles) = 'array'),
  -- JSON array of department names, or the JSON string "*" for all departments.
  departments         TEXT NOT NULL CHECK (json_valid(departments) AND (json_type(departments) = 'array' OR departments = '"*"')),
  disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  builtin             INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
  created_at          TEXT NOT NULL,
  password_changed_at TEXT
) STRICT;

-- Read-only everything (officer): what the bootstrap API token of the first start acts as.
INSERT INTO users (id, username, display_name, password_hash, roles, departments, builtin, created_at)
VALUES ('${SERVICE_USER_ID}', 'service', 'Built-in service account (API tokens)', NULL, '["officer"]', '"*"', 1,
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

CREATE TABLE user_sessions (
  -- sha256 of the session token; the token itself is only in the browser cookie / CLI.
  id_hash      TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id),
  created_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  ip           TEXT,
  revoked_at   TEXT
) STRICT;
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

-- Every API token acts as a user; tokens made before accounts existed belong to the service user.
-- (ALTER TABLE cannot add a REFERENCES column with a non-NULL default; the service checks it.)
ALTER TABLE api_tokens ADD COLUMN user_id TEXT NOT NULL DEFAULT '${SERVICE_USER_ID}';

CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  ts          TEXT NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id   TEXT NOT NULL,
  case_id     TEXT,
  detail      TEXT NOT NULL CHECK (json_valid(detail)),
  -- UNIQUE prev_hash: two writers that read the same head cannot both append (no forked chain).
  prev_hash   TEXT NOT NULL UNIQUE,
  hash        TEXT NOT NULL UNIQUE
) STRICT;
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, id);
CREATE INDEX audit_log_case ON audit_log (case_id, id) WHERE case_id IS NOT NULL;
CREATE INDEX audit_log_ts ON audit_log (ts);

-- SECURITY: the audit trail is append-only; verify() detects edits made around these triggers.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE audit_checkpoints (
  id            INTEGER PRIMARY KEY,
  last_audit_id INTEGER NOT NULL,
  last_hash     TEXT NOT NULL,
  ts            TEXT NOT NULL,
  -- base64 SPKI of the Ed25519 key that signed; verify only trusts keys it was given.
  public_key    TEXT NOT NULL,
  signature     TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END;
`;

/** Migration 003: appended to MIGRATIONS in migrations.ts. */
export const USERS_AUDIT_MIGRATION: Migration = Object.freeze({ version: 3, name: '003-users-audit', sql: M003_USERS_AUDIT });
