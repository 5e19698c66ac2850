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

/** The ordered list of all migrations. */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: '001-initial', sql: M001_INITIAL },
]);
