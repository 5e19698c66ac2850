import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_DURATION_SECONDS,
  RuleParseError,
  SET_OPERATORS,
  formatRule,
  parseRule,
  tryParseRule,
  type Condition,
  type ConditionOperator,
  type DeviceMatch,
  type Rule,
  type SetOperator,
} from '../../../../shared/rules/index.js';

describe('formatRule', () => {
  it.each([
    ['allow', 'allow'],
    ['allow name { "a" }', 'allow name "a"'],
    ['allow name equals { "a" "b" }', 'allow name { "a" "b" }'],
    ['allow name one-of { "a" }', 'allow name one-of { "a" }'],
    ['allow   id    046D:*', 'allow id 046d:*'],
    [
      'allow 1050:0011 name "Yubico Yubikey II" serial "0001234567" via-port "1-2" hash "044b5e"',
      'allow id 1050:0011 serial "0001234567" name "Yubico Yubikey II" hash "044b5e" via-port "1-2"',
    ],
    [
      'allow if true label "l" with-connect-type "hotplug" parent-hash "p" with-interface 08:*:* id 1234:5678',
      'allow id 1234:5678 parent-hash "p" with-interface 08:*:* with-connect-type "hotplug" label "l" if true',
    ],
    ['allow label "l" except-interface { 08:*:* } name "n"', 'allow name "n" except-interface 08:*:* label "l"'],
    ['allow except-interface { 08:*:* 0A:*:* }', 'allow except-interface { 08:*:* 0a:*:* }'],
    ['allow if { true }', 'allow if true'],
    ['allow if all-of { true }', 'allow if all-of { true }'],
    ['allow if { true !false }', 'allow if { true !false }'],
    ['allow if localtime(8:00)', 'allow if localtime(08:00)'],
    ['allow if localtime(8:00:30-17:0)', 'allow if localtime(08:00:30-17:00)'],
    ['allow if localtime(08:00-08:00)', 'allow if localtime(08:00)'],
    ['allow if rule-applied(90)', 'allow if rule-applied(00:01:30)'],
    ['allow if rule-evaluated(100:00)', 'allow if rule-evaluated(100:00:00)'],
    ['allow if random(.5)', 'allow if random(0.5)'],
    ['allow if allowed-matches( 046d:c52b )', 'allow if allowed-matches(id 046d:c52b)'],
    ['allow # comment', 'allow'],
  ])('formats %s as %s', (input, canonical) => {
    expect(formatRule(parseRule(input))).toBe(canonical);
  });

  it('escapes quotes and backslashes and writes invisible characters as \\xHH bytes', () => {
    const rule: Rule = { target: 'allow', name: { op: 'equals', values: ['a"b\\c\u0001\u202e\u200bé🔑'] } };
    expect(formatRule(rule)).toBe('allow name "a\\"b\\\\c\\x01\\xe2\\x80\\xae\\xe2\\x80\\x8bé🔑"');
  });

  it('writes ", ( and ) as \\xHH inside allowed-matches so USBGuard can read the argument', () => {
    const rule = parseRule('allow if allowed-matches(name "a)b" serial "(\\"")');
    expect(formatRule(rule)).toBe('allow if allowed-matches(serial "\\x28\\x22" name "a\\x29b")');
  });
});

// --- property test: every valid AST survives format → parse ------------------------------------

const hex = (digits: number) =>
  fc.integer({ min: 0, max: 16 ** digits - 1 }).map((n) => n.toString(16).padStart(digits, '0'));
const deviceId = fc.oneof(
  fc.tuple(hex(4), hex(4)).map(([v, p]) => `${v}:${p}`),
  hex(4).map((v) => `${v}:*`),
  fc.constant('*:*'),
);
const ifaceType = fc.oneof(
  fc.tuple(hex(2), hex(2), hex(2)).map(([c, s, p]) => `${c}:${s}:${p}`),
  fc.tuple(hex(2), hex(2)).map(([c, s]) => `${c}:${s}:*`),
  hex(2).map((c) => `${c}:*:*`),
);
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const trickyChar = fc.constantFrom('"', '\\', '(', ')', '#', '{', '}', '!', ' ', '\t', '\u0000', '\u007f', '\u202e', '\u200b', '\ufeff', 'é', 'Ж', '漢', '🔑', 'x', ':', '*');
const ruleString = fc
  .oneof(
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.array(trickyChar, { maxLength: 10 }).map((a) => a.join('')),
  )
  .filter((s) => !LONE_SURROGATE.test(s));
const setOp = fc.constantFrom<SetOperator>(...SET_OPERATORS);
const valueSet = (value: fc.Arbitrary<string>) =>
  fc.record({ op: setOp, values: fc.array(value, { minLength: 1, maxLength: 4 }) });

