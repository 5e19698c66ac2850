import { randomUUID } from 'node:crypto';
import { AppError, formatError, isAppError } from '../../../shared/errors.js';
import { systemClock, type Clock } from '../../../shared/clock.js';
import type { Logger } from '../../../shared/logger.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from './backoff.js';
import { errorCode, isPermanent } from './delivery-errors.js';
import { copyAlert, severityRank, type Alert, type Channel, type ChannelKind } from './types.js';

/** Default bound of waiting alerts per channel. */
export const DEFAULT_MAX_QUEUE = 1_000;
/** Default guard around one `send()` in case a channel never settles. */
export const DEFAULT_SEND_TIMEOUT_MS = 60_000;
/** Default deadline of `stop()`. */
export const DEFAULT_STOP_DEADLINE_MS = 10_000;

export interface DispatcherDeps {
  channels: readonly Channel[];
  log: Logger;
  clock?: Clock;
  /** Waiting alerts kept per channel, the one in delivery not included (default 1000). */
  maxQueue?: number;
  retry?: Partial<RetryPolicy>;
  /** A send that has not settled after this long counts as a retryable failure (default 60000 ms). */
  sendTimeoutMs?: number;
  /** Drop warnings are logged at most once per this interval per channel (default 10000 ms). */
  dropLogIntervalMs?: number;
  /** Jitter source in [0, 1) (default Math.random). */
  random?: () => number;
}

/** Counters of one channel since the dispatcher was created. */
export interface ChannelStats {
  kind: ChannelKind;
  /** Alerts the receiver accepted. */
  sent: number;
  /** Alerts given up on: refused permanently or out of attempts. */
  failed: number;
  /** Tries that failed and were scheduled again. */
  retried: number;
  /** Alerts pushed out of a full queue, refused after stop(), or left undelivered at the stop deadline. */
  dropped: number;
  /** Alerts waiting or in delivery now. */
  queued: number;
  consecutive_failures: number;
  /** Error code of the last failure, null after a success. */
  last_error: string | null;
  last_success_at: string | null;
}

export interface StopResult {
  /** True when every queue emptied before the deadline. */
  flushed: boolean;
  /** Alerts still queued or in delivery at the deadline (counted as dropped). */
  undelivered: number;
}

export interface Dispatcher {
  /** Queues an alert for every channel; never blocks, never throws, never calls a channel synchronously. */
  enqueue(alert: Alert): void;
  stats(): Record<string, ChannelStats>;
  /** Refuses new alerts, delivers what is queued until the deadline, then closes the channels. Idempotent. */
  stop(opts?: { deadlineMs?: number }): Promise<StopResult>;
}

interface Entry {
  alert: Readonly<Alert>;
  delivery_id: string;
  attempts: number;
}

interface Lane {
  channel: Channel;
  log: Logger;
  queue: Entry[];
  inFlight: Entry | null;
  timer: NodeJS.Timeout | null;
  pumpScheduled: boolean;
  stats: ChannelStats;
  dropsSinceLog: number;
  lastDropLogAt: number | null;
  criticalDropsSinceLog: number;
}

function frozenCopy(a: Alert): Readonly<Alert> {
  const c = copyAlert(a);
  if (c.seat) Object.freeze(c.seat);
  if (c.device) Object.freeze(c.device);
  return Object.freeze(c);
}

function positiveInt(v: number | undefined, fallback: number, label: string, min = 1): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) {
    throw new AppError('ALERT_ERR_CHANNEL_CONFIG', formatError('ALERT_ERR_CHANNEL_CONFIG', `dispatcher ${label} must be an integer >= ${min}`));
  }
  return v;
}

