import { describe, expect, it } from 'vitest';
import { isAppError } from '../../../../shared/errors.js';
import { parseRule, RuleParseError, tryParseRule, type Rule, type ValueSet } from '../../../../shared/rules/index.js';

const eq = (...values: string[]): ValueSet => ({ op: 'equals', values });

describe('parseRule accepts', () => {
  // [rule text, expected AST]. Rules marked (manual) are the examples of usbguard-rules.conf(5).
  const cases: Array<[string, Rule]> = [
    ['allow', { target: 'allow' }],
    ['block', { target: 'block' }],
    ['reject', { target: 'reject' }],
    // (manual) example 1
    ['allow with-interface equals { 08:*:* }', { target: 'allow', withInterface: eq('08:*:*') }],
    // (manual) example 2: a bare device id right after the target means `id`
    [
      'allow 1050:0011 name "Yubico Yubikey II" serial "0001234567" via-port "1-2" hash "044b5e168d40ee0245478416caf3d998"',
      {
        target: 'allow',
        id: eq('1050:0011'),
        name: eq('Yubico Yubikey II'),
        serial: eq('0001234567'),
        viaPort: eq('1-2'),
        hash: eq('044b5e168d40ee0245478416caf3d998'),
      },
    ],
    ['reject via-port "1-2"', { target: 'reject', viaPort: eq('1-2') }],
    // (manual) example 3
    [
      'reject with-interface all-of { 08:*:* 03:00:* }',
      { target: 'reject', withInterface: { op: 'all-of', values: ['08:*:*', '03:00:*'] } },
    ],
    // (manual) example 4
    [
      'allow with-interface one-of { 03:00:01 03:01:01 } if !allowed-matches(with-interface one-of { 03:00:01 03:01:01 })',
      {
        target: 'allow',
        withInterface: { op: 'one-of', values: ['03:00:01', '03:01:01'] },
        conditions: {
          op: 'equals',
          items: [
            {
              kind: 'allowed-matches',
              negated: true,
              query: { withInterface: { op: 'one-of', values: ['03:00:01', '03:01:01'] } },
            },
          ],
        },
      },
    ],
    // (manual) example 5
    [
      'allow if random(0.1666)',
      { target: 'allow', conditions: { op: 'equals', items: [{ kind: 'random', negated: false, probability: 0.1666 }] } },
    ],
    // device ids: exact, vendor wildcard, any; hex is case-insensitive and stored lowercase
    ['allow id 046d:c52b', { target: 'allow', id: eq('046d:c52b') }],
    ['allow id 046D:*', { target: 'allow', id: eq('046d:*') }],
    ['allow id *:*', { target: 'allow', id: eq('*:*') }],
    ['allow id { 046d:* 1D6B:0002 }', { target: 'allow', id: eq('046d:*', '1d6b:0002') }],
    // every string attribute
    ['allow serial "4C5300012"', { target: 'allow', serial: eq('4C5300012') }],
    ['allow name "USB Receiver"', { target: 'allow', name: eq('USB Receiver') }],
    ['allow hash "jEP/6Wzv+qdJ="', { target: 'allow', hash: eq('jEP/6Wzv+qdJ=') }],
    ['allow parent-hash "G1eh+GQ="', { target: 'allow', parentHash: eq('G1eh+GQ=') }],
    ['allow via-port { "1-2" "1-3.1" }', { target: 'allow', viaPort: eq('1-2', '1-3.1') }],
    ['allow with-connect-type "hotplug"', { target: 'allow', withConnectType: eq('hotplug') }],
    ['allow with-connect-type ""', { target: 'allow', withConnectType: eq('') }],
    ['allow label "from generate-policy"', { target: 'allow', label: eq('from generate-policy') }],
    ['allow label one-of { "a" "b" }', { target: 'allow', label: { op: 'one-of', values: ['a', 'b'] } }],
    // interface types: exact, protocol wildcard, subclass+protocol wildcard, uppercase
    ['allow with-interface 08:06:50', { target: 'allow', withInterface: eq('08:06:50') }],
    ['allow with-interface 03:00:*', { target: 'allow', withInterface: eq('03:00:*') }],
    ['allow with-interface 0A:Ff:*', { target: 'allow', withInterface: eq('0a:ff:*') }],
    // every set operator; `{ }` without operator and `equals { }` are the same thing
    ['allow name all-of { "a" "b" }', { target: 'allow', name: { op: 'all-of', values: ['a', 'b'] } }],
    ['allow name one-of { "a" }', { target: 'allow', name: { op: 'one-of', values: ['a'] } }],
    ['allow name none-of { "a" }', { target: 'allow', name: { op: 'none-of', values: ['a'] } }],
    ['allow name equals { "a" "b" }', { target: 'allow', name: eq('a', 'b') }],
    ['allow name { "a" "b" }', { target: 'allow', name: eq('a', 'b') }],
    ['allow name { "a" }', { target: 'allow', name: eq('a') }],
    ['allow name equals-ordered { "a" "b" }', { target: 'allow', name: { op: 'equals-ordered', values: ['a', 'b'] } }],
    ['allow with-interface match-all { 03:*:* 09:*:* }', { target: 'allow', withInterface: { op: 'match-all', values: ['03:*:*', '09:*:*'] } }],
    ['allow name {"a"}', { target: 'allow', name: eq('a') }],
    // strings: \" \\ and \xHH escapes, \xHH runs decode as UTF-8, literal UTF-8 and tabs
    ['allow name "say \\"hi\\" \\\\o/"', { target: 'allow', name: eq('say "hi" \\o/') }],
    ['allow name "\\x41\\x42"', { target: 'allow', name: eq('AB') }],
    ['allow name "Cam\\xc3\\xa9ra"', { target: 'allow', name: eq('Caméra') }],
    ['allow name "Ключ 🔑"', { target: 'allow', name: eq('Ключ 🔑') }],
    // Regression: a decoded leading U+FEFF (BOM) must be kept, not dropped by the UTF-8 decoder.
    ['allow name "\\xef\\xbb\\xbfx"', { target: 'allow', name: eq('\ufeffx') }],
    ['allow name "a\tb"', { target: 'allow', name: eq('a\tb') }],
    ['allow name "a # not a comment"', { target: 'allow', name: eq('a # not a comment') }],
    // attributes in any order, blanks and tabs, a trailing comment
    ['\t allow  name "x"\tid 1234:5678   # keyboard', { target: 'allow', name: eq('x'), id: eq('1234:5678') }],
    ['allow# all', { target: 'allow' }],
    // seatguard extension
    ['allow except-interface 08:*:*', { target: 'allow', exceptInterface: ['08:*:*'] }],
    ['allow except-interface { 08:*:* E0:01:01 }', { target: 'allow', exceptInterface: ['08:*:*', 'e0:01:01'] }],
  ];

  it.each(cases)('%s', (text, expected) => {
    expect(parseRule(text)).toStrictEqual(expected);
  });
});

