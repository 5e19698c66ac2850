import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEAT_NAME_RE, SEAT_PATTERN_RE, matchSeatPattern } from '../../../collector/enrollment/seat-pattern.js';

describe('matchSeatPattern', () => {
  it.each([
    ['CC-LYON-*', 'CC-LYON-042', true],
    ['CC-LYON-*', 'cc-lyon-042', true],
    ['CC-LYON-*', 'CC-PARIS-042', false],
    ['CC-???', 'CC-001', true],
    ['CC-???', 'CC-0001', false],
    ['*', 'anything', true],
    ['*-01', 'a-b-01', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    ['CC.LYON', 'CCXLYON', false],
  ])('pattern %s vs %s → %s', (pattern, name, expected) => {
    expect(matchSeatPattern(pattern, name)).toBe(expected);
  });

  it('agrees with an anchored regular-expression reference on random inputs', () => {
    const alphabet = fc.constantFrom('a', 'b', '-', '.', '1');
    const patternChar = fc.oneof(alphabet, fc.constant('*'), fc.constant('?'));
    fc.assert(
      fc.property(fc.array(patternChar, { maxLength: 8 }), fc.array(alphabet, { maxLength: 10 }), (p, n) => {
        const pattern = p.join('');
        const name = n.join('');
        const re = new RegExp(`^${p.map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace('.', '\\.'))).join('')}$`, 'is');
        expect(matchSeatPattern(pattern, name)).toBe(re.test(name));
      }),
    );
  });

  it('accepts seat names and patterns only in the safe alphabet', () => {
    expect(SEAT_NAME_RE.test('CC-LYON-042')).toBe(true);
    expect(SEAT_NAME_RE.test('-leading')).toBe(false);
    expect(SEAT_NAME_RE.test('seat\u202e1')).toBe(false);
    expect(SEAT_PATTERN_RE.test('CC-*')).toBe(true);
    expect(SEAT_PATTERN_RE.test('CC *')).toBe(false);
  });
});
