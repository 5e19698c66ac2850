import type { Migration } from './migrations.js';

/**
 * Schema of the alert engine (collector/alerts): alerts (work orders), their history, the events
 * that fed them, maintenance windows, confirmed shift handovers and the engine's event cursor.
 * Version 100 keeps it clear of the core's 001, 002, … numbering. Requires migration 001 (events).
 */
const M100_ALERTS = `
CREATE TABLE alerts (
  id               INTEGER PRIMARY KEY,
  rule             TEXT NOT NULL,
  severity         TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  agent_id         TEXT NOT NULL,
  dedup_key        TEXT NOT NULL,
  title_zh         TEXT NOT NULL,
  title_en         TEXT NOT NULL,
  detail_zh        TEXT NOT NULL,
  detail_en        TEXT NOT NULL,
  -- JSON of the USB device the alert is about (sanitized descriptor strings), or NULL.
  device           TEXT CHECK (device IS NULL OR json_valid(device)),
  count            INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1),
  -- first_seen/last_seen: collector receive times of the first and latest event; created_at: when
  -- the engine raised the alert (the escalation clock starts here, never at a seat-supplied time).
  first_seen       TEXT NOT NULL,
  last_seen        TEXT NOT NULL,
  created_at       TEXT NOT NULL,
  state            TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
  assignee         TEXT,
  assigned_by      TEXT,
  assigned_at      TEXT,
  acknowledged_by  TEXT,
  acknowledged_at  TEXT,
  resolved_by      TEXT,
  resolved_at      TEXT,
  resolution_note  TEXT,
  escalation_level INTEGER NOT NULL DEFAULT 0 CHECK (escalation_level >= 0),
  escalated_to     TEXT,
  escalated_at     TEXT,
  last_event_id    INTEGER,
  -- Set when the seat reports the condition gone (e.g. lock restored); reset by the next repeat.
  cleared_at       TEXT,
  CHECK (state != 'resolved' OR (resolved_at IS NOT NULL AND resolution_note IS NOT NULL))
) STRICT;
-- Dedup lookup: the newest unresolved alert of a seat and key.
CREATE INDEX alerts_dedup ON alerts (agent_id, dedup_key, last_seen) WHERE state != 'resolved';
-- Open alerts by seat (console seat view, handover, heartbeat auto-resolve).
CREATE INDEX alerts_seat_state ON alerts (agent_id, state);
-- Escalation scan and the console's default list.
CREATE INDEX alerts_state_created ON alerts (state, created_at);
CREATE INDEX alerts_first_seen ON alerts (first_seen);

-- Who did what to an alert, and when: opened, acknowledged, assigned, note, escalated,
-- severity_raised, cleared, resolved. Append-only like the events table.
CREATE TABLE alert_history (
  id       INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts (id),
  at       TEXT NOT NULL,
  actor    TEXT NOT NULL,
  action   TEXT NOT NULL,
  note     TEXT,
  details  TEXT CHECK (details IS NULL OR json_valid(details))
) STRICT;
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);
CREATE INDEX alert_history_at ON alert_history (at, action);
CREATE TRIGGER alert_history_no_update BEFORE UPDATE ON alert_history
BEGIN SELECT RAISE(ABORT, 'alert history is append-only'); END;
CREATE TRIGGER alert_history_no_delete BEFORE DELETE ON alert_history
BEGIN SELECT RAISE(ABORT, 'alert history is append-only'); END;

-- Which stored events fed which alert (the repeat count, itemised).
CREATE TABLE alert_events (
  event_id    INTEGER PRIMARY KEY,
  alert_id    INTEGER NOT NULL REFERENCES alerts (id),
  event_type  TEXT NOT NULL,
  event_ts    TEXT NOT NULL,
  received_at TEXT NOT NULL
) STRICT;
CREATE INDEX alert_events_alert ON alert_events (alert_id, event_id);

-- Collector-side maintenance windows: agent.stopping and missed heartbeats inside one do not alert.
CREATE TABLE alert_maintenance (
  id         INTEGER PRIMARY KEY,
  agent_id   TEXT NOT NULL,
  starts_at  TEXT NOT NULL,
  ends_at    TEXT NOT NULL,
  created_by TEXT NOT NULL,
  reason     TEXT NOT NULL,
  ended_by   TEXT,
  CHECK (ends_at >= starts_at)
) STRICT;
CREATE INDEX alert_maintenance_agent ON alert_maintenance (agent_id, ends_at);

-- Confirmed shift handovers (交接班): the next report counts from the latest one.
CREATE TABLE alert_handovers (
  id          INTEGER PRIMARY KEY,
  at          TEXT NOT NULL,
  outgoing    TEXT NOT NULL,
  incoming    TEXT NOT NULL,
  period_from TEXT NOT NULL,
  report      TEXT NOT NULL CHECK (json_valid(report))
) STRICT;
CREATE INDEX alert_handovers_at ON alert_handovers (at);

-- The highest events.id the engine has evaluated. Starts at the current end of the event log so
-- upgrading a collector does not raise alerts about history.
CREATE TABLE alert_cursor (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  last_event_id INTEGER NOT NULL
) STRICT;
INSERT INTO alert_cursor (id, last_event_id) SELECT 1, coalesce(max(id), 0) FROM events;
`;

/** The alert engine's migration; the lead appends it to MIGRATIONS (after 001). */
export const ALERTS_MIGRATION: Migration = Object.freeze({ version: 100, name: '100-alerts', sql: M100_ALERTS });
