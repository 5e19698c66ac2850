import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import type { UsbDevice } from '../../../../shared/domain/usb.js';
import {
  DEFAULT_POLICY,
  createRuleEvaluator,
  deviceMatches,
  interfaceDecision,
  localSecondsOfDay,
  parseRule,
  parseRuleset,
  partitionInterfaces,
  toRuleDevice,
  type Rule,
  type RuleDevice,
} from '../../../../shared/rules/index.js';

const device = (over: Partial<RuleDevice>): RuleDevice => ({
  id: '0000:0000',
  hash: '',
  parentHash: '',
  serial: '',
  name: '',
  viaPort: ['1-1'],
  interfaces: [],
  connectType: 'hotplug',
  ...over,
});

const stick = device({
  id: '0781:5583',
  serial: '4C530001',
  name: 'Ultra Fit',
  hash: 'h-stick',
  parentHash: 'h-hub',
  viaPort: ['1-2'],
  interfaces: ['08:06:50'],
});
const keyboard = device({ id: '046d:c31c', name: 'USB Keyboard', hash: 'h-kbd', interfaces: ['03:01:01', '03:00:00'] });
// A "flash drive" that also types: mass storage plus a boot keyboard.
const composite = device({ id: '1234:5678', name: 'Flash', hash: 'h-bad', interfaces: ['08:06:50', '03:01:01'] });
const hub = device({ id: '05e3:0610', name: 'USB2.1 Hub', interfaces: ['09:00:01'], connectType: 'hardwired' });

const UTC_SECONDS = (ms: number) => Math.floor(ms / 1000) % 86_400;
const at = (h: number, m = 0, s = 0) => Date.UTC(2026, 0, 1, h, m, s);

function evaluator(over: { random?: () => number; clock?: ManualClock; implicitTarget?: 'allow' | 'block' | 'reject' } = {}) {
  const clock = over.clock ?? new ManualClock(at(12));
  const ev = createRuleEvaluator({
    clock,
    secondsOfDay: UTC_SECONDS,
    ...(over.random ? { random: over.random } : {}),
    ...(over.implicitTarget ? { implicitTarget: over.implicitTarget } : {}),
  });
  return { clock, ev };
}

const rules = (...lines: string[]): Rule[] => lines.map((l) => parseRule(l));

describe('deviceMatches set operators', () => {
  // The composite device has interfaces [08:06:50, 03:01:01].
  it.each([
    ['all-of { 08:*:* }', true],
    ['all-of { 08:*:* 03:01:01 }', true],
    ['all-of { 08:*:* 02:*:* }', false],
    ['one-of { 02:*:* 03:*:* }', true],
    ['one-of { 02:*:* e0:*:* }', false],
    ['none-of { 02:*:* e0:*:* }', true],
    ['none-of { 02:*:* 03:*:* }', false],
    ['equals { 03:*:* 08:*:* }', true],
    ['equals { 08:*:* }', false],
    ['equals { 08:*:* 03:*:* 09:*:* }', false],
    // Both directions must pair up: 03:01:01 has no partner here (USBGuard checks one direction).
    ['equals { 08:*:* 08:06:50 }', false],
    ['equals-ordered { 08:*:* 03:*:* }', true],
    ['equals-ordered { 03:*:* 08:*:* }', false],
    ['match-all { 08:*:* 03:*:* 09:*:* }', true],
    ['match-all { 08:*:* }', false],
    // a single value is `equals { value }`: the device must have exactly that one interface
    ['08:*:*', false],
  ])('with-interface %s on a composite device is %s', (spec, expected) => {
    expect(deviceMatches(parseRule(`allow with-interface ${spec}`), composite)).toBe(expected);
  });

  it('matches a single-interface device with a single value', () => {
    expect(deviceMatches(parseRule('allow with-interface 08:*:*'), stick)).toBe(true);
  });

  it.each([
    ['name "Ultra Fit"', true],
    ['name "Ultra"', false],
    ['name one-of { "x" "Ultra Fit" }', true],
    // equals with two values never matches a device's single name
    ['name { "x" "Ultra Fit" }', false],
    ['name none-of { "x" "y" }', true],
    ['name none-of { "Ultra Fit" }', false],
    ['serial "4C530001"', true],
    ['hash "h-stick"', true],
    ['parent-hash "h-hub"', true],
    ['parent-hash "h-stick"', false],
    ['via-port "1-2"', true],
    ['via-port one-of { "1-1" "1-3" }', false],
    ['with-connect-type "hotplug"', true],
    ['with-connect-type "hardwired"', false],
    ['id 0781:5583 serial "4C530001" name "Ultra Fit"', true],
    ['id 0781:5583 serial "other"', false],
  ])('%s on the stick is %s', (spec, expected) => {
    expect(deviceMatches(parseRule(`allow ${spec}`), stick)).toBe(expected);
  });

  it('matches an empty serial against a device without serial', () => {
    expect(deviceMatches(parseRule('allow serial ""'), keyboard)).toBe(true);
    expect(deviceMatches(parseRule('allow serial ""'), stick)).toBe(false);
  });

  it('never compares the label with the device', () => {
    expect(deviceMatches(parseRule('allow label "nothing like the device"'), stick)).toBe(true);
    expect(deviceMatches(parseRule('allow label none-of { "x" }'), stick)).toBe(true);
  });
});

