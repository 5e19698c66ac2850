import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { DEFAULT_POLICY } from '../../../../shared/rules/index.js';
import { createUsbLock, type UsbLock } from '../../../../agent/enforcement/usb-lock.js';
import { FakeUsbPlatform } from '../../../../agent/platform/fake/fake-platform.js';
import { rulesSha256 } from '../../../../agent/policy/policy-file.js';
import { handlePolicyUpdated } from '../../../../agent/policy/policy-updates.js';
import { createRulesPolicy, type RulesPolicy } from '../../../../agent/policy/rules-policy.js';
import { eventually } from '../../../helpers/eventually.js';
import { deviceFixture, recordingEmitter } from '../../../helpers/fake-agent.js';

const locks: UsbLock[] = [];
afterEach(async () => {
  for (const l of locks.splice(0)) await l.stop();
});

async function seat() {
  const platform = new FakeUsbPlatform();
  const rec = recordingEmitter();
  const clock = new ManualClock();
  const rules = createRulesPolicy({ stateDir: null, clock, log: silentLogger() });
  const lock = createUsbLock({ platform, policy: rules.policy, emit: rec.emit, log: silentLogger(), clock, resyncIntervalMs: 0 });
  locks.push(lock);
  await lock.start();
  const update = (rulesText: string, version: number, sha = rulesSha256(rulesText)) =>
    handlePolicyUpdated({ version, rules: rulesText, sha256: sha }, { rules, emit: rec.emit, resync: (r) => lock.resync(r), log: silentLogger() });
  const authorized = (iface: string) => platform.interfaceState(iface)?.authorized;
  return { platform, rec, rules, lock, update, authorized };
}

const STICK_RULE = 'allow id 0781:5583 serial "4C530001130820116055"';
const policyText = (...lines: string[]) => `${lines.join('\n')}\n`;

