import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../collector/store/migrations.js';

describe('collector migrations list', () => {
  it('starts at 1 and is ordered by strictly increasing, unique versions named NNN-what', () => {
    expect(MIGRATIONS[0]?.version).toBe(1);
    MIGRATIONS.forEach((m, i) => {
      expect(Number.isSafeInteger(m.version) && m.version >= 1).toBe(true);
      if (i > 0) expect(m.version).toBeGreaterThan(MIGRATIONS[i - 1]!.version);
      expect(m.name).toMatch(new RegExp(`^${String(m.version).padStart(3, '0')}-[a-z0-9-]+$`));
    });
    expect(new Set(MIGRATIONS.map((m) => m.version)).size).toBe(MIGRATIONS.length);
    expect(new Set(MIGRATIONS.map((m) => m.name)).size).toBe(MIGRATIONS.length);
  });

  it('includes the alert engine schema (100-alerts)', () => {
    expect(MIGRATIONS.map((m) => m.name)).toContain('100-alerts');
  });

  it('is frozen so nothing can reorder it at run time', () => {
    expect(Object.isFrozen(MIGRATIONS)).toBe(true);
  });
});
