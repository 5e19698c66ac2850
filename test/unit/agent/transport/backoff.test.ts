import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../../agent/transport/backoff.js';

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    const top = () => 0.999_999_9;
    expect(backoffDelay(0, 10, 1_000, top)).toBe(9);
    expect(backoffDelay(3, 10, 1_000, top)).toBe(79);
    expect(backoffDelay(20, 10, 1_000, top)).toBe(999);
  });

  it('spreads delays over the whole range (full jitter)', () => {
    expect(backoffDelay(4, 100, 60_000, () => 0)).toBe(0);
    expect(backoffDelay(4, 100, 60_000, () => 0.5)).toBe(800);
  });

  it('stays finite for absurd attempt counts and bad random values', () => {
    expect(backoffDelay(10_000, 1_000, 60_000, () => 2)).toBeLessThan(60_000);
    expect(backoffDelay(-5, 1_000, 60_000, () => -1)).toBe(0);
  });
});
