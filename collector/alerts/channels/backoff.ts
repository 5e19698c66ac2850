/** Retry timing of the dispatcher. Times in milliseconds. */
export interface RetryPolicy {
  /** First retry delay before jitter (default 1000 ms). */
  baseMs: number;
  /** Upper bound of any delay (default 300000 ms = 5 min). */
  maxMs: number;
  /** Tries per alert and channel before it counts as failed; 0 = retry forever (default 12). */
  maxAttempts: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ baseMs: 1_000, maxMs: 300_000, maxAttempts: 12 });

/**
 * Delay before the next try after `failures` consecutive failures (≥ 1): exponential
 * `baseMs·2^(failures−1)` capped at `maxMs`, with "equal jitter" (half fixed, half random) so many
 * collectors restarting together do not hammer a receiver in lockstep, yet never retry at once.
 */
export function backoffDelay(failures: number, policy: Pick<RetryPolicy, 'baseMs' | 'maxMs'>, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 52)));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(exp / 2 + (r * exp) / 2);
}
