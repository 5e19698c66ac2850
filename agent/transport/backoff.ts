/**
 * Exponential backoff with full jitter: a uniformly random delay in [0, min(cap, base·2^attempt)).
 * Full jitter spreads a fleet's reconnects after a collector restart instead of synchronizing them.
 * Agent defaults are base 1 s, cap 60 s (see AgentConfig): shorter than house-style's 5 s → 5 min,
 * because an unlock request waits on this link; the jitter, not the cap, prevents the herd.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(Math.min(Math.max(random(), 0), 0.999_999) * ceiling);
}
