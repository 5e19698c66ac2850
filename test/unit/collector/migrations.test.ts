import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../collector/store/migrations.js';

describe('collector migrations list', () => {
  it('is ordered by strictly increasing version starting at 1, named NNN-what', () => {
    MIGRATIONS.forEach((m, i) => {
      expect(m.version).toBe(i + 1);
      expect(m.name).toMatch(new RegExp(`^${String(m.version).padStart(3, '0')}-[a-z0-9-]+$`));
    });
  });

  it('is frozen so nothing can reorder it at run time', () => {
    expect(Object.isFrozen(MIGRATIONS)).toBe(true);
  });
});
