import type { Migration } from './migrations.js';

/**
 * Schema of the per-seat sensor configuration (collector/sensors). Version 500 keeps it clear of the
 * other areas' numbers. Needs nothing from the other migrations.
 */
const M500_SENSOR_CONFIGS = `
-- Every saved sensor configuration, per scope, append-only: a change is a new row, and clearing a
-- department or seat override is a row with config NULL. id is the version sent to the agents.
CREATE TABLE sensor_configs (
  id         INTEGER PRIMARY KEY,
  scope_kind TEXT NOT NULL CHECK (scope_kind IN ('default', 'department', 'agent')),
  -- '' for the default scope, else the department name or the agent id.
  scope_key  TEXT NOT NULL CHECK ((scope_kind = 'default') = (scope_key = '')),
  revision   INTEGER NOT NULL CHECK (revision >= 1),
  config     TEXT CHECK (config IS NULL OR json_valid(config)),
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  comment    TEXT NOT NULL DEFAULT '',
  CHECK (scope_kind != 'default' OR config IS NOT NULL),
  UNIQUE (scope_kind, scope_key, revision)
) STRICT;

-- SECURITY: the history says who put which seats into which mode; nobody rewrites it.
CREATE TRIGGER sensor_configs_no_update BEFORE UPDATE ON sensor_configs
BEGIN SELECT RAISE(ABORT, 'sensor configs are append-only'); END;
CREATE TRIGGER sensor_configs_no_delete BEFORE DELETE ON sensor_configs
BEGIN SELECT RAISE(ABORT, 'sensor configs are append-only'); END;
`;

/** Append to MIGRATIONS in migrations.ts. */
export const SENSORS_MIGRATION: Migration = Object.freeze({ version: 500, name: '500-sensor-configs', sql: M500_SENSOR_CONFIGS });
