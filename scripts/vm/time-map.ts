import type { GuestShell } from './command-channel.js';

/**
 * Maps host performance.now() to guest uptime. Measured by reading /proc/uptime over the command
 * channel and assuming it was read halfway through the round trip; `uncertaintyMs` is half the
 * best round trip. TCG slows the guest, not its clock: guest time runs at host speed.
 */
export interface TimeMap {
  /** guestUptimeMs - hostMs */
  offsetMs: number;
  uncertaintyMs: number;
  toGuestS(hostMs: number): number;
  toHostMs(guestS: number): number;
}

/** Takes `rounds` readings and keeps the one with the shortest round trip. */
export async function measureTimeMap(shell: GuestShell, rounds = 5): Promise<TimeMap> {
  let best: { rtt: number; offset: number } | null = null;
  for (let i = 0; i < rounds; i++) {
    const before = performance.now();
    const out = await shell.check('cat /proc/uptime', { timeoutMs: 10_000 });
    const after = performance.now();
    const guestMs = Number(out.split(' ')[0]) * 1000;
    const rtt = after - before;
    // /proc/uptime has 10 ms resolution: the reading is up to 10 ms behind the true instant.
    const offset = guestMs + 5 - (before + after) / 2;
    if (!best || rtt < best.rtt) best = { rtt, offset };
  }
  if (!best) throw new Error('measureTimeMap needs at least one round');
  const { offset, rtt } = best;
  return {
    offsetMs: offset,
    uncertaintyMs: rtt / 2 + 5,
    toGuestS: (hostMs) => (hostMs + offset) / 1000,
    toHostMs: (guestS) => guestS * 1000 - offset,
  };
}