describe('rules policy', () => {
  it('starts with the built-in default: storage blocked, keyboards and the HID half of a composite allowed', async () => {
    const s = await seat();
    s.platform.insert(deviceFixture('sandisk-ultra-fit'), { port: '1-2' });
    s.platform.insert(deviceFixture('logitech-k120'), { port: '1-3' });
    s.platform.insert(deviceFixture('composite-hid-storage'), { port: '1-4' });
    await eventually(() => expect(s.rec.ofType('usb.blocked').map((b) => b.device.port).sort()).toEqual(['1-2', '1-4']));
    expect(s.rules.current()).toMatchObject({ version: 0, source: 'default', sha256: rulesSha256(DEFAULT_POLICY) });
    expect(s.authorized('1-2:1.0')).toBe(false);
    expect(s.authorized('1-3:1.0')).toBe(true);
    const composite = deviceFixture('composite-hid-storage').interfaces;
    for (const i of composite) expect(s.authorized(`1-4:1.${i.number}`)).toBe(i.class !== 8);
  });

  it('applies a good policy: re-enforces attached devices, then reports policy.applied ok', async () => {
    const s = await seat();
    s.platform.insert(deviceFixture('sandisk-ultra-fit'), { port: '1-2' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    const text = policyText(STICK_RULE, DEFAULT_POLICY.trim());
    await s.update(text, 3);
    expect(s.authorized('1-2:1.0')).toBe(true);
    const types = s.rec.events.map((e) => e.type);
    expect(types.indexOf('usb.allowed')).toBeLessThan(types.indexOf('policy.applied'));
    expect(s.rec.ofType('policy.applied')).toEqual([{ version: 3, sha256: rulesSha256(text), ok: true, detail: '2 rules' }]);
    expect(s.rec.ofType('usb.allowed')[0]?.reason).toContain('policy v3 line 1');
  });

  it('refuses a policy whose sha256 does not match and keeps the previous one', async () => {
    const s = await seat();
    s.platform.insert(deviceFixture('sandisk-ultra-fit'), { port: '1-2' });
    await eventually(() => expect(s.rec.ofType('usb.blocked')).toHaveLength(1));
    const text = policyText('allow');
    await s.update(text, 4, rulesSha256('something else'));
    expect(s.authorized('1-2:1.0')).toBe(false);
    expect(s.rules.current().version).toBe(0);
    expect(s.rec.ofType('policy.applied')).toEqual([{ version: 4, sha256: rulesSha256('something else'), ok: false, detail: 'sha256 does not match the rules text' }]);
  });

  it('refuses a policy with a bad line (all or nothing) and reports every bad line', async () => {
    const s = await seat();
    await s.update(policyText(STICK_RULE, DEFAULT_POLICY.trim()), 2);
    const bad = policyText('allow', 'allow with-interface { 08:*:* ', 'frobnicate everything', 'block');
    await s.update(bad, 3);
    const refused = s.rec.ofType('policy.applied').at(-1);
    expect(refused).toMatchObject({ version: 3, ok: false });
    expect(refused?.detail).toMatch(/^2 invalid rule line\(s\): line 2:.*line 3:/);
    expect(s.rules.current()).toMatchObject({ version: 2, ruleCount: 2 });
    s.platform.insert(deviceFixture('samsung-mtp-phone'), { port: '1-5' });
    // Under version 2 (not the refused "allow"), an MTP phone (class 06) is allowed by the default rule.
    await eventually(() => expect(s.authorized('1-5:1.0')).toBe(true));
  });

  it('refuses an empty policy rather than blocking every device', async () => {
    const s = await seat();
    await s.update('# nothing here\n\n', 5);
    expect(s.rec.ofType('policy.applied')[0]).toMatchObject({ ok: false, detail: 'the policy has no rules' });
    expect(s.rules.current().source).toBe('default');
  });

  it('reports nothing when the active policy is sent again (every reconnect)', async () => {
    const s = await seat();
    const text = policyText(DEFAULT_POLICY.trim());
    await s.update(text, 7);
    await s.update(text, 7);
    expect(s.rec.ofType('policy.applied')).toHaveLength(1);
  });

  it('rejects (removes) a device a reject rule names and blocks devices no rule matches', async () => {
    const s = await seat();
    await s.update(policyText('reject with-interface all-of { 08:*:* 03:*:* }', 'allow with-interface one-of { 03:*:* }'), 8);
    s.platform.insert(deviceFixture('composite-hid-storage'), { port: '1-4' });
    s.platform.insert(deviceFixture('samsung-mtp-phone'), { port: '1-6' });
    s.platform.insert(deviceFixture('logitech-k120'), { port: '1-3' });
    await eventually(async () => expect(await s.platform.listDevices()).toEqual(['1-3', '1-6']));
    await eventually(() => expect(s.authorized('1-3:1.0')).toBe(true));
    await eventually(() => expect(s.rec.ofType('usb.blocked').some((b) => b.device.port === '1-6')).toBe(true));
    expect(s.authorized('1-6:1.0')).toBe(false);
  });
});

describe('rules policy decisions', () => {
  function decideFor(rules: RulesPolicy, fixture: string) {
    const p = new FakeUsbPlatform();
    const port = p.insert(deviceFixture(fixture), { port: '1-1' });
    return p.readDevice(port).then((d) => rules.policy.decide(d!, { presentAtStart: false, now: 0 }));
  }

  it('turns except-interface into per-interface exceptions', async () => {
    const rules = createRulesPolicy({ stateDir: null, clock: new ManualClock(), log: silentLogger() });
    const d = await decideFor(rules, 'composite-hid-storage');
    expect(d).toMatchObject({ target: 'allow', exceptInterfaces: ['08:*:*'] });
  });

  it('never allows when the text does not parse at all', () => {
    const rules = createRulesPolicy({ stateDir: null, clock: new ManualClock(), log: silentLogger() });
    const r = rules.apply({ version: 1, rules: 'allow if', sha256: rulesSha256('allow if') });
    expect(r.ok).toBe(false);
    expect(rules.current().source).toBe('default');
  });
});
