/**
 * Bounded waiting for the VM lab: poll a condition until it holds or a deadline passes. Every wait
 * in the harness goes through here, so nothing can hang a CI job.
 */
export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Shown in the timeout error: what was being waited for. */
  what: string;
  /** An error from `fn` for which this returns true ends the wait at once (e.g. "process exited"). */
  failFast?: (err: unknown) => boolean;
}

/** Resolves with the first non-null/undefined/false value of `fn`; rejects after `timeoutMs`. */
export async function waitUntil<T>(fn: () => Promise<T | null | undefined | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      if (opts.failFast?.(err)) throw err;
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const why = lastErr instanceof Error ? `; last error: ${lastErr.message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}`, { cause: lastErr });
    }
    await delay(opts.intervalMs ?? 100);
  }
}

/** A plain timer promise (used only between polls, never instead of a condition). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `onTimeout()` if `p` does not settle within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
