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
  /** Calls `fn` after each append (the transport sends promptly). Returns an unsubscribe function. */
  onAppend(fn: (entry: OutboxEntry) => void): () => void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL, frame TEXT NOT NULL) STRICT;
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', 0);
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
    if (opts.path !== ':memory:') chmodSync(opts.path, 0o600);
  } catch (err) {
    throw new AppError('OUTBOX_ERR_OPEN', formatError('OUTBOX_ERR_OPEN', opts.path), { cause: err });
  }

  const getLast = db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'last_seq'");
  const setLast = db.prepare<[number]>("UPDATE meta SET value = ? WHERE key = 'last_seq'");
  const insert = db.prepare<[number, string, string, string]>('INSERT INTO outbox (seq, id, type, frame) VALUES (?, ?, ?, ?)');
  const selectFrom = db.prepare<[number, number], { seq: number; id: string; type: string; frame: string }>(
    'SELECT seq, id, type, frame FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?',
  );
  const deleteOne = db.prepare<[number]>('DELETE FROM outbox WHERE seq = ?');
  const deleteThrough = db.prepare<[number]>('DELETE FROM outbox WHERE seq <= ?');
  const count = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM outbox');
  const listeners = new Set<(e: OutboxEntry) => void>();

  const appendTx = db.transaction((id: string, type: string, frameOf: (seq: number) => string) => {
    const seq = (getLast.get()?.value ?? 0) + 1;
    const frame = frameOf(seq);
    // Bounds and summarization of a long offline backlog belong here (later issue): this is the one
    // place where the queue grows.
    insert.run(seq, id, type, frame);
    setLast.run(seq);
    return { seq, frame };
  });
  const ackTx = db.transaction((seqs: readonly number[]) => {
    let n = 0;
    for (const s of seqs) n += deleteOne.run(s).changes;
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
      return deleteThrough.run(lastSeq).changes;
    },
    depth() {
      return count.get()?.n ?? 0;
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