describe('deviceMatches wildcards', () => {
  it.each([
    ['id 0781:5583', true],
    ['id 0781:*', true],
    ['id *:*', true],
    ['id 0781:5584', false],
    ['id 0782:*', false],
    ['id { 046d:* 0781:* }', false], // equals with two patterns vs one id
    ['id one-of { 046d:* 0781:* }', true],
    ['with-interface 08:06:50', true],
    ['with-interface 08:06:*', true],
    ['with-interface 08:05:*', false],
    ['with-interface 08:*:*', true],
    ['with-interface 09:*:*', false],
    ['with-interface 08:06:51', false],
  ])('%s on the stick is %s', (spec, expected) => {
    expect(deviceMatches(parseRule(`allow ${spec}`), stick)).toBe(expected);
  });

  it('treats an empty interface list as matching none-of and match-all but not equals or one-of', () => {
    const bare = device({ interfaces: [] });
    expect(deviceMatches(parseRule('allow with-interface none-of { 08:*:* }'), bare)).toBe(true);
    expect(deviceMatches(parseRule('allow with-interface match-all { 08:*:* }'), bare)).toBe(true);
    expect(deviceMatches(parseRule('allow with-interface { 08:*:* }'), bare)).toBe(false);
    expect(deviceMatches(parseRule('allow with-interface one-of { 08:*:* }'), bare)).toBe(false);
  });
});

describe('createRuleEvaluator', () => {
  it('lets the first applicable rule decide', () => {
    const { ev } = evaluator();
    const set = rules('block id 0781:*', 'allow with-interface 08:*:*', 'allow');
    expect(ev.evaluate(set, stick)).toMatchObject({ target: 'block', ruleIndex: 0, implicit: false, rule: set[0] });
    expect(ev.evaluate(set, keyboard)).toMatchObject({ target: 'allow', ruleIndex: 2 });
  });

  it('falls back to the implicit target, block by default', () => {
    const { ev } = evaluator();
    expect(ev.evaluate([], stick)).toEqual({ target: 'block', implicit: true, ruleIndex: -1, rule: null, exceptInterfaces: [] });
    expect(ev.evaluate(rules('allow id 046d:*'), stick)).toMatchObject({ target: 'block', implicit: true });
  });

  it('uses a configured implicit target', () => {
    const { ev } = evaluator({ implicitTarget: 'reject' });
    expect(ev.evaluate(rules('allow id 046d:*'), stick)).toMatchObject({ target: 'reject', implicit: true });
  });

  it('skips a matching rule whose conditions do not hold', () => {
    const { ev } = evaluator();
    const set = rules('allow id 0781:* if false', 'reject id 0781:*');
    expect(ev.evaluate(set, stick)).toMatchObject({ target: 'reject', ruleIndex: 1 });
  });

  it.each([
    ['true', true],
    ['!true', false],
    ['false', false],
    ['!false', true],
    ['{ true true }', true],
    ['{ true false }', false],
    ['all-of { true false }', false],
    ['equals-ordered { true !false }', true],
    ['one-of { false true }', true],
    ['one-of { false !true }', false],
    ['none-of { false false }', true],
    ['none-of { false true }', false],
  ])('evaluates if %s as %s', (cond, holds) => {
    const { ev } = evaluator();
    expect(ev.evaluate(rules(`allow if ${cond}`), stick).target).toBe(holds ? 'allow' : 'block');
  });
});