describe('parseRule conditions', () => {
  const cond = (text: string) => {
    const r = parseRule(`allow if ${text}`);
    return r.conditions;
  };
  const one = (c: object) => ({ op: 'equals', items: [c] });

  it.each([
    ['true', { kind: 'true', negated: false }],
    ['false', { kind: 'false', negated: false }],
    ['!true', { kind: 'true', negated: true }],
    ['random', { kind: 'random', negated: false, probability: null }],
    ['random(0.5)', { kind: 'random', negated: false, probability: 0.5 }],
    ['random(1)', { kind: 'random', negated: false, probability: 1 }],
    ['random(.25)', { kind: 'random', negated: false, probability: 0.25 }],
    ['random(1e-3)', { kind: 'random', negated: false, probability: 0.001 }],
    ['rule-applied', { kind: 'rule-applied', negated: false, within: null }],
    ['rule-applied(00:05:00)', { kind: 'rule-applied', negated: false, within: 300 }],
    ['rule-applied(01:30)', { kind: 'rule-applied', negated: false, within: 5400 }],
    ['rule-applied(90)', { kind: 'rule-applied', negated: false, within: 90 }],
    ['!rule-evaluated', { kind: 'rule-evaluated', negated: true, within: null }],
    ['rule-evaluated(48:00:00)', { kind: 'rule-evaluated', negated: false, within: 172800 }],
    ['localtime(08:00-17:00)', { kind: 'localtime', negated: false, begin: 28800, end: 61200 }],
    ['localtime(8:00:30-17:00:59)', { kind: 'localtime', negated: false, begin: 28830, end: 61259 }],
    ['localtime(1:00)', { kind: 'localtime', negated: false, begin: 3600, end: 3600 }],
    ['!localtime(22:00-06:00)', { kind: 'localtime', negated: true, begin: 79200, end: 21600 }],
    ['allowed-matches(name "x")', { kind: 'allowed-matches', negated: false, query: { name: eq('x') } }],
    ['allowed-matches(046d:c52b)', { kind: 'allowed-matches', negated: false, query: { id: eq('046d:c52b') } }],
    [
      'allowed-matches( id 046d:* with-interface 03:*:* )',
      { kind: 'allowed-matches', negated: false, query: { id: eq('046d:*'), withInterface: eq('03:*:*') } },
    ],
    [
      'allowed-matches(name "a)b\\x29")',
      { kind: 'allowed-matches', negated: false, query: { name: eq('a)b)') } },
    ],
  ])('parses %s', (text, expected) => {
    expect(cond(text)).toStrictEqual(one(expected));
  });

  it.each(['all-of', 'one-of', 'none-of', 'equals', 'equals-ordered'])('parses the condition set operator %s', (op) => {
    expect(cond(`${op} { true !false }`)).toStrictEqual({
      op,
      items: [
        { kind: 'true', negated: false },
        { kind: 'false', negated: true },
      ],
    });
  });

  it('treats a set without operator as equals', () => {
    expect(cond('{ true random }')?.op).toBe('equals');
  });

  it('accepts 64 conditions and refuses 65', () => {
    expect(cond(`{ ${'true '.repeat(64)}}`)?.items).toHaveLength(64);
    expect(() => cond(`{ ${'true '.repeat(65)}}`)).toThrow(/too many conditions: at most 64/);
  });

  it('accepts a condition anywhere among the attributes', () => {
    expect(parseRule('allow if true name "x"')).toStrictEqual({
      target: 'allow',
      name: eq('x'),
      conditions: one({ kind: 'true', negated: false }),
    });
  });
});

