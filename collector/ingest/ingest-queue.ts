import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { AgentEvent } from '../../shared/protocol/messages.js';
import type { LockStateValue } from '../store/agents-repo.js';
import type { IngestItem, Store } from '../store/store.js';

/** Where the outcome of a queued event goes (one per connection). */
export interface AckSink {
  /** Called after the commit with the seqs now durable (new rows and duplicates alike). */
  committed(seqs: number[]): void;
  /**
   * Called when the batch could not be committed: nothing was stored, the agent must resend.
   * Gets the connection's later queued events too (they were withdrawn so none commits past the
   * hole); the sink must stop taking events from that connection (the session closes it).
   */
  failed(messageIds: string[]): void;
}

export type PushResult = 'queued' | 'full' | 'closed';

/** An event of a committed batch that was new (duplicates are left out). */
export interface CommittedEvent {
  /** events.id of the stored row. */
  eventId: number;
  agentId: string;
  msg: AgentEvent;
  receivedAt: string;
}

/** Called after each successful commit (after the acks), with the batch's new events. */
export type CommitListener = (events: readonly CommittedEvent[]) => void;

/**
 * Runs inside the batch's transaction, after its rows are written and before the commit, with the
 * batch's new events; what it writes is committed (and fsync'd) with them. Each hook runs in its
 * own SAVEPOINT: if it throws, its writes are rolled back, it is logged and the events are still
 * stored. It may return a callback to run after the commit (and the acks); it is dropped if the
 * batch does not commit.
 */
export type TransactionHook = (events: readonly CommittedEvent[]) => (() => void) | undefined;

export interface IngestQueue {
  pushEvent(sink: AckSink, agentId: string, msg: AgentEvent): PushResult;
  /** Latest heartbeat per agent wins; it rides along with the next commit. */
  pushHeartbeat(agentId: string, lockState: LockStateValue, outboxDepth: number): PushResult;
  /** Events waiting for their commit. */
  pending(): number;
  /** Commits everything pending now, synchronously, and sends the acks. */
  drain(): void;
  /** Drains, then refuses new items ('closed'). */
  close(): void;
  /** Adds a post-commit listener; returns its removal. A throwing listener is logged and skipped. */
  onCommit(listener: CommitListener): () => void;
  /** Adds a hook that runs inside each batch's transaction (see {@link TransactionHook}); returns its removal. */
  onTransaction(hook: TransactionHook): () => void;
}

interface Pending {
  sink: AckSink;
  agentId: string;
  msg: AgentEvent;
  receivedAt: string;
}

/**
 * Group commit: events from all connections wait at most `commitIntervalMs` (or until `maxBatch`
 * are waiting) and are written in ONE transaction; only then are their acks sent. One fsync per
 * batch instead of per event is what makes synchronous=FULL affordable.
 */
