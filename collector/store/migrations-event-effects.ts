import type { Migration } from './migrations.js';

/**
 * Cursors of the event side effects that commit inside the ingest transaction
 * (collector/workflow/event-effects.ts): maintenance code uses and software fulfilment. One row per
 * consumer, the highest events.id it has applied. Each starts at the current end of the event log,
 * so upgrading a collector does not replay history (those events were applied by the listeners of
 * the previous version). Version 800: the next free hundred.
 */
const M800_EVENT_EFFECT_CURSORS = `
CREATE TABLE event_effect_cursors (
  name          TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
  last_event_id INTEGER NOT NULL CHECK (last_event_id >= 0)
) STRICT;
INSERT INTO event_effect_cursors (name, last_event_id)
  SELECT 'maintenance_codes', coalesce(max(id), 0) FROM events
  UNION ALL SELECT 'software_fulfilment', coalesce(max(id), 0) FROM events;
`;

export const EVENT_EFFECTS_MIGRATION: Migration = Object.freeze({ version: 800, name: '800-event-effect-cursors', sql: M800_EVENT_EFFECT_CURSORS });
