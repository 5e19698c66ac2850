import { describe, expect, it } from 'vitest';
import {
  allowRuleOf,
  checkTarget,
  DEFAULT_SOFTWARE_POLICY_BOUNDS,
  fulfils,
  machinePolicy,
  PERMANENT_DURATION_MS,
  type SoftwareCase,
} from '../../../../collector/workflow/software-case.js';
import { DEFAULT_UNLOCK_POLICY, newCase, transition, type Actor } from '../../../../collector/workflow/unlock-machine.js';
import { compileSoftwarePolicy, DEFAULT_SOFTWARE_POLICY, evaluateSoftware } from '../../../../shared/domain/software-policy.js';

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
const policy = machinePolicy(DEFAULT_UNLOCK_POLICY, DEFAULT_SOFTWARE_POLICY_BOUNDS);
const maintainer: Actor = { id: 'usr_m', roles: ['maintainer'], departments: '*' };
const approver: Actor = { id: 'usr_a', roles: ['approver'], departments: ['sales'] };

function softwareCase(over: Partial<SoftwareCase> = {}): SoftwareCase {
  const base = newCase({ id: 'swr_1', agentId: 'agt_1', department: 'sales', reason: 'training', durationMs: PERMANENT_DURATION_MS, requestedBy: 'usr_r', now: T0, policy });
  return { ...base, target: { package: 'steam', versions: '>= 1.0', sha256: null }, permanent: true, ...over };
}

describe('software targets', () => {
  it.each([
    [{ package: 'libreoffice-calc' }, { package: 'libreoffice-calc', versions: null, sha256: null }],
    [{ package: 'Microsoft Office Professional Plus 2019', versions: '' }, { package: 'Microsoft Office Professional Plus 2019', versions: null, sha256: null }],
    [{ package: 'nmap', versions: ' >= 7.9, << 8 ' }, { package: 'nmap', versions: '>= 7.9, << 8', sha256: null }],
    [{ sha256: 'AB'.repeat(32) }, { package: null, versions: null, sha256: 'ab'.repeat(32) }],
  ])('accepts and normalizes %j', (input, target) => {
    expect(checkTarget(input)).toEqual({ ok: true, target });
  });

  it.each([
    [{}, 'either'],
    [{ package: 'a', sha256: 'a'.repeat(64) }, 'not both'],
    [{ package: 'steam*' }, 'exact'],
    [{ package: 'lib[abc]' }, 'exact'],
    [{ package: ' steam' }, 'printable'],
    [{ package: 'ste\u0000am' }, 'printable'],
    [{ package: 'x'.repeat(129) }, 'printable'],
    [{ package: 'steam', versions: '> 1' }, 'version range'],
    [{ sha256: 'a'.repeat(64), versions: '>= 1' }, 'needs a package'],
    [{ sha256: 'g'.repeat(64) }, '64 hex'],
  ])('refuses %j and names the problem', (input, problem) => {
    const r = checkTarget(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toContain(problem);
  });

  it('turns a case into one allow rule that the shared evaluator lets through over the denylist, for that range only', () => {
    const rule = allowRuleOf(softwareCase());
    expect(rule).toEqual({ id: 'swreq:swr_1', package: 'steam', versions: '>= 1.0', reason: 'approved software request swr_1' });
    const compiled = compileSoftwarePolicy({ ...DEFAULT_SOFTWARE_POLICY, allow: [rule] });
    if (!compiled.ok) throw new Error(compiled.errors.join('; '));
    expect(evaluateSoftware(compiled.policy, { kind: 'package', name: 'steam', version: '1.2' })).toMatchObject({ verdict: 'allow', ruleId: 'swreq:swr_1' });
    expect(evaluateSoftware(compiled.policy, { kind: 'package', name: 'steam', version: '0.9' }).verdict).toBe('deny');
    // Allow rules match package names case-sensitively: "Steam" is not what was approved.
    expect(evaluateSoftware(compiled.policy, { kind: 'package', name: 'Steam', version: '1.2' }).verdict).toBe('deny');
  });

  it('counts an install as fulfilment only for the exact name inside the range', () => {
    const t = { package: 'steam', versions: '>= 1.0', sha256: null };
    expect(fulfils(t, { name: 'steam', version: '1.0' })).toBe(true);
    expect(fulfils(t, { name: 'steam', version: '0.9' })).toBe(false);
    expect(fulfils(t, { name: 'steam', version: null })).toBe(false);
    expect(fulfils(t, { name: 'steam-devices', version: '1.0' })).toBe(false);
    expect(fulfils({ package: null, versions: null, sha256: 'a'.repeat(64) }, { name: 'steam', version: '1' })).toBe(false);
  });
});

describe('the unlock state machine on a software case', () => {
  it('keeps the target through approve → active and refuses the requester, like an unlock', () => {
    const c = softwareCase();
    const self = transition(c, { type: 'approve', actor: { ...maintainer, id: 'usr_r' }, note: '', grantId: 'swa_1' }, T0 + 1, policy);
    expect(self).toMatchObject({ ok: false, code: 'UNLOCK_ERR_SELF_APPROVAL' });

    const r = transition(c, { type: 'approve', actor: maintainer, note: 'ok', grantId: 'swa_1' }, T0 + 1, policy);
    if (!r.ok) throw new Error(r.message);
    expect(r.next).toMatchObject({ state: 'active', target: c.target, permanent: true, grant: { id: 'swa_1', executor: 'usr_m' } });
    expect(r.effects.map((e) => e.kind)).toEqual(['push-grant', 'notify']);
  });

  it('waits for a maintainer to execute when the approver may not, and enforces the department scope', () => {
    const out = transition(softwareCase({ department: 'billing' }), { type: 'approve', actor: approver, note: '', grantId: 'swa_1' }, T0 + 1, policy);
    expect(out).toMatchObject({ ok: false, code: 'UNLOCK_ERR_SCOPE' });
    const r = transition(softwareCase(), { type: 'approve', actor: approver, note: '', grantId: 'swa_1' }, T0 + 1, policy);
    expect(r).toMatchObject({ ok: true, next: { state: 'approved', grant: null } });
  });

  it('lapses undecided software requests after the software window (7 days), not the unlock one', () => {
    const c = softwareCase();
    expect(transition(c, { type: 'lapse' }, T0 + DEFAULT_UNLOCK_POLICY.requestTtlMs, policy)).toMatchObject({ ok: false });
    expect(transition(c, { type: 'lapse' }, T0 + 7 * 86_400_000, policy)).toMatchObject({ ok: true, next: { state: 'lapsed' } });
  });
});
