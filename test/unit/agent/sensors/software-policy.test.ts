import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DENYLIST,
  DEFAULT_SOFTWARE_POLICY,
  compareDebianVersions,
  compileSoftwarePolicy,
  evaluateSoftware,
  globToRegExp,
  parseVersionRange,
  versionSatisfies,
  type CompiledSoftwarePolicy,
  type SoftwarePolicy,
} from '../../../../shared/domain/software-policy.js';

function compile(p: SoftwarePolicy): CompiledSoftwarePolicy {
  const r = compileSoftwarePolicy(p);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.policy;
}

describe('Debian version comparison', () => {
  // [a, b, sign of compare(a, b)] — cases from Debian policy §5.6.12 and dpkg's own test suite style.
  const TABLE: Array<[string, string, -1 | 0 | 1]> = [
    ['1.0', '1.0', 0],
    ['1.0', '1.0-0', 0],
    ['1.0-1', '1.0-2', -1],
    ['1.2.3', '1.10', -1],
    ['1.10', '1.9', 1],
    ['1.0~rc1', '1.0', -1],
    ['1.0~rc1', '1.0~rc2', -1],
    ['1.0~~', '1.0~', -1],
    ['1.0~', '1.0', -1],
    ['1.0', '1.0a', -1],
    ['1.0a', '1.0+', -1],
    ['1.0+b1', '1.0', 1],
    ['1.0.0', '1.0', 1],
    ['1:0.1', '2.0', 1],
    ['0:2.0', '2.0', 0],
    ['2:1.0', '10:0.1', -1],
    ['1.0-1ubuntu1', '1.0-1', 1],
    ['7.93+dfsg1-1', '7.93-1', 1],
    ['2.36-9+deb12u10', '2.36-9+deb12u9', 1],
    ['2.36-9+deb12u10', '2.36-10', -1],
    ['00001.0', '1.0', 0],
    ['1.0.', '1.0', 1],
    ['a', '', 1],
    ['~', '', -1],
    ['1:1.2.3-4', '1:1.2.3-4', 0],
    ['99999999999999999999', '99999999999999999998', 1],
  ];

  it.each(TABLE)('compare(%j, %j) has sign %i, and the reverse the opposite sign', (a, b, sign) => {
    expect(Math.sign(compareDebianVersions(a, b))).toBe(sign);
    expect(Math.sign(compareDebianVersions(b, a))).toBe(-sign || 0);
  });

  it('agrees with the real dpkg --compare-versions on random versions', () => {
    // A small alphabet so that pairs often share prefixes and the interesting rules (~, +, letters,
    // leading zeros, missing revision) decide; epochs are rare so they do not decide most pairs.
    const upstream = fc.stringMatching(/^[0-2][0-2a.+~]{0,5}$/);
    const epoch = fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 }) });
    const revision = fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.stringMatching(/^[0-2][0-2a+.~]{0,3}$/) });
    const version = fc
      .tuple(epoch, upstream, revision)
      .map(([e, u, r]) => `${e === undefined ? '' : `${e}:`}${u}${r === undefined ? '' : `-${r}`}`);
    const pairs = fc.sample(fc.tuple(version, version), { numRuns: 150, seed: 42 });
    for (const [a, b] of pairs) {
      const lt = (() => {
        try {
          execFileSync('dpkg', ['--compare-versions', a, 'lt', b], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      })();
      const eq = (() => {
        try {
          execFileSync('dpkg', ['--compare-versions', a, 'eq', b], { stdio: 'ignore' });
          return true;
        } catch {
          return false;
        }
      })();
      const expected = lt ? -1 : eq ? 0 : 1;
      expect(Math.sign(compareDebianVersions(a, b)), `${a} vs ${b}`).toBe(expected);
    }
  });

  it('parses and applies Debian relation ranges', () => {
    const r = parseVersionRange('>= 7.0, << 7.94');
    expect(r).toEqual([
      { op: '>=', version: '7.0' },
      { op: '<<', version: '7.94' },
    ]);
    if ('error' in r) throw new Error('unreachable');
    expect(versionSatisfies('7.93+dfsg1-1', r)).toBe(true);
    expect(versionSatisfies('7.94', r)).toBe(false);
    expect(versionSatisfies('6.40', r)).toBe(false);
    expect(versionSatisfies('1:1.0', parseVersionRange('>> 9.9') as never)).toBe(true);
  });

  it('refuses the ambiguous bare < and > and garbage', () => {
    expect(parseVersionRange('< 1.0')).toHaveProperty('error');
    expect(parseVersionRange('>= 1.0,')).toHaveProperty('error');
    expect(parseVersionRange('>= ;rm -rf')).toHaveProperty('error');
  });
});

