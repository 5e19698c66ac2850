import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../../../collector/alerts/channels/backoff.js';

const policy = { baseMs: 100, maxMs: 5_000 };

describe('backoffDelay', () => {
  it('doubles per consecutive failure with half of the delay jittered', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(100);
    expect(backoffDelay(2, policy, () => 0)).toBe(100);
    expect(backoffDelay(4, policy, () => 1)).toBe(800);
  });

  it('never exceeds maxMs, even after very many failures', () => {
    for (const n of [7, 50, 1_000, 1e9]) {
      const d = backoffDelay(n, policy, () => 1);
      expect(d).toBe(5_000);
    }
    expect(backoffDelay(1e9, policy, () => 0)).toBe(2_500);
  });

  it('stays within [exp/2, exp] for random jitter', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, policy);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });
});
