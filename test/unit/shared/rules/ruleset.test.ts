import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatRule, parseRule, parseRuleset, scanRuleset } from '../../../../shared/rules/index.js';

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../../fixtures/rules/${name}`, import.meta.url)), 'utf8');

describe('parseRuleset', () => {
  it('skips blank and comment lines and reports the line of every rule', () => {
    const text = '# policy\n\nallow id 1234:5678\n   \n\t# indented comment\nblock   # trailing comment\n';
    const res = parseRuleset(text);
    expect(res.errors).toEqual([]);
    expect(res.rules).toEqual([{ target: 'allow', id: { op: 'equals', values: ['1234:5678'] } }, { target: 'block' }]);
    expect(res.lines).toEqual([3, 6]);
  });

  it('reads CRLF line endings and a leading byte order mark', () => {
    const res = parseRuleset('\ufeffallow\r\nreject\r\n');
    expect(res.errors).toEqual([]);
    expect(res.rules.map((r) => r.target)).toEqual(['allow', 'reject']);
  });

  it('returns no rules and no errors for an empty file', () => {
    expect(parseRuleset('')).toEqual({ rules: [], lines: [], errors: [] });
  });

  it('reports every bad line with its line, column and reason and keeps the good ones', () => {
    const res = parseRuleset(fixture('bad.rules'));
    expect(res.errors).toEqual([
      { line: 4, column: 1, position: 0, message: "unknown rule target 'alloww': expected allow, block or reject" },
      { line: 5, column: 7, position: 6, message: "unknown attribute 'vendor'" },
      {
        line: 6,
        column: 12,
        position: 11,
        message: 'unterminated string: no closing \'"\' for the string started at column 12',
      },
      {
        line: 7,
        column: 23,
        position: 22,
        message: "invalid interface type '0z:*:*': expected two hex digits for the class",
      },
      { line: 8, column: 18, position: 17, message: "duplicate attribute 'serial' (already given at column 7)" },
      {
        line: 9,
        column: 45,
        position: 44,
        message: "expected '}' to close the set started at column 29, found the end of the rule",
      },
      { line: 10, column: 7, position: 6, message: 'except-interface is only valid on allow rules, not on block' },
      {
        line: 11,
        column: 25,
        position: 24,
        message: "invalid time '25:00': expected HH:MM or HH:MM:SS (00:00 to 23:59:59)",
      },
    ]);
    expect(res.lines).toEqual([2, 12]);
  });

  it('counts columns in code points, so a line with emoji points at the right character', () => {
    const res = parseRuleset('allow name "🔑🔑" vendor "x"');
    expect(res.errors[0]).toMatchObject({ column: 17, position: 18, message: "unknown attribute 'vendor'" });
  });

  it('applies the usbguard dialect to every line', () => {
    const res = parseRuleset(fixture('seatguard-extensions.rules'), { dialect: 'usbguard' });
    expect(res.errors.map((e) => e.line)).toEqual([2, 3, 4]);
    expect(parseRuleset(fixture('seatguard-extensions.rules')).errors).toEqual([]);
  });
});

describe('ruleset fixtures', () => {
  it.each(['usbguard-manual.rules', 'generate-policy.rules'])('%s parses in both dialects', (name) => {
    const text = fixture(name);
    expect(parseRuleset(text).errors).toEqual([]);
    expect(parseRuleset(text, { dialect: 'usbguard' }).errors).toEqual([]);
  });

  it('reads generate-policy output, decoding \\xHH names and keeping empty strings', () => {
    const res = parseRuleset(fixture('generate-policy.rules'));
    expect(res.rules).toHaveLength(7);
    expect(res.rules[0]?.withConnectType).toEqual({ op: 'equals', values: [''] });
    expect(res.rules[6]?.name).toEqual({ op: 'equals', values: ['Caméra "HD" \\ Pro'] });
    expect(res.rules[4]?.withInterface?.values).toEqual(['ff:ff:00', '02:06:00', '0a:00:00', '0a:00:00']);
  });

  it('formats every fixture rule to text that parses back to the same rule', () => {
    for (const name of ['usbguard-manual.rules', 'generate-policy.rules', 'seatguard-extensions.rules']) {
      for (const rule of parseRuleset(fixture(name)).rules) {
        expect(parseRule(formatRule(rule))).toStrictEqual(rule);
      }
    }
  });
});

describe('scanRuleset', () => {
  it('classifies each line', () => {
    expect(scanRuleset('# c\n\nallow\nnope').map((l) => l.kind)).toEqual(['comment', 'blank', 'rule', 'error']);
  });
});