describe('localtime conditions', () => {
  const decide = (rule: string, h: number, m = 0, s = 0) => {
    const { ev } = evaluator({ clock: new ManualClock(at(h, m, s)) });
    return ev.evaluate(rules(rule), stick).target;
  };

  it.each([
    [7, 59, 59, 'block'],
    [8, 0, 0, 'allow'],
    [12, 30, 0, 'allow'],
    [17, 0, 0, 'allow'],
    [17, 0, 1, 'block'],
  ])('localtime(08:00-17:00) at %i:%i:%i gives %s (both ends included)', (h, m, s, target) => {
    expect(decide('allow if localtime(08:00-17:00)', h, m, s)).toBe(target);
  });

  it.each([
    [21, 59, 59, 'block'],
    [22, 0, 0, 'allow'],
    [23, 30, 0, 'allow'],
    [0, 0, 0, 'allow'],
    [3, 0, 0, 'allow'],
    [6, 0, 0, 'allow'],
    [6, 0, 1, 'block'],
    [12, 0, 0, 'block'],
  ])('localtime(22:00-06:00) crossing midnight at %i:%i:%i gives %s', (h, m, s, target) => {
    expect(decide('allow if localtime(22:00-06:00)', h, m, s)).toBe(target);
  });

  it('treats a single time as that one second', () => {
    expect(decide('allow if localtime(12:00)', 12, 0, 0)).toBe('allow');
    expect(decide('allow if localtime(12:00)', 12, 0, 1)).toBe('block');
  });

  it('negates with !', () => {
    expect(decide('allow if !localtime(08:00-17:00)', 20)).toBe('allow');
    expect(decide('allow if !localtime(08:00-17:00)', 9)).toBe('block');
  });

  it('follows the injected clock as it moves', () => {
    const { ev, clock } = evaluator({ clock: new ManualClock(at(7, 59)) });
    const set = rules('allow if localtime(08:00-17:00)');
    expect(ev.evaluate(set, stick).target).toBe('block');
    clock.advance(60_000);
    expect(ev.evaluate(set, stick).target).toBe('allow');
  });

  it('reads the local time of the process by default', () => {
    expect(localSecondsOfDay(new Date(2026, 0, 1, 8, 30, 5).getTime())).toBe(8 * 3600 + 30 * 60 + 5);
  });
});

describe('random conditions', () => {
  const sequence = (...values: number[]) => {
    let i = 0;
    return () => values[i++ % values.length] as number;
  };

  it('holds when the injected random number is below p', () => {
    const { ev } = evaluator({ random: sequence(0.2, 0.3) });
    const set = rules('allow if random(0.25)');
    expect(ev.evaluate(set, stick).target).toBe('allow');
    expect(ev.evaluate(set, stick).target).toBe('block');
  });

  it('uses p = 0.5 without an argument', () => {
    const { ev } = evaluator({ random: sequence(0.49, 0.5) });
    const set = rules('allow if random');
    expect(ev.evaluate(set, stick).target).toBe('allow');
    expect(ev.evaluate(set, stick).target).toBe('block');
  });

  it('never holds for random(0) and always for random(1)', () => {
    const { ev } = evaluator({ random: sequence(0, 0.999999) });
    expect(ev.evaluate(rules('allow if random(0)'), stick).target).toBe('block');
    expect(ev.evaluate(rules('allow if random(0)'), stick).target).toBe('block');
    expect(ev.evaluate(rules('allow if random(1)'), stick).target).toBe('allow');
    expect(ev.evaluate(rules('allow if random(1)'), stick).target).toBe('allow');
  });
});