const deviceMatch: fc.Arbitrary<DeviceMatch> = fc.record(
  {
    id: valueSet(deviceId),
    serial: valueSet(ruleString),
    name: valueSet(ruleString),
    hash: valueSet(ruleString),
    parentHash: valueSet(ruleString),
    viaPort: valueSet(ruleString),
    withInterface: valueSet(ifaceType),
    withConnectType: valueSet(ruleString),
    label: valueSet(ruleString),
  },
  { requiredKeys: [] },
);

const seconds = (max: number) => fc.integer({ min: 0, max });
const condition: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({ kind: fc.constant('true' as const), negated: fc.boolean() }),
  fc.record({ kind: fc.constant('false' as const), negated: fc.boolean() }),
  fc.record({
    kind: fc.constant('random' as const),
    negated: fc.boolean(),
    // -0 prints as "0" and would read back as +0, a different value for toStrictEqual.
    probability: fc.option(fc.double({ min: 0, max: 1, noNaN: true }).map((p) => (p === 0 ? 0 : p))),
  }),
  fc.record({ kind: fc.constantFrom('rule-applied' as const, 'rule-evaluated' as const), negated: fc.boolean(), within: fc.option(seconds(MAX_DURATION_SECONDS)) }),
  fc.record({ kind: fc.constant('localtime' as const), negated: fc.boolean(), begin: seconds(86_399), end: seconds(86_399) }),
  fc.record({
    kind: fc.constant('allowed-matches' as const),
    negated: fc.boolean(),
    query: deviceMatch.filter((m) => Object.keys(m).length > 0),
  }),
);
const conditionSet = fc.record({
  op: fc.constantFrom<ConditionOperator>('all-of', 'one-of', 'none-of', 'equals', 'equals-ordered'),
  items: fc.array(condition, { minLength: 1, maxLength: 5 }),
});

const rule: fc.Arbitrary<Rule> = fc
  .tuple(
    fc.constantFrom('allow' as const, 'block' as const, 'reject' as const),
    deviceMatch,
    fc.option(fc.array(ifaceType, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    fc.option(conditionSet, { nil: undefined }),
  )
  .map(([target, match, except, conditions]) => {
    const r: Record<string, unknown> = { target, ...match };
    if (except && target === 'allow') r['exceptInterface'] = except;
    if (conditions) r['conditions'] = conditions;
    // fc.record builds null-prototype objects; the parser returns plain JSON-shaped ones.
    return JSON.parse(JSON.stringify(r)) as Rule;
  });

// eslint-disable-next-line no-control-regex -- the test looks for exactly these characters
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;

describe('formatRule round trip (property)', () => {
  it('parses the canonical text of any valid rule back to the same rule', () => {
    fc.assert(
      fc.property(rule, (r) => {
        expect(parseRule(formatRule(r))).toStrictEqual(r);
      }),
      { numRuns: 2000 },
    );
  });

  it('produces plain JSON data: a JSON round trip of a parsed rule is the same rule', () => {
    fc.assert(
      fc.property(rule, (r) => {
        const parsed = parseRule(formatRule(r));
        expect(JSON.parse(JSON.stringify(parsed))).toStrictEqual(parsed);
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent: formatting the re-parsed rule gives the same text', () => {
    fc.assert(
      fc.property(rule, (r) => {
        const text = formatRule(r);
        expect(formatRule(parseRule(text))).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });

  it('never writes control, zero-width or bidi characters into rule text', () => {
    fc.assert(
      fc.property(rule, (r) => {
        expect(formatRule(r)).not.toMatch(INVISIBLE);
      }),
      { numRuns: 1000 },
    );
  });

  it('writes rules without extensions so the strict usbguard dialect reads them', () => {
    const plain = rule.filter(
      (r) =>
        r.exceptInterface === undefined &&
        !(r.conditions?.items ?? []).some(
          (c) =>
            (c.kind === 'localtime' && c.begin > c.end) ||
            ((c.kind === 'rule-applied' || c.kind === 'rule-evaluated') && c.within !== null && c.within >= 86_400),
        ),
    );
    fc.assert(
      fc.property(plain, (r) => {
        expect(parseRule(formatRule(r), { dialect: 'usbguard' })).toStrictEqual(r);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects arbitrary text only with a RuleParseError inside the text', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.array(fc.constantFrom('allow ', 'name ', '"x" ', '{ ', '} ', 'if ', '!', 'random(', ')', '08:*:* ', 'one-of ', 'allowed-matches(', '\\', '"'), { maxLength: 12 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(text, (t) => {
        const res = tryParseRule(t);
        if (!res.ok) {
          expect(res.error).toBeInstanceOf(RuleParseError);
          expect(res.error.position).toBeGreaterThanOrEqual(0);
          expect(res.error.position).toBeLessThanOrEqual(t.length);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
