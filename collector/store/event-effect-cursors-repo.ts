import type { Db } from './db.js';
import type { EventRow } from './events-repo.js';

/**
 * The event_effect_cursors aggregate (migration 800): per consumer, the highest events.id whose
 * side effects are committed. Consumers keep no copy in memory; they read it inside the
 * transaction that moves it, so a rolled-back step leaves nothing stale behind.
 */
export interface EventEffectCursorsRepo {
  /** The consumer's cursor, or null when it has no row yet. */
  get(name: string): number | null;
  set(name: string, lastEventId: number): void;
  /** The current end of the event log (0 when empty): where a new consumer starts. */
  maxEventId(): number;
  /** Stored events of `types` with afterId < id (< beforeId when given), oldest first. */
  eventsOf(types: readonly string[], afterId: number, beforeId: number | null, limit: number): EventRow[];
}

export function createEventEffectCursorsRepo(db: Db): EventEffectCursorsRepo {
  const getStmt = db.prepare('SELECT last_event_id FROM event_effect_cursors WHERE name = ?').pluck();
  const setStmt = db.prepare(`INSERT INTO event_effect_cursors (name, last_event_id) VALUES (?, ?)
    ON CONFLICT (name) DO UPDATE SET last_event_id = excluded.last_event_id`);
  const maxStmt = db.prepare('SELECT coalesce(max(id), 0) FROM events').pluck();
  // One equality per type keeps each lookup on the (type, id) index; the consumers have 1-2 types.
  const byType = db.prepare(`SELECT id, agent_id, seq, type, ts, received_at, body FROM events
    WHERE type = @type AND id > @after AND (@before IS NULL OR id < @before) ORDER BY id LIMIT @limit`);
  return {
    get: (name) => (getStmt.get(name) as number | undefined) ?? null,
    set: (name, id) => void setStmt.run(name, id),
    maxEventId: () => maxStmt.get() as number,
    eventsOf(types, afterId, beforeId, limit) {
      const rows = types.flatMap((type) => byType.all({ type, after: afterId, before: beforeId, limit }) as EventRow[]);
      return rows.sort((a, b) => a.id - b.id).slice(0, limit);
    },
  };
}
