import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../shared/clock.js';
import { systemClock } from '../../shared/clock.js';
import { AppError, formatError } from '../../shared/errors.js';
import { validateOutgoing } from '../../shared/protocol/agent-decode.js';
import { newMessageId } from '../../shared/protocol/encode.js';
import type { AgentEventType, EventBody } from '../../shared/protocol/messages.js';
import type { OutboxDropReason } from '../../shared/protocol/outbox-messages.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/version.js';

/**
 * The agent's durable, append-only event queue. Every event gets the next per-agent `seq` and is
 * stored as the exact frame that will be sent, so a resend after a crash is byte-identical and the
 * collector's (agent, seq) dedupe works. Rows are deleted only when the collector acknowledges them.
 */

/** One queued event. */
export interface OutboxEntry {
  seq: number;
  /** The envelope id (the collector's error frames refer to it). */
  id: string;
  type: AgentEventType;
  /** The complete encoded envelope ({v,type,id,ts,seq,body}) as sent on the wire. */
  frame: string;
}

export interface OutboxOptions {
  /** SQLite file (e.g. STATE/outbox.db) or ':memory:' for large simulations. */
  path: string;
  clock?: Clock;
  /** Queue bound; beyond it the oldest low-severity events are dropped. Default 100 000. */
  maxEvents?: number;
  /** Low-severity events older than this are dropped. Default 7 days. */
  maxAgeMs?: number;
}

/** Event types the bounds may drop (oldest first). Everything else (usb.blocked, lock.state, agent.*, …) is never dropped. */
export const LOW_SEVERITY_TYPES: readonly AgentEventType[] = ['usb.removed', 'usb.inserted'];

export const OUTBOX_BOUNDS = Object.freeze({ maxEvents: 100_000, maxAgeMs: 7 * 86_400_000 });

/** What the bounds dropped since the summary was last cleared: counts per type and the seq range. */
export interface DroppedSummary {
  counts: Record<string, number>;
  fromSeq: number;
  toSeq: number;
}

export interface Outbox {
  /** Validates, assigns the next seq and commits the event (fsync'd) before returning. */
  append<T extends AgentEventType>(type: T, body: EventBody<T>): OutboxEntry;
  /** Up to `limit` entries with seq ≥ fromSeq, in seq order. */
  pending(fromSeq: number, limit: number): OutboxEntry[];
  /** Deletes acknowledged seqs; returns how many rows went. */
  ack(seqs: readonly number[]): number;
  /** Deletes every entry with seq ≤ lastSeq (the collector's welcome.last_seq). */
  dropThrough(lastSeq: number): number;
  depth(): number;
  /** Highest seq ever assigned (0 when none); survives draining and restarts. */
  lastSeq(): number;
  /** Events dropped by the bounds and not yet reported; null when none. Survives restarts. */
  dropped(): DroppedSummary | null;
  /** Forgets the dropped summary once it has been reported. */
  clearDropped(): void;
  /**
   * Turns the dropped summary into `outbox.dropped` events (one per reason) and clears it, in one
   * transaction, so every drop is reported exactly once even across a crash. Does nothing (returns
   * []) when nothing was dropped, or while an earlier report is still queued: the summary keeps
   * accumulating instead, so a seat that stays offline and full cannot fill its queue with reports.
   */
  reportDropped(): OutboxEntry[];
  /** Calls `fn` after each append (the transport sends promptly). Returns an unsubscribe function. */
  onAppend(fn: (entry: OutboxEntry) => void): () => void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, frame TEXT NOT NULL) STRICT;
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0);
CREATE TABLE IF NOT EXISTS dropped_by_reason (
  reason TEXT NOT NULL, type TEXT NOT NULL, n INTEGER NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL,
  PRIMARY KEY (reason, type)
) STRICT;
`;

/**
 * The first summary table had no reason column. Its rows move to the new table once; 'max_events'
 * is a guess for them (the old code did not record which bound fired), the counts are exact.
 */
const MIGRATE_DROPPED = `
INSERT INTO dropped_by_reason (reason, type, n, from_seq, to_seq) SELECT 'max_events', type, n, from_seq, to_seq FROM dropped WHERE true
  ON CONFLICT (reason, type) DO UPDATE SET n = n + excluded.n, from_seq = min(from_seq, excluded.from_seq), to_seq = max(to_seq, excluded.to_seq);
