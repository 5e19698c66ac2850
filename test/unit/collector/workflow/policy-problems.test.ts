import { describe, expect, it } from 'vitest';
import { MAX_POLICY_BYTES, policyProblems } from '../../../../collector/workflow/policy-service.js';
import { DEFAULT_POLICY } from '../../../../shared/rules/index.js';

describe('policyProblems', () => {
  it('accepts the default policy', () => {
    expect(policyProblems(DEFAULT_POLICY)).toEqual([]);
  });

  it('reports every bad line with its line and column', () => {
    const problems = policyProblems('allow except-interface { 08:*:* }\nallow id zz:5567\n\nreject with-interface { 08:*:*\n');
    expect(problems.map((p) => p.line)).toEqual([2, 4]);
    expect(problems.every((p) => p.column >= 1 && p.message.length > 0)).toBe(true);
  });

  it('refuses a policy without any rule (the implicit target would block keyboards too)', () => {
    expect(policyProblems('# only a comment\n\n')).toHaveLength(1);
  });

  it('refuses a policy too large for one protocol frame', () => {
    const big = `${'# filler\n'.repeat(Math.ceil(MAX_POLICY_BYTES / 9))}allow except-interface { 08:*:* }\n`;
    expect(policyProblems(big)[0]?.message).toMatch(/larger than/);
  });
});
