import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The clock grant expiry counts on. `monotonicMs()` is CLOCK_MONOTONIC (process.hrtime), which keeps
 * counting across agent restarts within one boot and ignores wall-clock changes; `bootId()` names the
 * boot so a deadline stored before a reboot is recognised as meaningless after it.
 */
export interface BootClock {
  /** Milliseconds since an arbitrary point of this boot; never goes back. */
  monotonicMs(): number;
  /** The kernel's boot id, or null when it cannot be read (then stored deadlines are not trusted). */
  bootId(): string | null;
}

const BOOT_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reads `<procRoot>/sys/kernel/random/boot_id`; null when absent (Windows, containers without /proc) or malformed. */
export function readBootId(procRoot = '/proc'): string | null {
  try {
    const id = readFileSync(join(procRoot, 'sys', 'kernel', 'random', 'boot_id'), 'utf8').trim().toLowerCase();
    return BOOT_ID_RE.test(id) ? id : null;
  } catch {
    return null;
  }
}

/**
 * The real boot clock. process.hrtime.bigint() is uv_hrtime = clock_gettime(CLOCK_MONOTONIC) on
 * Linux: it does not advance while the machine is suspended, which is why grants also end at the
 * wall-clock expires_at (whichever comes first).
 */
export function systemBootClock(procRoot = '/proc'): BootClock {
  // The boot id cannot change while this process lives; read it once.
  const id = readBootId(procRoot);
  return {
    monotonicMs: () => Number(process.hrtime.bigint() / 1_000_000n),
    bootId: () => id,
  };
}

/** A boot clock tests drive by hand: advance the monotonic time, "reboot" with a new id. */
export class ManualBootClock implements BootClock {
  #mono: number;
  #id: string | null;
  constructor(startMs = 5_000, id: string | null = '00000000-0000-4000-8000-000000000001') {
    this.#mono = startMs;
    this.#id = id;
  }
  monotonicMs(): number {
    return this.#mono;
  }
  bootId(): string | null {
    return this.#id;
  }
  advance(ms: number): void {
    this.#mono += ms;
  }
  /** A reboot: CLOCK_MONOTONIC starts again near zero and the boot id changes. */
  reboot(id: string | null, startMs = 1_000): void {
    this.#id = id;
    this.#mono = startMs;
  }
}
