/**
 * A periodic job that never overlaps itself, never throws into the event loop and stops cleanly.
 * `trigger()` asks for a run as soon as possible (coalesced with one already queued).
 */
export interface PeriodicTask {
  /** Schedules the first run after `firstDelayMs` (default 0). */
  start(firstDelayMs?: number): void;
  trigger(): void;
  /** Cancels the timer and waits for a run in progress. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when no run is in progress (tests use it to wait for quiescence). */
  idle(): Promise<void>;
}

export interface PeriodicTaskOptions {
  intervalMs: number;
  run: () => Promise<void>;
  onError: (err: Error) => void;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function createPeriodicTask(opts: PeriodicTaskOptions): PeriodicTask {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let pending = false;
  let stopped = false;
  let started = false;

  const schedule = (delay: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, delay);
  };

  function tick(): void {
    timer = null;
    if (stopped) return;
    if (running) {
      pending = true;
      return;
    }
    running = (async () => {
      try {
        await opts.run();
      } catch (err) {
        try {
          opts.onError(asError(err));
        } catch {
          // An onError hook that throws must not take the agent down either.
        }
      }
    })().finally(() => {
      running = null;
      if (stopped) return;
      if (pending) {
        pending = false;
        schedule(0);
      } else {
        schedule(opts.intervalMs);
      }
    });
  }

  return {
    start(firstDelayMs = 0) {
      if (started || stopped) return;
      started = true;
      schedule(firstDelayMs);
    },
    trigger() {
      if (stopped || !started) return;
      if (running) pending = true;
      else schedule(0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
    async idle() {
      await running;
    },
  };
}

/** Runs async jobs one at a time in call order (a timer run and a manual checkNow never interleave). */
export function createSerialQueue(): <T>(job: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>): Promise<T> => {
    const next = tail.then(job, job);
    tail = next.catch(() => undefined);
    return next;
  };
}