/**
 * Per-channel delivery lanes: each channel has its own bounded queue and sends one alert at a
 * time in order, so a slow or dead receiver never delays another channel or the caller.
 * Retries back off exponentially with jitter; a full queue drops its oldest non-critical alert.
 */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const log = deps.log.child({ component: 'alert-dispatcher' });
  const maxQueue = positiveInt(deps.maxQueue, DEFAULT_MAX_QUEUE, 'maxQueue');
  const sendTimeoutMs = positiveInt(deps.sendTimeoutMs, DEFAULT_SEND_TIMEOUT_MS, 'sendTimeoutMs');
  const dropLogIntervalMs = positiveInt(deps.dropLogIntervalMs, 10_000, 'dropLogIntervalMs', 0);
  const retry: RetryPolicy = {
    baseMs: positiveInt(deps.retry?.baseMs, DEFAULT_RETRY.baseMs, 'retry.baseMs'),
    maxMs: positiveInt(deps.retry?.maxMs, DEFAULT_RETRY.maxMs, 'retry.maxMs'),
    maxAttempts: positiveInt(deps.retry?.maxAttempts, DEFAULT_RETRY.maxAttempts, 'retry.maxAttempts', 0),
  };

  const lanes: Lane[] = [];
  for (const channel of deps.channels) {
    if (lanes.some((l) => l.channel.name === channel.name)) {
      throw new AppError('ALERT_ERR_CHANNEL_CONFIG', formatError('ALERT_ERR_CHANNEL_CONFIG', `duplicate channel name ${channel.name}`));
    }
    lanes.push({
      channel,
      log: log.child({ channel: channel.name }),
      queue: [],
      inFlight: null,
      timer: null,
      pumpScheduled: false,
      stats: { kind: channel.kind, sent: 0, failed: 0, retried: 0, dropped: 0, queued: 0, consecutive_failures: 0, last_error: null, last_success_at: null },
      dropsSinceLog: 0,
      lastDropLogAt: null,
      criticalDropsSinceLog: 0,
    });
  }

  let accepting = true;
  let halted = false;
  let stopPromise: Promise<StopResult> | null = null;
  let onIdle: (() => void) | null = null;

  const laneIdle = (l: Lane): boolean => l.queue.length === 0 && l.inFlight === null;

  function logDrops(l: Lane, force: boolean): void {
    if (l.dropsSinceLog === 0) return;
    const now = clock.monotonic();
    if (!force && l.lastDropLogAt !== null && now - l.lastDropLogAt < dropLogIntervalMs) return;
    const fields = { dropped_since_last_log: l.dropsSinceLog, critical_dropped: l.criticalDropsSinceLog, dropped_total: l.stats.dropped, max_queue: maxQueue };
    if (l.criticalDropsSinceLog > 0) l.log.error(fields, 'alert queue full, critical alerts dropped');
    else l.log.warn(fields, 'alert queue full, oldest alerts dropped');
    l.dropsSinceLog = 0;
    l.criticalDropsSinceLog = 0;
    l.lastDropLogAt = now;
  }

  function countDrop(l: Lane, e: Entry): void {
    l.stats.dropped++;
    l.dropsSinceLog++;
    if (e.alert.severity === 'critical') l.criticalDropsSinceLog++;
    logDrops(l, false);
  }

  /** Keeps the queue within maxQueue: the oldest non-critical goes first, else the oldest critical. */
  function trim(l: Lane): void {
    while (l.queue.length > maxQueue) {
      let idx = l.queue.findIndex((e) => e.alert.severity !== 'critical');
      if (idx === -1) idx = 0;
      const [dropped] = l.queue.splice(idx, 1);
      if (dropped) countDrop(l, dropped);
    }
  }

  function schedulePump(l: Lane): void {
    if (l.pumpScheduled || halted) return;
    l.pumpScheduled = true;
    // setImmediate: enqueue() returns before any channel code runs, and a burst is batched.
    setImmediate(() => {
      l.pumpScheduled = false;
      pump(l);
    });
  }

  function checkIdle(): void {
    if (onIdle && lanes.every(laneIdle)) onIdle();
  }

  function sendWithTimeout(l: Lane, e: Entry): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AppError('ALERT_ERR_SEND_TIMEOUT', formatError('ALERT_ERR_SEND_TIMEOUT', l.channel.name, sendTimeoutMs))),
        sendTimeoutMs,
      );
    });
    // Promise.resolve().then() turns a synchronous throw inside send() into a rejection.
    const sending = Promise.resolve().then(() => l.channel.send(e.alert, { delivery_id: e.delivery_id, attempt: e.attempts }));
    return Promise.race([sending, timeout]).finally(() => clearTimeout(timer));
  }

  function pump(l: Lane): void {
    if (halted || l.inFlight || l.timer) return;
    if (l.queue.length === 0) return checkIdle();
    const e = l.queue.shift() as Entry;
    l.inFlight = e;
    e.attempts++;
    sendWithTimeout(l, e).then(
      () => settle(l, e, null),
      (err: unknown) => settle(l, e, err ?? new Error('send rejected')),
    );
  }

  function settle(l: Lane, e: Entry, err: unknown): void {
    l.inFlight = null;
    let backoffMs: number | null = null;
    const s = l.stats;
    const fields = { alert_id: e.alert.id, delivery_id: e.delivery_id, attempt: e.attempts };
    if (halted) {
      // Finished after the stop deadline: record the outcome, never requeue.
      if (err === null) s.sent++;
      else s.dropped++;
      return;
    }
    if (err === null) {
      s.sent++;
      s.consecutive_failures = 0;
      s.last_error = null;
      s.last_success_at = new Date(clock.now()).toISOString();
      l.log.debug(fields, 'alert delivered');
    } else if (isPermanent(err)) {
      // The receiver answered, so it is up: no backoff for the next alert.
      s.failed++;
      s.consecutive_failures = 0;
      s.last_error = errorCode(err);
      l.log.error({ ...fields, err }, 'alert refused by channel, not retried');
    } else {
      s.consecutive_failures++;
      s.last_error = errorCode(err);
      const hinted = isAppError(err) && typeof err.details?.retry_after_ms === 'number' ? err.details.retry_after_ms : 0;
      const delay = Math.min(retry.maxMs, Math.max(backoffDelay(s.consecutive_failures, retry, random), hinted));
      backoffMs = delay;
      if (retry.maxAttempts > 0 && e.attempts >= retry.maxAttempts) {
        s.failed++;
        l.log.error({ ...fields, err }, 'alert delivery gave up after max attempts');
      } else {
        s.retried++;
        const level = s.consecutive_failures >= 5 ? 'warn' : 'info';
        l.log[level]({ ...fields, err, retry_in_ms: delay, consecutive_failures: s.consecutive_failures }, 'alert delivery failed, will retry');
        // Back at the head: order is kept, and it stays eligible for dropping if the queue overflows.
        l.queue.unshift(e);
        trim(l);
      }
    }
    logDrops(l, false);
    if (backoffMs !== null) {
      // Backoff is per lane (a down receiver is down for every alert) and runs on real timers only,
      // so an injected manual clock cannot stall it.
      l.timer = setTimeout(() => {
        l.timer = null;
        pump(l);
      }, backoffMs);
      l.timer.unref();
      return;
    }
    pump(l);
  }

  return {
    enqueue(alert: Alert): void {
      try {
        if (!accepting) {
          for (const l of lanes) countDrop(l, { alert, delivery_id: '', attempts: 0 });
          return;
        }
        // A frozen copy: the caller may reuse or mutate its object after enqueue returns.
        const snapshot = frozenCopy(alert);
        const rank = severityRank(snapshot.severity);
        for (const l of lanes) {
          const min = l.channel.minSeverity;
          if (min !== undefined && rank < severityRank(min)) continue;
          l.queue.push({ alert: snapshot, delivery_id: randomUUID(), attempts: 0 });
          trim(l);
          schedulePump(l);
        }
      } catch (err) {
        // Ingest must never fail because of alert delivery.
        for (const l of lanes) l.stats.dropped++;
        try {
          log.error({ err }, 'alert enqueue failed');
        } catch {
          /* the logger itself failed: nothing left to report to */
        }
      }
    },

    stats(): Record<string, ChannelStats> {
      const out: Record<string, ChannelStats> = {};
      for (const l of lanes) out[l.channel.name] = { ...l.stats, queued: l.queue.length + (l.inFlight ? 1 : 0) };
      return out;
    },

    stop(opts?: { deadlineMs?: number }): Promise<StopResult> {
      if (stopPromise) return stopPromise;
      accepting = false;
      const deadlineMs = opts?.deadlineMs ?? DEFAULT_STOP_DEADLINE_MS;
      stopPromise = (async () => {
        let deadline: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          onIdle = resolve;
          deadline = setTimeout(resolve, deadlineMs);
          checkIdle();
        });
        clearTimeout(deadline);
        onIdle = null;
        halted = true;
        let undelivered = 0;
        for (const l of lanes) {
          if (l.timer) clearTimeout(l.timer);
          l.timer = null;
          // A send still in flight is counted when it settles (sent or dropped).
          const left = l.queue.length + (l.inFlight ? 1 : 0);
          undelivered += left;
          l.stats.dropped += l.queue.length;
          l.queue = [];
          logDrops(l, true);
          if (left > 0) l.log.error({ undelivered: left }, 'alerts undelivered at shutdown');
        }
        await Promise.all(
          lanes.map(async (l) => {
            let t: NodeJS.Timeout | undefined;
            try {
              await Promise.race([l.channel.close?.(), new Promise<void>((r) => (t = setTimeout(r, 2_000)))]);
            } catch (err) {
              l.log.warn({ err }, 'alert channel close failed');
            } finally {
              clearTimeout(t);
            }
          }),
        );
        log.info({ flushed: undelivered === 0, undelivered }, 'alert dispatcher stopped');
        return { flushed: undelivered === 0, undelivered };
      })();
      return stopPromise;
    },
  };
}
