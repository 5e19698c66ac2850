import { SENSORS_MIGRATION } from './migrations-sensors.js';
import { SOFTWARE_MIGRATION } from './migrations-software.js';
import { ALERTS_MIGRATION } from './migrations-alerts.js';
import { EVENT_EFFECTS_MIGRATION } from './migrations-event-effects.js';
import { UNLOCK_MIGRATION_SQL } from './migrations-unlock.js';
import { USERS_AUDIT_MIGRATION } from './migrations-users-audit.js';

/**
 * Schema migrations, applied in order at open inside one IMMEDIATE transaction. Never edit an
 * entry that has shipped: append a new one. `version` is the NNN of the migration's name.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const M001_INITIAL = `
CREATE TABLE agents (
  agent_id      TEXT PRIMARY KEY,
  seat_name     TEXT NOT NULL,
  hostname      TEXT NOT NULL,
  platform      TEXT NOT NULL,
  department    TEXT,
  public_key    TEXT NOT NULL,
  agent_version TEXT,
  enrolled_at   TEXT NOT NULL,
  revoked_at    TEXT,
  online        INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
  last_seen     TEXT,
  lock_state    TEXT NOT NULL DEFAULT 'unknown' CHECK (lock_state IN ('locked', 'degraded', 'unknown')),
  outbox_depth  INTEGER,
  last_seq      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX agents_seat_name ON agents (seat_name);

CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  agent_id    TEXT NOT NULL REFERENCES agents (agent_id),
  seq         INTEGER NOT NULL CHECK (seq >= 1),
  type        TEXT NOT NULL,
  ts          TEXT NOT NULL,
  received_at TEXT NOT NULL,
  body        TEXT NOT NULL CHECK (json_valid(body)),
  UNIQUE (agent_id, seq)
) STRICT;
-- UNIQUE (agent_id, seq) is the per-seat timeline index; these two serve the global views.
CREATE INDEX events_type_id ON events (type, id);
CREATE INDEX events_received_at ON events (received_at);

-- SECURITY: events are the record of what happened on the seats; nobody rewrites history.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE devices (
  device_key   TEXT PRIMARY KEY,
  vendor_id    TEXT NOT NULL,
  product_id   TEXT NOT NULL,
  serial       TEXT,
  manufacturer TEXT,
  product      TEXT,
  hash         TEXT,
  first_seen   TEXT NOT NULL,
  last_seen    TEXT NOT NULL
) STRICT;

CREATE TABLE device_sightings (
  device_key TEXT NOT NULL REFERENCES devices (device_key),
  agent_id   TEXT NOT NULL REFERENCES agents (agent_id),
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  count      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_key, agent_id)
) STRICT;
CREATE INDEX device_sightings_agent ON device_sightings (agent_id);

CREATE TABLE enrollment_tokens (
  token_hash   TEXT PRIMARY KEY,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  department   TEXT,
  seat_pattern TEXT,
  used_at      TEXT,
  used_by      TEXT REFERENCES agents (agent_id)
) STRICT;

CREATE TABLE api_tokens (
  id           INTEGER PRIMARY KEY,
  token_hash   TEXT NOT NULL UNIQUE,
  name         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
) STRICT;
`;

// --- console read side (engineer K2): rollups and indexes for the dashboard, device history and
// reports. Version 400 keeps it clear of the other areas' numbers.

/** SQL for `deviceKey()` (shared/domain/usb.ts) over an event body; device-key-sql.test.ts keeps them equal. */
export const DEVICE_KEY_SQL = (body: string) => `json_extract(${body}, '$.device.vendor_id') || ':' || json_extract(${body}, '$.device.product_id') ||
    CASE WHEN coalesce(json_extract(${body}, '$.device.serial'), '') <> '' THEN ':s:' || json_extract(${body}, '$.device.serial')
         WHEN coalesce(json_extract(${body}, '$.device.hash'), '') <> '' THEN ':h:' || json_extract(${body}, '$.device.hash')
         ELSE ':anon' END`;
export const HAS_DEVICE_SQL = (body: string) => `json_type(${body}, '$.device.vendor_id') = 'text' AND json_type(${body}, '$.device.product_id') = 'text'`;
/** 15-minute slot of a collector timestamp: every IANA offset is a multiple of 15 minutes. */
export const BUCKET_SQL = (ts: string) => `coalesce(CAST(unixepoch(${ts}) AS INTEGER), 0) / 900`;