export function createIngestQueue(deps: {
  store: Store;
  clock: Clock;
  log: Logger;
  commitIntervalMs: number;
  maxBatch: number;
  maxPending: number;
}): IngestQueue {
  const { store, clock, commitIntervalMs, maxBatch, maxPending } = deps;
  const log = deps.log.child({ component: 'ingest' });
  let events: Pending[] = [];
  let heartbeats = new Map<string, Extract<IngestItem, { kind: 'heartbeat' }>>();
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let closed = false;
  const commitListeners = new Set<CommitListener>();
  const txHooks = new Set<TransactionHook>();

  /** Inside the transaction: never throws, so a failing hook cannot cost the batch its events. */
  function runHooks(fresh: readonly CommittedEvent[], after: Array<() => void>): void {
    for (const hook of txHooks) {
      try {
        const done = store.transaction(() => hook(fresh));
        if (done) after.push(done);
      } catch (err) {
        log.error({ err, events: fresh.length }, 'ingest transaction hook failed; its writes were rolled back, the events are stored');
      }
    }
  }

  function schedule(): void {
    if (events.length >= maxBatch) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      immediate ??= setImmediate(() => {
        immediate = undefined;
        commitOne();
      });
    } else if (!timer && !immediate) {
      timer = setTimeout(() => {
        timer = undefined;
        commitOne();
      }, commitIntervalMs);
    }
  }

  function commitOne(): void {
    if (events.length === 0 && heartbeats.size === 0) return;
    const batch = events.slice(0, maxBatch);
    events = events.slice(batch.length);
    const hbs = [...heartbeats.values()];
    heartbeats = new Map();
    const items: IngestItem[] = [
      ...batch.map((p): IngestItem => ({ kind: 'event', agentId: p.agentId, msg: p.msg, receivedAt: p.receivedAt })),
      ...hbs,
    ];
    const bySink = new Map<AckSink, Pending[]>();
    for (const p of batch) {
      const list = bySink.get(p.sink);
      if (list) list.push(p);
      else bySink.set(p.sink, [p]);
    }
    let ok = false;
    let fresh: CommittedEvent[] = [];
    let after: Array<() => void> = [];
    try {
      store.ingestWithIds(items, (results) => {
        batch.forEach((p, i) => {
          const r = results[i];
          if (r?.result === 'stored' && r.eventId !== null) fresh.push({ eventId: r.eventId, agentId: p.agentId, msg: p.msg, receivedAt: p.receivedAt });
        });
        if (fresh.length > 0) runHooks(fresh, after);
      });
      ok = true;
      const stored = fresh.length;
      log.debug({ batch: batch.length, stored, heartbeats: hbs.length }, 'batch committed');
    } catch (err) {
      fresh = [];
      after = [];
      log.error({ err, batch: batch.length }, 'ingest batch failed');
      // A later event of the same connection must not commit past the hole this failure leaves:
      // at its next welcome the agent takes the highest stored seq as "all before it is stored"
      // and would drop the failed events from its outbox. So the connection's queued events fail
      // with the batch, and its session ends (AckSink.failed); the agent resends from the hole.
      const kept: Pending[] = [];
      for (const p of events) {
        const list = bySink.get(p.sink);
        if (list) list.push(p);
        else kept.push(p);
      }
      events = kept;
    }
    for (const [sink, list] of bySink) {
      try {
        if (ok) sink.committed(list.map((p) => p.msg.seq));
        else sink.failed(list.map((p) => p.msg.id));
      } catch (err) {
        log.warn({ err }, 'ack delivery failed');
      }
    }
    for (const done of after) {
      try {
        done();
      } catch (err) {
        log.warn({ err }, 'ingest transaction hook failed after the commit');
      }
    }
    // Listeners run after the acks: a slow or failing listener never delays durability news.
    if (fresh.length > 0) {
      for (const listener of commitListeners) {
        try {
          listener(fresh);
        } catch (err) {
          log.warn({ err }, 'commit listener failed');
        }
      }
    }
    if (events.length > 0 || heartbeats.size > 0) schedule();
  }

  function drain(): void {
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
    while (events.length > 0 || heartbeats.size > 0) commitOne();
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    timer = undefined;
    immediate = undefined;
  }

  return {
    pushEvent(sink, agentId, msg) {
      if (closed) return 'closed';
      if (events.length >= maxPending) return 'full';
      events.push({ sink, agentId, msg, receivedAt: new Date(clock.now()).toISOString() });
      schedule();
      return 'queued';
    },
    pushHeartbeat(agentId, lockState, outboxDepth) {
      if (closed) return 'closed';
      heartbeats.set(agentId, { kind: 'heartbeat', agentId, at: new Date(clock.now()).toISOString(), lockState, outboxDepth });
      schedule();
      return 'queued';
    },
    pending: () => events.length,
    drain,
    close() {
      closed = true;
      drain();
    },
    onCommit(listener) {
      commitListeners.add(listener);
      return () => commitListeners.delete(listener);
    },
    onTransaction(hook) {
      txHooks.add(hook);
      return () => txHooks.delete(hook);
    },
  };
}