describe('parseRule rejects', () => {
  // [rule text, 0-based position, message fragment]
  const cases: Array<[string, number, string]> = [
    ['', 0, 'expected a rule target (allow, block or reject), found the end of the rule'],
    ['   # only a comment', 3, 'expected a rule target'],
    ['alloww', 0, "unknown rule target 'alloww': expected allow, block or reject"],
    ['match', 0, "the USBGuard target 'match' is not supported"],
    ['"allow"', 0, 'expected a rule target (allow, block or reject), found a quoted string'],
    ['allow allow', 6, "a rule has one target; 'allow' cannot appear again"],
    ['allow vendor "x"', 6, "unknown attribute 'vendor'"],
    ['allow toString "x"', 6, "unknown attribute 'toString'"],
    ['allow __proto__ "x"', 6, "unknown attribute '__proto__'"],
    ['allow { }', 6, "expected an attribute name, found '{'"],
    ['allow one-of { "a" }', 6, "set operator 'one-of' must follow an attribute name"],
    // device ids
    ['allow id 1234:123', 14, "invalid device id '1234:123': the product id must be 4 hex digits or *"],
    ['allow id asdf:*', 9, "invalid device id 'asdf:*': the vendor id must be 4 hex digits or *"],
    ['allow *:1234', 6, "invalid device id '*:1234': a wildcard vendor needs a wildcard product (*:*)"],
    ['allow id 1234', 9, "invalid device id '1234': expected vvvv:pppp"],
    ['allow id "1234:5678"', 9, "expected a device id vvvv:pppp for 'id', found a quoted string"],
    ['allow name "x" 1234:5678', 15, "a bare device id is only allowed right after the target; write 'id 1234:5678'"],
    // duplicates (USBGuard: "<attribute> attribute already defined")
    ['allow 1234:1234 id 1234:1234', 16, "duplicate attribute 'id' (already given at column 7)"],
    ['allow serial "a" name "n" serial "b"', 26, "duplicate attribute 'serial' (already given at column 7)"],
    ['allow with-interface one-of { 12:12:23 } with-interface 12:11:11', 41, "duplicate attribute 'with-interface'"],
    ['allow label "a" label "b"', 16, "duplicate attribute 'label'"],
    ['allow if true if false', 14, "duplicate attribute 'if' (already given at column 7)"],
    // values and sets
    ['allow name', 10, "expected a value for 'name': a quoted string or a { set }"],
    ['allow name asdf', 11, "expected a quoted string for 'name', found 'asdf'"],
    ['allow name one-of', 17, "expected '{' after set operator 'one-of', found the end of the rule"],
    ['allow name one-of "a"', 18, "expected '{' after set operator 'one-of', found a quoted string"],
    ['allow name one-of{ "a" }', 17, "expected a space before '{'"],
    ['allow name { }', 11, "empty set: 'name' needs at least one value between { and }"],
    ['allow name { a }', 13, "expected a quoted string for 'name', found 'a'"],
    ['allow serial one-of { "a" "b"', 29, "expected '}' to close the set started at column 21, found the end of the rule"],
    ['allow name { "a" { "b" } }', 17, "expected '}' to close the set started at column 12 (sets cannot be nested)"],
    ['allow name }', 11, "expected a value for 'name'"],
    ['allow name "a"serial "b"', 14, "expected a space before 'serial'"],
    ['allow name { "a""b" }', 16, 'expected a space before a quoted string'],
    ['allow name"a"', 10, 'expected a space before a quoted string'],
    // interface types
    ['allow with-interface 0z:*:*', 21, "invalid interface type '0z:*:*': expected two hex digits for the class"],
    ['allow with-interface *:*:*', 21, "invalid interface type '*:*:*': expected two hex digits for the class"],
    ['allow with-interface 12:*:34', 26, "invalid interface type '12:*:34': a wildcard subclass needs a wildcard protocol"],
    ['allow with-interface 12:3:45', 24, 'expected two hex digits or * for the subclass'],
    ['allow with-interface 1::', 21, "invalid interface type '1::': expected two hex digits for the class"],
    ['allow with-interface 08:06', 21, 'expected cc:ss:pp'],
    ['allow with-interface "12:21:32"', 21, "expected an interface type cc:ss:pp for 'with-interface', found a quoted string"],
    ['allow with-interface one-of { * }', 30, "invalid interface type '*'"],
    // strings
    ['allow name "', 11, 'unterminated string: no closing \'"\' for the string started at column 12'],
    ['allow name "a\\"', 11, 'unterminated string'],
    ['allow name "a\\', 11, 'unterminated string'],
    ['allow name "a\\nb"', 13, "unknown escape '\\n': strings allow only \\\", \\\\ and \\xHH"],
    ['allow name "\\x4g"', 12, "invalid escape '\\x4g': \\x needs two hex digits"],
    ['allow name "ok \\xff"', 15, 'the \\x escapes here do not form valid UTF-8 text'],
    ['allow name "\ud800"', 12, 'unpaired UTF-16 surrogate'],
    ['allow\u0001', 5, 'unexpected control character \\x01'],
    ['allow\nblock', 5, 'a rule must fit on one line'],
    ['allow name "a\nb"', 11, 'line break inside the string started at column 12'],
    // conditions
    ['allow if', 8, "expected a condition after 'if'"],
    ['allow if unknown-condition', 9, "unknown condition 'unknown-condition'"],
    ['allow if !randomM', 10, "unknown condition 'randomM'"],
    ['allow if (true', 9, "expected a condition, found '('"],
    ['allow if !!true', 10, "expected a condition name right after '!', found '!'"],
    ['allow if ! true', 11, "expected a condition name right after '!', found 'true'"],
    ['allow if true((', 13, "condition 'true' takes no argument"],
    ['allow if random (0.5)', 16, "no space is allowed between 'random' and '('"],
    ['allow if random(', 16, "expected the argument of 'random' right after '(', found the end of the rule"],
    ['allow if random(0.5', 19, "expected ')' to close the argument of 'random' opened at column 16, found the end of the rule"],
    ['allow if random()', 16, "empty argument for 'random'"],
    ['allow if random(1.5)', 16, "invalid probability '1.5': expected a number from 0 to 1"],
    ['allow if random(-0.1)', 16, "invalid probability '-0.1': expected a number from 0 to 1"],
    ['allow if localtime', 18, "condition 'localtime' needs an argument, e.g. localtime(08:00-17:00)"],
    ['allow if localtime(25:00)', 19, "invalid time '25:00': expected HH:MM or HH:MM:SS"],
    ['allow if localtime(08:00-17:60)', 25, "invalid time '17:60'"],
    ['allow if localtime(08:00-)', 25, "invalid time ''"],
    ['allow if rule-applied(1:60:00)', 22, "invalid duration '1:60:00': minutes and seconds must be below 60"],
    ['allow if rule-evaluated(5m)', 24, "invalid duration '5m': expected HH:MM:SS, HH:MM or a number of seconds"],
    ['allow if rule-applied(99999999)', 22, 'at most 9999:59:59'],
    ['allow if allowed-matches', 24, "condition 'allowed-matches' needs an argument"],
    ['allow if allowed-matches()', 25, 'allowed-matches needs a device query'],
    ['allow if allowed-matches(fooo)', 25, "unknown attribute 'fooo'"],
    ['allow if allowed-matches(name "x"', 33, "expected ')' to close the argument of 'allowed-matches' opened at column 25"],
    ['allow if allowed-matches(if true)', 25, 'conditions are not allowed inside allowed-matches(...)'],
    ['allow if allowed-matches(except-interface 08:*:*)', 25, 'except-interface cannot be used inside allowed-matches(...)'],
    ['allow if match-all { true }', 9, "set operator 'match-all' cannot be used with conditions"],
    ['allow if one-of { }', 16, "empty set: 'if' needs at least one value"],
    ['allow if { true false', 21, "expected '}' to close the set started at column 10"],
    ['allow if true)', 13, "expected an attribute name, found ')'"],
    // seatguard extension rules
    ['block except-interface 08:*:*', 6, 'except-interface is only valid on allow rules, not on block'],
    ['reject except-interface 08:*:*', 7, 'except-interface is only valid on allow rules, not on reject'],
    ['allow except-interface one-of { 08:*:* }', 23, 'except-interface takes a pattern or a plain { set }, without a set operator'],
    ['allow except-interface "08:*:*"', 23, "expected an interface type cc:ss:pp for 'except-interface'"],
  ];

  it.each(cases)('%j at %i: %s', (text, position, message) => {
    const res = tryParseRule(text);
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.error).toBeInstanceOf(RuleParseError);
    expect(res.error.message).toContain(message);
    expect(res.error.position).toBe(position);
  });

  it('throws a RuleParseError that carries the RULES_ERR_PARSE code', () => {
    let caught: unknown;
    try {
      parseRule('allow vendor "x"');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RuleParseError);
    expect(isAppError(caught) && caught.code).toBe('RULES_ERR_PARSE');
    expect((caught as RuleParseError).details).toEqual({ position: 6 });
  });

  it('shows hostile words with escapes and cut short in messages', () => {
    const res = tryParseRule(`allow \u202eevil${'x'.repeat(100)} "a"`);
    expect(res.ok).toBe(false);
    if (res.ok) return;
    expect(res.error.message).toContain("unknown attribute '\\xe2\\x80\\xaeevil");
    expect(res.error.message).toContain('…');
    expect(res.error.message).not.toContain('\u202e');
  });
});

