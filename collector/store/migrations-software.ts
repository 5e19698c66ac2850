import type { Migration } from './migrations.js';

/**
 * Schema of the software install requests (collector/workflow/software-*.ts): one row per case,
 * the unlock case's columns (same state machine) with a package or executable hash instead of a USB
 * device. Requires migration 001 (agents). Version 610 keeps it clear of the other areas' numbers.
 */
const M610_SOFTWARE_REQUESTS = `
CREATE TABLE software_requests (
  id                 TEXT PRIMARY KEY,
  agent_id           TEXT NOT NULL REFERENCES agents (agent_id),
  -- Agent-chosen id of a software.requested event: the case is created once per (agent, ref).
  request_ref        TEXT,
  source             TEXT NOT NULL CHECK (source IN ('api', 'agent')),
  department         TEXT,
  -- Exactly one of package (exact name, optional version range) or sha256 (one executable).
  package            TEXT,
  versions           TEXT,
  sha256             TEXT CHECK (sha256 IS NULL OR length(sha256) = 64),
  reason             TEXT NOT NULL,
  -- NULL: permanent (until revoked).
  duration_ms        INTEGER CHECK (duration_ms IS NULL OR duration_ms > 0),
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
  -- NULL for a permanent approval: the expiry sweep never sees it.
  grant_expires_at   TEXT,
  end_reason         TEXT CHECK (end_reason IS NULL OR end_reason IN ('expired', 'revoked')),
  ended_at           TEXT,
  -- The seat reported the approved package installed (software.installed) while the case was active.
  fulfilled_at       TEXT,
  fulfilled_version  TEXT,
  version            INTEGER NOT NULL DEFAULT 0 CHECK (version >= 0),
  updated_at         TEXT NOT NULL,
  UNIQUE (agent_id, request_ref),
  CHECK ((package IS NULL) != (sha256 IS NULL)),
  CHECK (versions IS NULL OR package IS NOT NULL),
  CHECK (state != 'active' OR grant_id IS NOT NULL)
) STRICT;
CREATE INDEX software_requests_state ON software_requests (state, requested_at);
CREATE INDEX software_requests_agent ON software_requests (agent_id, requested_at);
-- The effective sensor config of a seat and the expiry sweep read only active cases.
CREATE INDEX software_requests_active ON software_requests (agent_id, grant_expires_at) WHERE state = 'active';
`;

/** Append to MIGRATIONS in migrations.ts. */
export const SOFTWARE_MIGRATION: Migration = Object.freeze({ version: 610, name: '610-software-requests', sql: M610_SOFTWARE_REQUESTS });
