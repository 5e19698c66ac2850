import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Clock } from '../../shared/clock.js';
import { systemClock } from '../../shared/clock.js';
import { AppError, formatError } from '../../shared/errors.js';
import { validateOutgoing } from '../../shared/protocol/decode.js';
import { newMessageId } from '../../shared/protocol/encode.js';
import type { AgentEventType, EventBody } from '../../shared/protocol/messages.js';
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
  /** Calls `fn` after each append (the transport sends promptly). Returns an unsubscribe function. */
  onAppend(fn: (entry: OutboxEntry) => void): () => void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, frame TEXT NOT NULL) STRICT;
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0);
CREATE TABLE IF NOT EXISTS dropped (type TEXT PRIMARY KEY, n INTEGER NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL) STRICT;
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
  const noteDropped = db.prepare<[string, number, number, number]>(
    `INSERT INTO dropped (type, n, from_seq, to_seq) VALUES (?, ?, ?, ?)
     ON CONFLICT (type) DO UPDATE SET n = n + excluded.n, from_seq = min(from_seq, excluded.from_seq), to_seq = max(to_seq, excluded.to_seq)`,
  );
  const selectDropped = db.prepare<[], { type: string; n: number; from_seq: number; to_seq: number }>('SELECT type, n, from_seq, to_seq FROM dropped');
  const clearDroppedStmt = db.prepare('DELETE FROM dropped');
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
  function dropLow(before: number, limit: number): number {
    const rows = oldestLow.all(before, limit);
    for (const r of rows) {
      deleteOne.run(r.seq);
      noteDropped.run(r.type, 1, r.seq, r.seq);
    }
    size -= rows.length;
    return rows.length;
  }

  const appendTx = db.transaction((id: string, type: string, frameOf: (seq: number) => string) => {
    const seq = (getLast.get()?.value ?? 0) + 1;
    const frame = frameOf(seq);
    // The one place the queue grows, so the bounds live here, in the same transaction. When only
    // security-critical events are left the bound is exceeded rather than losing one of them.
    const at = clock.now();
    insert.run(seq, id, type, frame, at);
    setLast.run(seq);
    size++;
    if (size > maxEvents) dropLow(Number.MAX_SAFE_INTEGER, size - maxEvents);
    // Age pruning at most once a minute: it scans for old rows.
    const mono = clock.monotonic();
    if (mono - agePrunedAt >= 60_000) {
      agePrunedAt = mono;
      dropLow(at - maxAgeMs, Number.MAX_SAFE_INTEGER);
    }
    return { seq, frame };
  });
  const ackTx = db.transaction((seqs: readonly number[]) => {
    let n = 0;
    for (const s of seqs) n += deleteOne.run(s).changes;
    size -= n;
    return n;
  });

  return {
    append(type, body) {
      const id = newMessageId();
      const ts = new Date(clock.now()).toISOString();
      const build = (seq: number) => ({ v: PROTOCOL_VERSION, type, id, ts, seq, body });
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
      for (const fn of listeners) {
        try {
          fn(entry);
        } catch {
          // A listener's failure must not turn a committed append into an error for the producer.
        }
      }
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
      return {
        counts: Object.fromEntries(rows.map((r) => [r.type, r.n])),
        fromSeq: Math.min(...rows.map((r) => r.from_seq)),
        toSeq: Math.max(...rows.map((r) => r.to_seq)),
      };
    },
    clearDropped() {
      clearDroppedStmt.run();
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
