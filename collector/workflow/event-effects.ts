import type { Logger } from '../../shared/logger.js';
import { decodeAgentMessage } from '../../shared/protocol/decode.js';
import { isAgentEventType, type AgentEvent } from '../../shared/protocol/messages.js';
import { PROTOCOL_VERSION } from '../../shared/protocol/version.js';
import type { CommittedEvent } from '../ingest/ingest-queue.js';
import { createEventEffectCursorsRepo } from '../store/event-effect-cursors-repo.js';
import type { EventRow } from '../store/events-repo.js';
import type { Store } from '../store/store.js';

/** Work to run after the transaction that applied an event has committed (live pushes, logs). */
export type AfterCommit = () => void;

/**
 * A side effect of stored events (a maintenance code use, a software case fulfilled) that must
 * never be lost: applied inside the ingest transaction that stores the events, with a cursor in the
 * same transaction (the alert engine's pattern, docs/alerts.md). Whatever a failed step left
 * behind the cursor is applied by the next batch of the same types, or by {@link recover} at start.
 */
export interface EventEffects {
  /**
   * The ingest queue's transaction hook: applies the batch's events of the consumer's types (first
   * any stored ones the cursor has not reached) and moves the cursor. Never throws; returns the
   * after-commit work.
   */
  inTransaction(events: readonly CommittedEvent[]): AfterCommit | undefined;
  /** At start: applies stored events past the cursor (committed, never applied); returns how many. */
  recover(): number;
}

/** Most stored events applied inline from one ingest batch; the rest wait for the next batch or start. */
const GAP_LIMIT = 200;
const RECOVER_CHUNK = 500;
/** Attempts (batches or start-up steps) before an event whose side effect keeps failing is passed over. */
const MAX_ATTEMPTS = 3;

/** A stored event row as a decoded message, re-validated like a frame (stored data stays untrusted); null when it no longer decodes. */
export function decodeStoredEvent(row: EventRow): AgentEvent | null {
  let body: unknown;
  try {
    body = JSON.parse(row.body);
  } catch {
    return null;
  }
  const d = decodeAgentMessage(JSON.stringify({ v: PROTOCOL_VERSION, type: row.type, id: `replay-${row.id}`, ts: row.ts, seq: row.seq, body }));
  if (d.ok !== true || d.msg.type !== row.type || !isAgentEventType(d.msg.type)) return null;
  return d.msg as AgentEvent;
}