describe('rule-applied and rule-evaluated conditions', () => {
  it('rule-applied(duration) limits a rule to once per window', () => {
    const { ev, clock } = evaluator();
    const set = rules('allow if !rule-applied(00:01:00)');
    expect(ev.evaluate(set, stick).target).toBe('allow');
    clock.advance(30_000);
    expect(ev.evaluate(set, stick).target).toBe('block');
    clock.advance(30_000);
    expect(ev.evaluate(set, stick).target).toBe('block'); // exactly 60 s after: still inside
    clock.advance(1_000);
    expect(ev.evaluate(set, stick).target).toBe('allow');
  });

  it('rule-applied without a duration means ever applied', () => {
    const { ev, clock } = evaluator();
    const set = rules('reject id 0781:* if rule-applied', 'allow id 0781:*');
    // The reject rule never applied yet, so the allow rule decides; the reject rule never applies,
    // because only a decision counts as applied.
    expect(ev.evaluate(set, stick).ruleIndex).toBe(1);
    clock.advance(3_600_000);
    expect(ev.evaluate(set, stick).ruleIndex).toBe(1);
  });

  it('rule-evaluated is false on a rule first evaluation and true afterwards', () => {
    const { ev } = evaluator();
    const set = rules('allow if rule-evaluated');
    expect(ev.evaluate(set, stick).target).toBe('block');
    expect(ev.evaluate(set, stick).target).toBe('allow');
  });

  it('rule-evaluated(duration) looks back only that far', () => {
    const { ev, clock } = evaluator();
    const set = rules('allow if rule-evaluated(10)');
    ev.evaluate(set, stick);
    clock.advance(11_000);
    expect(ev.evaluate(set, stick).target).toBe('block');
    clock.advance(5_000);
    expect(ev.evaluate(set, stick).target).toBe('allow');
  });

  it('counts a rule as evaluated when its attributes did not match', () => {
    const { ev } = evaluator();
    const set = rules('allow id 0781:* if rule-evaluated');
    ev.evaluate(set, keyboard);
    expect(ev.evaluate(set, stick).target).toBe('allow');
  });

  it('does not evaluate rules after the deciding one', () => {
    const { ev } = evaluator();
    const set = rules('allow id 046d:*', 'allow if rule-evaluated');
    ev.evaluate(set, keyboard);
    expect(ev.evaluate(set, stick)).toMatchObject({ target: 'block', implicit: true });
  });

  it('keeps history per evaluator and forgets it on reset()', () => {
    const a = evaluator();
    const b = evaluator();
    const set = rules('allow if rule-evaluated');
    a.ev.evaluate(set, stick);
    expect(b.ev.evaluate(set, stick).target).toBe('block');
    expect(a.ev.evaluate(set, stick).target).toBe('allow');
    a.ev.reset();
    expect(a.ev.evaluate(set, stick).target).toBe('block');
  });

  it('measures durations on the monotonic clock, not the wall clock', () => {
    const { ev, clock } = evaluator();
    const set = rules('allow if !rule-applied(00:01:00)');
    expect(ev.evaluate(set, stick).target).toBe('allow');
    clock.setWall(at(23)); // a user moving the system time forward does not end the window
    expect(ev.evaluate(set, stick).target).toBe('block');
  });
});

