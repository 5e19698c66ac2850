import type { AlertSeverityValue } from '../store/alerts-repo.js';
import type { Db } from '../store/db.js';

/** The committed state of the alert a seat+key dedups into: its newest-`last_seen` unresolved alert. */
export interface DedupTarget {
  id: number;
  severity: AlertSeverityValue;
  last_seen: string;
  cleared_at: string | null;
  /** Occurrences counted so far (alerts.count): the engine links only an alert's first events. */
  count: number;
}

/**
 * Remembers, per seat + dedup key, the alert the last committed evaluation counted into, so a
 * repeat in a later batch needs no dedup query. It holds committed state only (entries are set
 * after the commit), so a rolled-back batch leaves it true. It is exact only while this engine is
 * the only writer of `alerts`: the engine clears it on every lifecycle step and tick, and it clears
 * itself when another connection committed to the database (`PRAGMA data_version`).
 */
export interface DedupCache {
  get(key: string): DedupTarget | undefined;
  /** After a commit: the targets the batch left behind. */
  set(entries: Iterable<[string, DedupTarget]>): void;
  clear(): void;
  /** Clears everything if another connection committed since the last check. */
  checkOthers(): void;
}

/** Keys above this many are dropped wholesale: the cache only saves lookups, it never decides. */
const MAX_ENTRIES = 50_000;

export function createDedupCache(db: Db): DedupCache {
  const map = new Map<string, DedupTarget>();
  const version = () => db.pragma('data_version', { simple: true }) as number;
  let seen = version();
  return {
    get: (key) => map.get(key),
    set(entries) {
      for (const [key, t] of entries) map.set(key, { id: t.id, severity: t.severity, last_seen: t.last_seen, cleared_at: t.cleared_at, count: t.count });
      if (map.size > MAX_ENTRIES) map.clear();
    },
    clear: () => map.clear(),
    checkOthers() {
      const v = version();
      if (v !== seen) {
        seen = v;
        map.clear();
      }
    },
  };
}