describe('software policy', () => {
  const H = 'a'.repeat(64);

  it('ships a default denylist that compiles and denies known tools and games', () => {
    const p = compile(DEFAULT_SOFTWARE_POLICY);
    expect(p.mode).toBe('audit');
    const pkg = (name: string) => evaluateSoftware(p, { kind: 'package', name, version: '1.0' });
    for (const n of ['nmap', 'wireshark', 'john', 'hydra', 'aircrack-ng', 'metasploit-framework', 'sqlmap', 'nikto', 'ettercap-graphical', 'hashcat', 'steam', 'supertux', '0ad', 'Wireshark 4.2.3 x64', 'Steam', 'Nmap 7.94']) {
      expect(pkg(n).verdict, n).toBe('deny');
    }
    expect(pkg('nmap').category).toBe('hacking');
    expect(pkg('supertux').category).toBe('game');
    for (const n of ['bash', 'libc6', 'openssh-client', 'Google Chrome', '7-Zip 23.01 (x64)', 'steamroller']) expect(pkg(n).verdict, n).toBe('allow');
    expect(evaluateSoftware(p, { kind: 'process', path: '/usr/bin/nmap', sha256: H }).verdict).toBe('deny');
    expect(evaluateSoftware(p, { kind: 'process', path: 'C:\\Program Files (x86)\\Nmap\\NMAP.EXE', sha256: null }).verdict).toBe('deny');
    expect(evaluateSoftware(p, { kind: 'process', path: '/usr/bin/bash', sha256: H }).verdict).toBe('allow');
    expect(new Set(DEFAULT_DENYLIST.map((r) => r.id)).size).toBe(DEFAULT_DENYLIST.length);
  });

  it('lets a sha256 deny beat any allow, an allow beat a name deny, and falls back to the default', () => {
    const p = compile({
      mode: 'enforce',
      default: 'allow',
      allow: [
        { id: 'allow-usr', path: '/usr/bin/**' },
        { id: 'allow-wireshark', package: 'wireshark' },
      ],
      deny: [
        { id: 'bad-hash', sha256: H, reason: 'known malware' },
        { id: 'no-wireshark', package: 'wireshark*' },
      ],
    });
    expect(evaluateSoftware(p, { kind: 'process', path: '/usr/bin/ls', sha256: H })).toMatchObject({ verdict: 'deny', ruleId: 'bad-hash', reason: 'known malware' });
    expect(evaluateSoftware(p, { kind: 'package', name: 'wireshark', version: '4.0' })).toMatchObject({ verdict: 'allow', ruleId: 'allow-wireshark' });
    expect(evaluateSoftware(p, { kind: 'package', name: 'wireshark-qt', version: '4.0' })).toMatchObject({ verdict: 'deny', ruleId: 'no-wireshark' });
    expect(evaluateSoftware(p, { kind: 'package', name: 'vim', version: '9' })).toEqual({ verdict: 'allow', ruleId: 'default', category: null, reason: 'no rule matched; policy default is allow' });
  });

  it('supports allowlist mode (default deny)', () => {
    const p = compile({ mode: 'audit', default: 'deny', allow: [{ id: 'base', package: 'lib*' }], deny: [] });
    expect(evaluateSoftware(p, { kind: 'package', name: 'libc6', version: '2.36' }).verdict).toBe('allow');
    expect(evaluateSoftware(p, { kind: 'package', name: 'vim', version: '9' }).verdict).toBe('deny');
  });

  it('matches package versions by range, and an unknown version matches deny ranges only (fail closed)', () => {
    const p = compile({
      mode: 'audit',
      default: 'allow',
      allow: [{ id: 'new-enough', package: 'openssl', versions: '>= 3.0.11' }],
      deny: [{ id: 'old-nmap', package: 'nmap', versions: '<< 7.90' }, { id: 'old-openssl', package: 'openssl' }],
    });
    expect(evaluateSoftware(p, { kind: 'package', name: 'nmap', version: '7.80+dfsg1-2' }).verdict).toBe('deny');
    expect(evaluateSoftware(p, { kind: 'package', name: 'nmap', version: '7.93+dfsg1-1' }).verdict).toBe('allow');
    expect(evaluateSoftware(p, { kind: 'package', name: 'nmap', version: null }).verdict).toBe('deny');
    expect(evaluateSoftware(p, { kind: 'package', name: 'openssl', version: '3.0.11-1~deb12u2' }).ruleId).toBe('new-enough');
    expect(evaluateSoftware(p, { kind: 'package', name: 'openssl', version: null }).ruleId).toBe('old-openssl');
  });

  it('matches deny globs case-insensitively but allow globs case-sensitively', () => {
    const p = compile({ mode: 'enforce', default: 'deny', allow: [{ id: 'opt-app', path: '/opt/app/*' }], deny: [{ id: 'x', path: 'evil' }] });
    expect(evaluateSoftware(p, { kind: 'process', path: '/opt/app/run', sha256: null }).verdict).toBe('allow');
    expect(evaluateSoftware(p, { kind: 'process', path: '/OPT/APP/run', sha256: null }).verdict).toBe('deny');
    expect(evaluateSoftware(p, { kind: 'process', path: '/home/u/EVIL', sha256: null }).ruleId).toBe('x');
  });

  it('matches publisher where the platform knows it', () => {
    const p = compile({ mode: 'audit', default: 'allow', allow: [], deny: [{ id: 'valve', publisher: 'Valve*' }] });
    expect(evaluateSoftware(p, { kind: 'package', name: 'Anything', version: '1', publisher: 'Valve Corporation' }).verdict).toBe('deny');
    expect(evaluateSoftware(p, { kind: 'package', name: 'Anything', version: '1', publisher: null }).verdict).toBe('allow');
  });

  it('keeps globs to one path segment for * and across segments for **', () => {
    expect(globToRegExp('/usr/*/x', false).test('/usr/bin/x')).toBe(true);
    expect(globToRegExp('/usr/*/x', false).test('/usr/a/b/x')).toBe(false);
    expect(globToRegExp('/usr/**/x', false).test('/usr/a/b/x')).toBe(true);
    expect(globToRegExp('a.b(c)+', false).test('a.b(c)+')).toBe(true);
    expect(globToRegExp('a.b', false).test('axb')).toBe(false);
  });

  it('lists every problem of an invalid policy', () => {
    const r = compileSoftwarePolicy({
      mode: 'enforce',
      default: 'allow',
      allow: [{ id: 'dup', package: 'a' }],
      deny: [{ id: 'dup', package: 'b' }, { id: 'empty' }, { id: 'range', versions: '>= 1' }, { id: 'bad', package: 'c', versions: '~> 1' }],
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toEqual([
        'duplicate rule id dup',
        'deny[1]: rule empty has no matcher (package, sha256, path or publisher)',
        'deny[2]: rule range has no matcher (package, sha256, path or publisher)',
        'deny[3]: rule bad: bad version relation "~> 1"',
      ]);
    }
    const schema = compileSoftwarePolicy({ mode: 'kill-all', default: 'allow', allow: [], deny: [{ id: 'x', sha256: 'ABC' }] });
    expect(schema.ok).toBe(false);
    if (!schema.ok) expect(schema.errors.length).toBeGreaterThanOrEqual(2);
  });
});
