import { describe, expect, it } from 'vitest';
import { baselineOf, codeDrift, seatCodeOf } from '../../../../collector/store/code-drift.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

describe('code drift baseline', () => {
  it('takes the hash most seats of a version report, whatever the order of the groups', () => {
    const groups = [
      { version: '1.0', sha256: B, seats: 1 },
      { version: '1.0', sha256: A, seats: 5 },
      { version: '1.0', sha256: C, seats: 2 },
    ];
    for (const order of [groups, [...groups].reverse()]) expect(baselineOf(order).get('1.0')).toEqual({ sha256: A, seats: 8, variants: 3 });
  });

  it('has no reference when two hashes tie for the most seats, until a third group outnumbers them', () => {
    expect(baselineOf([{ version: '1.0', sha256: A, seats: 3 }, { version: '1.0', sha256: B, seats: 3 }, { version: '1.0', sha256: C, seats: 1 }]).get('1.0')?.sha256).toBeNull();
    expect(baselineOf([{ version: '1.0', sha256: A, seats: 3 }, { version: '1.0', sha256: B, seats: 3 }, { version: '1.0', sha256: C, seats: 4 }]).get('1.0')?.sha256).toBe(C);
  });

  it('calls drift only against the same version, and gives no verdict without a hash or a reference', () => {
    const baseline = baselineOf([{ version: '1.0', sha256: A, seats: 2 }, { version: '1.1', sha256: B, seats: 1 }]);
    const at = '2026-01-01T00:00:00Z';
    expect(codeDrift({ agent_version: '1.1', sha256: B, reported_at: at }, baseline)).toBe(false);
    expect(codeDrift({ agent_version: '1.0', sha256: B, reported_at: at }, baseline)).toBe(true);
    expect(codeDrift({ agent_version: '2.0', sha256: B, reported_at: at }, baseline)).toBeNull();
    expect(codeDrift({ agent_version: '1.0', sha256: null, reported_at: at }, baseline)).toBeNull();
    expect(codeDrift(null, baseline)).toBeNull();
  });

  it('reads a stored code report back, treating anything malformed as no hash or no report', () => {
    expect(seatCodeOf(JSON.stringify(['1.0', A, '2026-01-01T00:00:00Z']))).toEqual({ agent_version: '1.0', sha256: A, reported_at: '2026-01-01T00:00:00Z' });
    expect(seatCodeOf(JSON.stringify(['1.0', '<script>', '2026-01-01T00:00:00Z']))?.sha256).toBeNull();
    expect(seatCodeOf(JSON.stringify([null, null, '2026-01-01T00:00:00Z']))).toEqual({ agent_version: null, sha256: null, reported_at: '2026-01-01T00:00:00Z' });
    expect(seatCodeOf('not json')).toBeNull();
    expect(seatCodeOf(null)).toBeNull();
  });
});