const M400_CONSOLE = `
-- Events per type, seat department (at event time; '' = none) and 15-minute slot of received_at,
-- kept by trigger: a dashboard day series in any time zone and any department scope is then a sum
-- over a few rows per slot instead of a scan of the events.
CREATE TABLE event_counts (
  type       TEXT NOT NULL,
  bucket     INTEGER NOT NULL,
  department TEXT NOT NULL,
  n          INTEGER NOT NULL,
  PRIMARY KEY (type, bucket, department)
) STRICT, WITHOUT ROWID;
INSERT INTO event_counts (type, bucket, department, n)
  SELECT e.type, ${BUCKET_SQL('e.received_at')}, coalesce(a.department, ''), count(*)
  FROM events e LEFT JOIN agents a ON a.agent_id = e.agent_id GROUP BY 1, 2, 3;
CREATE TRIGGER events_count AFTER INSERT ON events
BEGIN
  INSERT INTO event_counts (type, bucket, department, n)
    VALUES (NEW.type, ${BUCKET_SQL('NEW.received_at')}, coalesce((SELECT department FROM agents WHERE agent_id = NEW.agent_id), ''), 1)
    ON CONFLICT (type, bucket, department) DO UPDATE SET n = n + 1;
END;

-- Which events carried which device ("where has this stick been", newest first by event id).
CREATE TABLE device_events (
  device_key TEXT NOT NULL,
  event_id   INTEGER NOT NULL,
  PRIMARY KEY (device_key, event_id)
) STRICT, WITHOUT ROWID;
INSERT OR IGNORE INTO device_events (device_key, event_id)
  SELECT ${DEVICE_KEY_SQL('body')}, id FROM events WHERE ${HAS_DEVICE_SQL('body')};
CREATE TRIGGER events_device AFTER INSERT ON events WHEN ${HAS_DEVICE_SQL('NEW.body')}
BEGIN
  INSERT OR IGNORE INTO device_events (device_key, event_id) VALUES (${DEVICE_KEY_SQL('NEW.body')}, NEW.id);
END;

-- Month and date-range reads (monthly report, CSV export) by type.
CREATE INDEX events_type_received ON events (type, received_at);
-- Seat list sorted by last contact; device list sorted by last sighting.
CREATE INDEX agents_last_seen ON agents (last_seen);
CREATE INDEX devices_last_seen ON devices (last_seen);
CREATE INDEX devices_first_seen ON devices (first_seen);
`;

// Seat list compliance columns: the latest event of one type for one seat is one index seek
// (agent_id, type, seq DESC) instead of a walk over that seat's whole timeline.
const M520_SEAT_COMPLIANCE = `
CREATE INDEX events_agent_type_seq ON events (agent_id, type, seq);
`;

// Rollups written by the ingest batch instead of per-row triggers: the batch aggregates
// event_counts in JS (one upsert per type, department and slot per batch) and writes device_events
// from the decoded body instead of re-parsing the stored JSON eight times per row
// (collector/store/events-repo.ts). device_events is a function of the events: rebuilt. event_counts
// is not: it holds the department a seat had when each event arrived, which the events table does
// not record. So its rows are kept wherever a (type, slot) total equals COUNT(*) of the events, and
// only slots that disagree (a hand edit, a lost row) are recounted, with the seats' current department.
const M700_BATCHED_ROLLUPS = `
DROP TRIGGER IF EXISTS events_count;
DROP TRIGGER IF EXISTS events_device;
CREATE TEMP TABLE m700_drift AS
  SELECT type, bucket FROM (
    SELECT type, bucket, sum(n) AS diff FROM (
      SELECT type, bucket, n FROM event_counts
      UNION ALL
      SELECT type, ${BUCKET_SQL('received_at')}, -count(*) FROM events GROUP BY 1, 2
    ) GROUP BY type, bucket
  ) WHERE diff <> 0;
DELETE FROM event_counts WHERE (type, bucket) IN (SELECT type, bucket FROM m700_drift);
INSERT INTO event_counts (type, bucket, department, n)
  SELECT e.type, ${BUCKET_SQL('e.received_at')}, coalesce(a.department, ''), count(*)
  FROM events e LEFT JOIN agents a ON a.agent_id = e.agent_id
  WHERE (e.type, ${BUCKET_SQL('e.received_at')}) IN (SELECT type, bucket FROM m700_drift)
  GROUP BY 1, 2, 3;
DROP TABLE m700_drift;
DELETE FROM device_events;
INSERT OR IGNORE INTO device_events (device_key, event_id)
  SELECT ${DEVICE_KEY_SQL('body')}, id FROM events WHERE ${HAS_DEVICE_SQL('body')};
`;

/** The ordered list of all migrations. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: '001-initial', sql: M001_INITIAL },
  { version: 2, name: '002-unlock', sql: UNLOCK_MIGRATION_SQL },
  USERS_AUDIT_MIGRATION,
  // Listed in version order; migrate() applies every missing version, so a database that already
  // has 400 still gets 100 on upgrade.
  ALERTS_MIGRATION,
  { version: 400, name: '400-console', sql: M400_CONSOLE },
  SENSORS_MIGRATION,
  { version: 520, name: '520-seat-compliance', sql: M520_SEAT_COMPLIANCE },
  SOFTWARE_MIGRATION,
  { version: 700, name: '700-batched-rollups', sql: M700_BATCHED_ROLLUPS },
  EVENT_EFFECTS_MIGRATION,
]);