describe('allowed-matches conditions', () => {
  // usbguard-rules.conf(5) example 4: allow a keyboard only if no keyboard is allowed yet.
  const set = rules(
    'allow with-interface one-of { 03:00:01 03:01:01 } if !allowed-matches(with-interface one-of { 03:00:01 03:01:01 })',
  );
  const newKeyboard = device({ id: '413c:2113', interfaces: ['03:01:01'] });

  it('holds when no allowed device matches the query', () => {
    const { ev } = evaluator();
    expect(ev.evaluate(set, newKeyboard, { allowedDevices: [hub, stick] }).target).toBe('allow');
  });

  it('fails when an allowed device matches the query', () => {
    const { ev } = evaluator();
    expect(ev.evaluate(set, newKeyboard, { allowedDevices: [hub, keyboard] }).target).toBe('block');
  });

  it('treats a missing context as no allowed devices', () => {
    const { ev } = evaluator();
    expect(ev.evaluate(rules('allow if allowed-matches(id *:*)'), stick).target).toBe('block');
  });
});

describe('except-interface and per-interface decisions', () => {
  const policy = parseRuleset(DEFAULT_POLICY);

  it('parses the default policy without errors', () => {
    expect(policy.errors).toEqual([]);
    expect(policy.rules).toEqual([{ target: 'allow', exceptInterface: ['08:*:*'] }]);
  });

  it('authorizes the keyboard of a composite device and keeps its storage blocked', () => {
    const { ev } = evaluator();
    const result = ev.evaluate(policy.rules, composite);
    expect(result).toMatchObject({ target: 'allow', exceptInterfaces: ['08:*:*'] });
    expect(interfaceDecision(result, '08:06:50')).toBe('block');
    expect(interfaceDecision(result, '03:01:01')).toBe('allow');
    expect(partitionInterfaces(result, composite.interfaces)).toEqual({ authorize: ['03:01:01'], block: ['08:06:50'] });
  });

  it('leaves every interface of a plain flash drive blocked', () => {
    const { ev } = evaluator();
    expect(partitionInterfaces(ev.evaluate(policy.rules, stick), stick.interfaces)).toEqual({
      authorize: [],
      block: ['08:06:50'],
    });
  });

  it('authorizes all interfaces of an approved device matched before the default rule', () => {
    const { ev } = evaluator();
    const set = [parseRule('allow hash "h-stick"'), ...policy.rules];
    const result = ev.evaluate(set, stick);
    expect(result).toMatchObject({ target: 'allow', ruleIndex: 0, exceptInterfaces: [] });
    expect(interfaceDecision(result, '08:06:50')).toBe('allow');
  });

  it('authorizes no interface for block and reject decisions', () => {
    const { ev } = evaluator();
    for (const target of ['block', 'reject']) {
      const result = ev.evaluate(rules(target), keyboard);
      expect(partitionInterfaces(result, keyboard.interfaces)).toEqual({ authorize: [], block: keyboard.interfaces });
    }
    expect(interfaceDecision(ev.evaluate([], keyboard), '03:01:01')).toBe('block');
  });

  it('applies except-interface patterns with wildcards and exact types', () => {
    const { ev } = evaluator();
    const result = ev.evaluate(rules('allow except-interface { 08:06:50 e0:*:* }'), device({ interfaces: [] }));
    expect(interfaceDecision(result, '08:06:50')).toBe('block');
    expect(interfaceDecision(result, '08:06:62')).toBe('allow');
    expect(interfaceDecision(result, 'e0:01:01')).toBe('block');
  });
});

describe('toRuleDevice', () => {
  it('maps an agent UsbDevice to the rule view, with missing strings as ""', () => {
    const usb: UsbDevice = {
      port: '2-1.3',
      vendor_id: '0781',
      product_id: '5583',
      bcd_device: '0100',
      serial: null,
      manufacturer: 'SanDisk',
      product: 'Ultra Fit',
      hash: null,
      parent_hash: 'G1ehGQdrl3dJ9HvW9w2HdC//pk87pKzFE1WY25bq8k4=',
      interfaces: ['08:06:50'],
      connect_type: 'unknown',
    };
    expect(toRuleDevice(usb)).toEqual({
      id: '0781:5583',
      hash: '',
      parentHash: 'G1ehGQdrl3dJ9HvW9w2HdC//pk87pKzFE1WY25bq8k4=',
      serial: '',
      name: 'Ultra Fit',
      viaPort: ['2-1.3'],
      interfaces: ['08:06:50'],
      connectType: '',
    });
  });
});