export function createEventEffects<T extends AgentEvent['type']>(deps: {
  /** The cursor's name (a row of event_effect_cursors). */
  name: string;
  types: readonly T[];
  store: Pick<Store, 'db' | 'transaction'>;
  log: Logger;
  /**
   * Applies one event inside the open transaction. A throw rolls the step back (the cursor stays, the
   * event is tried again with the next batch of these types or at start); after MAX_ATTEMPTS failures
   * the event is logged and passed over.
   */
  apply: (agentId: string, msg: Extract<AgentEvent, { type: T }>, receivedAt: string) => AfterCommit | undefined;
}): EventEffects {
  const { name, store } = deps;
  const types: ReadonlySet<string> = new Set(deps.types);
  const cursors = createEventEffectCursorsRepo(store.db);
  const log = deps.log.child({ component: 'event-effects', consumer: name });
  const isOurs = (m: AgentEvent): m is Extract<AgentEvent, { type: T }> => types.has(m.type);

  function cursorNow(): number {
    const c = cursors.get(name);
    if (c !== null) return c;
    // A consumer without a row starts at the end of the log: history was not its to apply.
    const start = cursors.maxEventId();
    cursors.set(name, start);
    return start;
  }

  // Failed attempts per event id. A failure rolls the whole step back and leaves the cursor before
  // the event, so a passing fault (disk full, I/O) costs nothing; an event that fails
  // MAX_ATTEMPTS times in a row is passed over, so one bad row cannot stall every later one.
  const failures = new Map<number, number>();

  /** One event in its own savepoint; its after-commit work goes to `after`. */
  function applyOne(eventId: number, agentId: string, msg: AgentEvent, receivedAt: string, after: AfterCommit[]): void {
    if (!isOurs(msg)) return;
    try {
      const done = store.transaction(() => deps.apply(agentId, msg, receivedAt));
      failures.delete(eventId);
      if (done) after.push(done);
    } catch (err) {
      const attempts = (failures.get(eventId) ?? 0) + 1;
      if (attempts < MAX_ATTEMPTS) {
        failures.set(eventId, attempts);
        throw err;
      }
      failures.delete(eventId);
      log.error({ err, event_id: eventId, agent_id: agentId, seq: msg.seq, attempts }, 'event side effect failed on every attempt; passed over');
    }
  }

  function applyRows(rows: readonly EventRow[], after: AfterCommit[]): void {
    for (const row of rows) {
      const msg = decodeStoredEvent(row);
      if (msg === null) log.warn({ event_id: row.id, agent_id: row.agent_id, seq: row.seq }, 'stored event no longer decodes; side effect skipped');
      else applyOne(row.id, row.agent_id, msg, row.received_at, after);
    }
  }

  function runAll(after: readonly AfterCommit[]): void {
    for (const done of after) {
      try {
        done();
      } catch (err) {
        log.warn({ err }, 'event side effect follow-up failed after the commit');
      }
    }
  }

  return {
    inTransaction(events) {
      // The common batch carries none of our types: no statement at all on the ingest path.
      let ours: CommittedEvent[] | undefined;
      for (const e of events) if (types.has(e.msg.type)) (ours ??= []).push(e);
      if (!ours) return undefined;
      let after: AfterCommit[] = [];
      try {
        // Its own savepoint: a failure undoes this consumer's writes and leaves its cursor, and the
        // batch's events and every other hook's writes still commit.
        store.transaction(() => {
          const cursor = cursorNow();
          const fresh = ours.filter((e) => e.eventId > cursor).sort((a, b) => a.eventId - b.eventId);
          const first = fresh[0];
          const last = fresh[fresh.length - 1];
          if (!first || !last) return;
          // Events of an earlier batch whose step failed come first, in order.
          const gap = cursors.eventsOf(deps.types, cursor, first.eventId, GAP_LIMIT + 1);
          if (gap.length > GAP_LIMIT) {
            // Too many to do inside this ingest transaction: take a bounded step; this batch's own
            // events stay past the cursor for the next batch or the start-up recovery.
            const step = gap.slice(0, GAP_LIMIT);
            applyRows(step, after);
            cursors.set(name, step[step.length - 1]!.id);
            log.warn({ behind: gap.length }, 'event side effects are behind the event log; catching up batch by batch');
            return;
          }
          applyRows(gap, after);
          for (const e of fresh) applyOne(e.eventId, e.agentId, e.msg, e.receivedAt, after);
          cursors.set(name, last.eventId);
        });
      } catch (err) {
        after = [];
        log.error({ err, events: ours.length }, 'event side effects failed inside the ingest transaction; they will be applied again');
        return undefined;
      }
      return after.length === 0 ? undefined : () => runAll(after);
    },

    recover() {
      let applied = 0;
      let failedSteps = 0;
      // Each failing event is passed over after MAX_ATTEMPTS; the bound ends the loop if the
      // cursor itself cannot move (the next start or batch tries again).
      while (failedSteps < MAX_ATTEMPTS * 4) {
        const after: AfterCommit[] = [];
        let n: number;
        try {
          n = store.transaction(() => {
            const rows = cursors.eventsOf(deps.types, cursorNow(), null, RECOVER_CHUNK);
            const last = rows[rows.length - 1];
            if (!last) return 0;
            applyRows(rows, after);
            cursors.set(name, last.id);
            return rows.length;
          });
        } catch (err) {
          failedSteps++;
          log.error({ err }, 'event side effect recovery step failed; retrying');
          continue;
        }
        runAll(after);
        if (n === 0) break;
        applied += n;
      }
      if (applied > 0) log.warn({ applied }, 'applied event side effects left over from a previous run');
      return applied;
    },
  };
}
