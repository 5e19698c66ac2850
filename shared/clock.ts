/**
 * Time goes in through deps so tests can drive it. `now()` is wall-clock epoch milliseconds (may
 * jump, may be rolled back by a user); `monotonic()` only moves forward and is what expiries rely on.
 */
export interface Clock {
  now(): number;
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A clock tests advance by hand. */
export class ManualClock implements Clock {
  #wall: number;
  #mono: number;
  constructor(startWallMs = Date.UTC(2026, 0, 1), startMonoMs = 1_000) {
    this.#wall = startWallMs;
    this.#mono = startMonoMs;
  }
  now(): number {
    return this.#wall;
  }
  monotonic(): number {
    return this.#mono;
  }
  advance(ms: number): void {
    this.#wall += ms;
    this.#mono += ms;
  }
  /** Moves only the wall clock, as a user changing the system time would. */
  setWall(ms: number): void {
    this.#wall = ms;
  }
}