DROP TABLE dropped;
`;

/** Opens (creating if needed) the outbox. Throws AppError OUTBOX_ERR_OPEN. */
export function createOutbox(opts: OutboxOptions): Outbox {
  const clock = opts.clock ?? systemClock;
  let db: Database.Database;
  try {
    if (opts.path !== ':memory:') {
      mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
    }
    db = new Database(opts.path);
    db.pragma('journal_mode = WAL');
    // FULL: an event is on disk before append() returns, so SIGKILL or power loss cannot lose it.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    // Outboxes from before the bounds have no append time; their rows count as appended now.
    const cols = db.prepare<[], { name: string }>('PRAGMA table_info(outbox)').all();
    if (!cols.some((c) => c.name === 'created_ms')) db.exec('ALTER TABLE outbox ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0');
    const oldDropped = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dropped'").get();
    if (oldDropped) db.transaction(() => db.exec(MIGRATE_DROPPED))();
    if (opts.path !== ':memory:') chmodSync(opts.path, 0o600);
  } catch (err) {
    throw new AppError('OUTBOX_ERR_OPEN', formatError('OUTBOX_ERR_OPEN', opts.path), { cause: err });
  }

  const getLast = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'last_seq'");
  const setLast = db.prepare<[number]>("UPDATE meta SET value = ? WHERE key = 'last_seq'");
  const insert = db.prepare<[number, string, string, string, number]>('INSERT INTO outbox (seq, id, type, frame, created_ms) VALUES (?, ?, ?, ?, ?)');
  const maxEvents = opts.maxEvents ?? OUTBOX_BOUNDS.maxEvents;
  const maxAgeMs = opts.maxAgeMs ?? OUTBOX_BOUNDS.maxAgeMs;
  const lowTypes = LOW_SEVERITY_TYPES.map((t) => `'${t}'`).join(', ');
  const oldestLow = db.prepare<[number, number], { seq: number; type: string }>(
    `SELECT seq, type FROM outbox WHERE type IN (${lowTypes}) AND created_ms < ? ORDER BY seq LIMIT ?`,
  );
  const noteDropped = db.prepare<[string, string, number, number, number]>(
    `INSERT INTO dropped_by_reason (reason, type, n, from_seq, to_seq) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (reason, type) DO UPDATE SET n = n + excluded.n, from_seq = min(from_seq, excluded.from_seq), to_seq = max(to_seq, excluded.to_seq)`,
  );
  const selectDropped = db.prepare<[], { reason: OutboxDropReason; type: string; n: number; from_seq: number; to_seq: number }>(
    'SELECT reason, type, n, from_seq, to_seq FROM dropped_by_reason ORDER BY reason, type',
  );
  const clearDroppedStmt = db.prepare('DELETE FROM dropped_by_reason');
  // Only consulted when there is something to report, which is rare: a table scan is fine.
  const reportQueued = db.prepare("SELECT 1 FROM outbox WHERE type = 'outbox.dropped' LIMIT 1");
  const selectFrom = db.prepare<[number, number], { seq: number; id: string; type: string; frame: string }>(
    'SELECT seq, id, type, frame FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?',
  );
  const deleteOne = db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?');
  const deleteThrough = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ?');
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox');
  const listeners = new Set<(e: OutboxEntry) => void>();
  // COUNT(*) walks the table; the depth is kept in memory and checked against the bound per append.
  let size = count.get()?.n ?? 0;
  let agePrunedAt = -Infinity;

  /** Drops up to `limit` low-severity rows appended before `before`, oldest first, and notes them. */
  function dropLow(before: number, limit: number, reason: OutboxDropReason): number {
    const rows = oldestLow.all(before, limit);
    for (const r of rows) {
      deleteOne.run(r.seq);
      noteDropped.run(reason, r.type, 1, r.seq, r.seq);
    }
    size -= rows.length;
    return rows.length;
  }

  /** Assigns the next seq and inserts; callers run it inside a transaction. */
  function appendRow(id: string, type: string, frameOf: (seq: number) => string, bounded = true): { seq: number; frame: string } {
    const seq = (getLast.get()?.value ?? 0) + 1;
    const frame = frameOf(seq);
    // The one place the queue grows, so the bounds live here, in the same transaction. When only
    // security-critical events are left the bound is exceeded rather than losing one of them.
    const at = clock.now();
    insert.run(seq, id, type, frame, at);
    setLast.run(seq);
    size++;
    if (!bounded) return { seq, frame };
    if (size > maxEvents) dropLow(Number.MAX_SAFE_INTEGER, size - maxEvents, 'max_events');
    // Age pruning at most once a minute: it scans for old rows.
    const mono = clock.monotonic();
    if (mono - agePrunedAt >= 60_000) {
      agePrunedAt = mono;
      dropLow(at - maxAgeMs, Number.MAX_SAFE_INTEGER, 'max_age');
    }
    return { seq, frame };
  }
  const appendTx = db.transaction(appendRow);

  /** Builds the envelope of an event; `seq` is filled in by appendRow. */
  function envelope(type: AgentEventType, body: unknown): { id: string; build: (seq: number) => { type: AgentEventType; seq: number } } {
    const id = newMessageId();
    const ts = new Date(clock.now()).toISOString();
    return { id, build: (seq) => ({ v: PROTOCOL_VERSION, type, id, ts, seq, body }) };
  }

  const reportTx = db.transaction((): OutboxEntry[] => {
    const rows = selectDropped.all();
    if (rows.length === 0 || reportQueued.get()) return [];
    clearDroppedStmt.run();
    const byReason = new Map<OutboxDropReason, typeof rows>();
    for (const r of rows) byReason.set(r.reason, [...(byReason.get(r.reason) ?? []), r]);
    const out: OutboxEntry[] = [];
    for (const [reason, group] of byReason) {
      const body: EventBody<'outbox.dropped'> = {
        counts: Object.fromEntries(group.map((r) => [r.type, r.n])),
        from_seq: Math.min(...group.map((r) => r.from_seq)),
        to_seq: Math.max(...group.map((r) => r.to_seq)),
        reason,
      };
      const { id, build } = envelope('outbox.dropped', body);
      const problem = validateOutgoing(build(1));
      // Throwing rolls the clear back: the summary stays for a later attempt.
      if (problem) throw new AppError('OUTBOX_ERR_INVALID', formatError('OUTBOX_ERR_INVALID', 'outbox.dropped', problem.slice(0, 200)));
      // Unbounded: a report that displaced another event would need a report of its own. At most
      // one report per reason is queued at a time, so this overshoots the bound by two at most.
      const stored = appendRow(id, 'outbox.dropped', (seq) => JSON.stringify(build(seq)), false);
      out.push({ seq: stored.seq, id, type: 'outbox.dropped', frame: stored.frame });
    }
    return out;
  });

  function notify(entry: OutboxEntry): void {
    for (const fn of listeners) {
      try {
        fn(entry);
      } catch {
        // A listener's failure must not turn a committed append into an error for the producer.
      }
    }
  }

  const ackTx = db.transaction((seqs: readonly number[]) => {
    let n = 0;
    for (const s of seqs) n += deleteOne.run(s).changes;
    size -= n;
    return n;
  });

  return {
    append(type, body) {
      const { id, build } = envelope(type, body);
      // Validate with a placeholder seq first, so an invalid event never consumes a seq.
      const problem = validateOutgoing(build(1));
      if (problem) throw new AppError('OUTBOX_ERR_INVALID', formatError('OUTBOX_ERR_INVALID', type, problem.slice(0, 200)));
      let stored: { seq: number; frame: string };
      try {
        stored = appendTx(id, type, (seq) => JSON.stringify(build(seq)));
      } catch (err) {
        // The transaction rolled back; so must the in-memory depth.
        size = count.get()?.n ?? 0;
        throw new AppError('OUTBOX_ERR_WRITE', undefined, { cause: err });
      }
      const entry: OutboxEntry = { seq: stored.seq, id, type, frame: stored.frame };
      notify(entry);
      return entry;
    },
    pending(fromSeq, limit) {
      return selectFrom.all(Math.max(0, fromSeq), Math.max(0, limit)).map((r) => ({ seq: r.seq, id: r.id, type: r.type as AgentEventType, frame: r.frame }));
    },
    ack(seqs) {
      return seqs.length === 0 ? 0 : ackTx(seqs);
    },
    dropThrough(lastSeq) {
      const n = deleteThrough.run(lastSeq).changes;
      size -= n;
      return n;
    },
    depth() {
      return size;
    },
    dropped() {
      const rows = selectDropped.all();
      if (rows.length === 0) return null;
      const counts: Record<string, number> = {};
      for (const r of rows) counts[r.type] = (counts[r.type] ?? 0) + r.n;
      return {
        counts,
        fromSeq: Math.min(...rows.map((r) => r.from_seq)),
        toSeq: Math.max(...rows.map((r) => r.to_seq)),
      };
    },
    clearDropped() {
      clearDroppedStmt.run();
    },
    reportDropped() {
      let entries: OutboxEntry[];
      try {
        entries = reportTx();
      } catch (err) {
        size = count.get()?.n ?? 0;
        if (err instanceof AppError) throw err;
        throw new AppError('OUTBOX_ERR_WRITE', undefined, { cause: err });
      }
      for (const e of entries) notify(e);
      return entries;
    },
    lastSeq() {
      return getLast.get()?.value ?? 0;
    },
    onAppend(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    close() {
      listeners.clear();
      if (db.open) db.close();
    },
  };
}