describe('parseRule in the usbguard dialect', () => {
  const strict = { dialect: 'usbguard' } as const;

  it('rejects except-interface as a seatguard extension', () => {
    expect(() => parseRule('allow except-interface { 08:*:* }', strict)).toThrow(
      'except-interface is a seatguard extension, not USBGuard syntax',
    );
  });

  it('rejects localtime ranges that cross midnight', () => {
    const res = tryParseRule('allow if localtime(22:00-06:00)', strict);
    expect(res.ok || [res.error.position, res.error.message]).toEqual([
      19,
      'localtime range 22:00-06:00 crosses midnight: a seatguard extension, USBGuard rejects it',
    ]);
  });

  it('rejects durations of 24 hours or more', () => {
    expect(() => parseRule('allow if rule-applied(24:00:00)', strict)).toThrow(
      "duration '24:00:00' is 24 hours or more: a seatguard extension, USBGuard stops at 23:59:59",
    );
    expect(parseRule('allow if rule-applied(23:59:59)', strict).conditions?.items[0]).toEqual({
      kind: 'rule-applied',
      negated: false,
      within: 86_399,
    });
  });

  it('accepts plain USBGuard rules unchanged', () => {
    const text = 'allow id 046d:* with-interface one-of { 03:*:* } if localtime(08:00-17:00)';
    expect(parseRule(text, strict)).toStrictEqual(parseRule(text));
  });
});
