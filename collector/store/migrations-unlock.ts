/**
 * Schema of the USB unlock workflow (collector/workflow): unlock requests (one row per case, with
 * its grant), the USB policy history, offline codes and their uses, what each seat reported
 * applying, and which agent events the workflow has processed. Requires migration 001 (agents).
 * Its version number is assigned where it is listed, in migrations.ts.
 */
export const UNLOCK_MIGRATION_SQL = `
-- One row per unlock case; the case id is the request id. Times are ISO-8601 UTC (collector clock).
CREATE TABLE unlock_requests (
  id                 TEXT PRIMARY KEY,
  agent_id           TEXT NOT NULL REFERENCES agents (agent_id),
  -- Agent-chosen id of an unlock.requested event: the request is created once per (agent, ref).
  request_ref        TEXT,
  source             TEXT NOT NULL CHECK (source IN ('api', 'agent')),
  department         TEXT,
  vendor_id          TEXT NOT NULL,
  product_id         TEXT NOT NULL,
  serial             TEXT,
  hash               TEXT,
  port               TEXT,
  device_key         TEXT NOT NULL,
  -- Full descriptor as reported by the seat (sanitized strings), for display only; NULL for API requests.
  device             TEXT CHECK (device IS NULL OR json_valid(device)),
  reason             TEXT NOT NULL,
  duration_ms        INTEGER NOT NULL CHECK (duration_ms > 0),
  requested_by       TEXT NOT NULL,
  requested_at       TEXT NOT NULL,
  os_user            TEXT,
  state              TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'active', 'rejected', 'cancelled', 'lapsed', 'ended')),
  approvals_required INTEGER NOT NULL CHECK (approvals_required IN (1, 2)),
  approvals          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(approvals)),
  closed_by          TEXT,
  closed_reason      TEXT,
  grant_id           TEXT UNIQUE,
  grant_executor     TEXT,
  grant_starts_at    TEXT,
  grant_expires_at   TEXT,
  allow_reinsert     INTEGER NOT NULL DEFAULT 0 CHECK (allow_reinsert IN (0, 1)),
  any_port           INTEGER NOT NULL DEFAULT 0 CHECK (any_port IN (0, 1)),
  end_reason         TEXT CHECK (end_reason IS NULL OR end_reason IN ('expired', 'removed', 'revoked', 'expired_offline', 'agent_restart_after_expiry')),
  ended_at           TEXT,
  -- What the seat reported: stored, applied (device authorized), and relocked (its grant.ended).
  grant_accepted_at  TEXT,
  grant_applied_at   TEXT,
  relocked_at        TEXT,
  agent_end_reason   TEXT,
  -- Optimistic concurrency: every write is UPDATE … WHERE version = <the version read>.
  version            INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
  updated_at         TEXT NOT NULL,
  UNIQUE (agent_id, request_ref),
  CHECK (state != 'active' OR (grant_id IS NOT NULL AND grant_expires_at IS NOT NULL))
) STRICT;
CREATE INDEX unlock_requests_state ON unlock_requests (state, requested_at);
CREATE INDEX unlock_requests_agent ON unlock_requests (agent_id, requested_at);
-- The expiry sweep and grants.sync read only active grants.
CREATE INDEX unlock_requests_active ON unlock_requests (agent_id, grant_expires_at) WHERE state = 'active';

-- USB policy versions (USBGuard rule language). Append-only: a change is a new version.
CREATE TABLE policies (
  version    INTEGER PRIMARY KEY CHECK (version >= 1),
  rules      TEXT NOT NULL,
  sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  comment    TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TRIGGER policies_no_update BEFORE UPDATE ON policies
BEGIN SELECT RAISE(ABORT, 'policies are append-only'); END;
CREATE TRIGGER policies_no_delete BEFORE DELETE ON policies
BEGIN SELECT RAISE(ABORT, 'policies are append-only'); END;

-- The latest policy.applied report of each seat.
CREATE TABLE policy_status (
  agent_id    TEXT PRIMARY KEY REFERENCES agents (agent_id),
  version     INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
  detail      TEXT NOT NULL,
  reported_at TEXT NOT NULL
) STRICT;

-- Offline unlock codes handed out by a maintainer. The response code itself is never stored.
CREATE TABLE offline_codes (
  id        TEXT PRIMARY KEY,
  agent_id  TEXT NOT NULL REFERENCES agents (agent_id),
  -- Normalized challenge (XXXX-XXXX-XXXX-XXXX).
  challenge TEXT NOT NULL,
  minutes   INTEGER NOT NULL CHECK (minutes >= 1),
  device    TEXT CHECK (device IS NULL OR json_valid(device)),
  reason    TEXT NOT NULL DEFAULT '',
  issued_by TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  used_at   TEXT
) STRICT;
CREATE INDEX offline_codes_agent_challenge ON offline_codes (agent_id, challenge);

-- Every offline.unlock_used a seat reported. code_id NULL = no matching issued code (flagged).
CREATE TABLE offline_code_uses (
  id           INTEGER PRIMARY KEY,
  agent_id     TEXT NOT NULL REFERENCES agents (agent_id),
  code_id      TEXT REFERENCES offline_codes (id),
  challenge    TEXT NOT NULL,
  minutes      INTEGER NOT NULL,
  grant_id     TEXT NOT NULL,
  device       TEXT NOT NULL CHECK (json_valid(device)),
  used_at      TEXT NOT NULL,
  received_at  TEXT NOT NULL,
  -- NULL = a first use of an issued code; otherwise why it is suspicious.
  flag         TEXT CHECK (flag IS NULL OR flag IN ('unknown_code', 'reused')),
  relocked_at  TEXT,
  end_reason   TEXT
) STRICT;
CREATE INDEX offline_code_uses_grant ON offline_code_uses (agent_id, grant_id);
CREATE INDEX offline_code_uses_code ON offline_code_uses (code_id);
CREATE INDEX offline_code_uses_challenge ON offline_code_uses (agent_id, challenge);

-- Agent events (agent_id, seq) the workflow has applied, so a replay after a crash applies each once.
CREATE TABLE unlock_event_marks (
  agent_id TEXT NOT NULL,
  seq      INTEGER NOT NULL,
  PRIMARY KEY (agent_id, seq)
) STRICT, WITHOUT ROWID;
`;
