import type { Clock } from '../../shared/clock.js';

/**
 * Failed-login throttling per user name and per source address. `maxFailures` failures within
 * `lockoutMs` lock the key for `lockoutMs`; each further lockout doubles it, up to `maxLockoutMs`.
 * Strikes are forgotten after `maxLockoutMs` without a failure. Unknown user names are throttled
 * exactly like known ones, so the limiter reveals nothing about which exist.
 * In memory: a restart clears it (documented in docs/security-model.md).
 */
export interface LoginLimiterOptions {
  maxFailures: number;
  lockoutMs: number;
  maxLockoutMs: number;
  /** Failures from one address before it is locked (higher: many agents share a NAT). */
  ipMaxFailures: number;
}

export const DEFAULT_LOGIN_LIMITS: Readonly<LoginLimiterOptions> = Object.freeze({
  maxFailures: 5,
  lockoutMs: 15 * 60_000,
  maxLockoutMs: 24 * 3_600_000,
  ipMaxFailures: 20,
});

export type LimitCheck = { locked: false } | { locked: true; retryAfterMs: number; key: 'user' | 'ip' };

export interface LoginLimiter {
  check(username: string, ip: string): LimitCheck;
  /** Counts a failure; returns which keys became locked by it. */
  recordFailure(username: string, ip: string): { userLocked: boolean; ipLocked: boolean };
  /** A correct password clears the user name's counters (not the address's). */
  recordSuccess(username: string): void;
}

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
  strikes: number;
  lastFailure: number;
}

const MAX_ENTRIES = 50_000;

export function createLoginLimiter(clock: Clock, opts: Partial<LoginLimiterOptions> = {}): LoginLimiter {
  const o = { ...DEFAULT_LOGIN_LIMITS, ...opts };
  const entries = new Map<string, Entry>();
  const userKey = (u: string) => `u:${u.toLowerCase()}`;
  const ipKey = (ip: string) => `i:${ip}`;

  function prune(now: number): void {
    if (entries.size < MAX_ENTRIES) return;
    for (const [k, e] of entries) if (e.lockedUntil <= now && now - e.lastFailure > o.maxLockoutMs) entries.delete(k);
  }

  function lockedFor(key: string, now: number): number {
    const e = entries.get(key);
    return e && e.lockedUntil > now ? e.lockedUntil - now : 0;
  }

  function fail(key: string, max: number, now: number): boolean {
    let e = entries.get(key);
    if (!e) {
      prune(now);
      e = { failures: 0, windowStart: now, lockedUntil: 0, strikes: 0, lastFailure: now };
      entries.set(key, e);
    }
    if (now - e.lastFailure > o.maxLockoutMs) e.strikes = 0;
    if (now - e.windowStart > o.lockoutMs) {
      e.failures = 0;
      e.windowStart = now;
    }
    e.lastFailure = now;
    e.failures++;
    if (e.failures < max) return false;
    e.lockedUntil = now + Math.min(o.lockoutMs * 2 ** e.strikes, o.maxLockoutMs);
    e.strikes++;
    e.failures = 0;
    e.windowStart = now;
    return true;
  }

  return {
    check(username, ip) {
      const now = clock.monotonic();
      const u = lockedFor(userKey(username), now);
      if (u > 0) return { locked: true, retryAfterMs: u, key: 'user' };
      const i = lockedFor(ipKey(ip), now);
      if (i > 0) return { locked: true, retryAfterMs: i, key: 'ip' };
      return { locked: false };
    },
    recordFailure(username, ip) {
      const now = clock.monotonic();
      return { userLocked: fail(userKey(username), o.maxFailures, now), ipLocked: fail(ipKey(ip), o.ipMaxFailures, now) };
    },
    recordSuccess(username) {
      entries.delete(userKey(username));
    },
  };
}
