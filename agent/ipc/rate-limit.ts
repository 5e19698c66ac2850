/**
 * A token bucket on a monotonic clock: `burst` requests at once, then one more every `refillMs`.
 * Used to keep a local user from flooding the agent or guessing offline codes quickly.
 */
export interface TokenBucket {
  /** Takes a token; false when none is left. */
  take(): boolean;
  /** Milliseconds until the next token (0 when one is available). */
  retryAfterMs(): number;
}

export interface TokenBucketOptions {
  burst: number;
  refillMs: number;
  monotonicMs: () => number;
}

/** Creates a full bucket. */
export function createTokenBucket(opts: TokenBucketOptions): TokenBucket {
  let tokens = opts.burst;
  let last = opts.monotonicMs();

  function refill(): void {
    const now = opts.monotonicMs();
    const gained = Math.floor((now - last) / opts.refillMs);
    if (gained > 0) {
      tokens = Math.min(opts.burst, tokens + gained);
      last = tokens === opts.burst ? now : last + gained * opts.refillMs;
    }
  }

  return {
    take() {
      refill();
      if (tokens <= 0) return false;
      if (tokens === opts.burst) last = opts.monotonicMs();
      tokens--;
      return true;
    },
    retryAfterMs() {
      refill();
      return tokens > 0 ? 0 : Math.max(0, last + opts.refillMs - opts.monotonicMs());
    },
  };
}
