import { describe, expect, it } from 'vitest';
import { evaluateEvent, DETAIL_MAX, WATCHED_EVENT_TYPES, type RuleContext, type RuleOutcome } from '../../../../../collector/alerts/rules.js';
import * as S from './samples.js';

// A seat's reported maintenance-code use is checked against what the collector issued; here it never matches.
const ctx: RuleContext = { inMaintenance: false, maintenanceCodeFlag: () => 'unknown_code' };
const run = (type: string, body: unknown, c = ctx): RuleOutcome | null => evaluateEvent({ type, body }, c);

function raised(type: string, body: unknown) {
  const o = run(type, body);
  if (o?.kind !== 'raise') throw new Error(`expected a raise for ${type}, got ${JSON.stringify(o)}`);
  return o.alert;
}

describe('alert rules', () => {
  // [event type, body, rule, severity, dedup key, zh title fragment]
  const table: Array<[string, unknown, string, string, string, string]> = [
    ['usb.blocked', S.usbBlocked(), 'usb.blocked', 'high', 'usb.blocked:0781:5567:s:4C530001230517109291', '未授权U盘插入'],
    ['usb.blocked', S.usbBlocked({ device: S.device({ interfaces: ['03:01:01', '08:06:50'] }) }), 'usb.blocked', 'critical', 'usb.blocked:0781:5567:s:4C530001230517109291', '可疑复合USB设备'],
    ['usb.blocked', S.usbBlocked({ device: S.device({ interfaces: ['06:01:01'] }), blocked_interfaces: ['06:01:01'] }), 'usb.blocked', 'high', 'usb.blocked:0781:5567:s:4C530001230517109291', '移动存储设备'],
    ['usb.blocked', S.usbBlocked({ device: S.device({ interfaces: ['e0:01:01'] }), blocked_interfaces: ['e0:01:01'] }), 'usb.blocked', 'medium', 'usb.blocked:0781:5567:s:4C530001230517109291', '未授权USB设备被阻止'],
    ['lock.state', S.lockState('degraded'), 'lock.state', 'critical', 'lock.state', 'USB锁定失效'],
    ['lock.state', S.lockState('unknown'), 'lock.state', 'critical', 'lock.state', 'USB锁定状态未知'],
    ['agent.started', S.agentStarted('degraded'), 'lock.state', 'critical', 'lock.state', 'USB锁定失效'],
    ['agent.stopping', { reason: 'signal SIGTERM' }, 'agent.stopping', 'high', 'agent.stopping', '座席代理被停止'],
    ['firmware.password_removed', S.passwordRemoved(), 'firmware.password_removed', 'high', 'firmware.password_removed:admin_password', 'BIOS密码被移除'],
    ['firmware.bios_changed', S.biosChanged(), 'firmware.bios_changed', 'medium', 'firmware.bios_changed', 'BIOS版本变更'],
    ['firmware.state', S.firmwareState('not_set'), 'firmware.admin_password_not_set', 'medium', 'firmware.admin_password_not_set', 'BIOS管理员密码未设置'],
    ['software.denied', S.softwareDenied('hacking'), 'software.denied', 'critical', 'software.denied:nmap', '黑客工具'],
    ['software.denied', S.softwareDenied('remote-access', 'anydesk'), 'software.denied', 'high', 'software.denied:anydesk', '远程控制'],
    ['software.denied', S.softwareDenied('game', 'steam'), 'software.denied', 'medium', 'software.denied:steam', '游戏'],
    ['software.denied', S.softwareDenied(null, 'foo'), 'software.denied', 'medium', 'software.denied:foo', '禁用软件'],
    ['process.denied', S.processDenied('hacking'), 'process.denied', 'critical', `process.denied:${'a'.repeat(64)}`, '黑客工具正在运行'],
    ['process.denied', S.processDenied('game', 'kill_failed'), 'process.denied', 'high', `process.denied:${'a'.repeat(64)}`, '游戏程序'],
    ['process.denied', S.processDenied('game', 'killed'), 'process.denied', 'medium', `process.denied:${'a'.repeat(64)}`, '游戏程序'],
    ['software.installed', S.softwareInstalled(), 'software.installed', 'medium', 'software.installed', '未经审批安装软件'],
    ['software.installed', S.softwareInstalled(true), 'software.upgraded', 'low', 'software.upgraded', '软件版本变更'],
    ['software.removed', S.softwareRemoved(), 'software.removed', 'medium', 'software.removed', '未经审批卸载软件'],
    ['network.changed', S.networkChanged(), 'network.changed', 'medium', 'network.changed:wlan0', '网络配置变更'],
    ['network.changed', S.networkChanged(true), 'network.changed', 'medium', 'network.changed:wlan0', '新网络接口'],
    ['network.plan_mismatch', S.planMismatch(false), 'network.plan_mismatch', 'medium', 'network.plan_mismatch:eth0', '与规划不符'],
    ['network.reachability', S.reachability('reachable'), 'network.reachability', 'critical', 'network.reachability', '座席可访问互联网'],
    ['policy.applied', S.policyApplied(false), 'policy.applied', 'high', 'policy.applied', '策略应用失败'],
    ['agent.integrity', { item: 'udev_rule', path: '/etc/udev/rules.d/10-seatguard-usb-storage.rules', expected_sha256: 'a'.repeat(64), actual_sha256: null, detail: 'missing' }, 'agent.integrity', 'critical', 'agent.integrity:udev_rule:/etc/udev/rules.d/10-seatguard-usb-storage.rules', '座席代理完整性被破坏'],
    ['agent.uninstalled', { code_id: 'mc_00000000000000aa', os_user: 'root' }, 'agent.maintenance_code', 'critical', 'agent.maintenance_code:uninstall', '疑似伪造'],
    ['outbox.dropped', { counts: { 'usb.removed': 3 }, from_seq: 4, to_seq: 9, reason: 'max_age' }, 'outbox.dropped', 'medium', 'outbox.dropped', '座席事件已汇总并丢弃'],
  ];

  it.each(table)('maps %s to its rule, severity, dedup key and zh-CN title (%#)', (type, body, rule, severity, key, zh) => {
    const a = raised(type, body);
    expect(a.rule).toBe(rule);
    expect(a.severity).toBe(severity);
    expect(a.dedupKey).toBe(key);
    expect(a.title.zh).toContain(zh);
    expect(a.title.en.length).toBeGreaterThan(0);
    expect(a.detail.zh.length).toBeGreaterThan(0);
    expect(a.detail.en.length).toBeGreaterThan(0);
  });

  it('covers every watched event type in the mapping table', () => {
    const covered = new Set(table.map(([type]) => type));
    expect([...WATCHED_EVENT_TYPES].sort()).toEqual([...covered].sort());
  });

  it('puts the device name in the detail and the device on the alert for usb.blocked', () => {
    const a = raised('usb.blocked', S.usbBlocked());
    expect(a.detail.zh).toContain('SanDisk Cruzer Blade');
    expect(a.detail.en).toContain('0781:5567');
    expect(a.device).toEqual({ vendor_id: '0781', product_id: '5567', serial: '4C530001230517109291', product: 'Cruzer Blade' });
  });

  it.each([
    ['usb.inserted', { device: S.STICK, present_at_start: false }],
    ['usb.allowed', { device: S.STICK, allowed_interfaces: ['08:06:50'], reason: 'grant g1' }],
    ['usb.removed', { device: S.STICK }],
    ['software.inventory', { sources: ['dpkg'], installed: 10, denied: 0 }],
    ['heartbeat', {}],
    ['no.such.type', {}],
    ['firmware.state', S.firmwareState('unknown')],
    ['network.reachability', S.reachability('unknown')],
  ])('raises nothing for %s', (type, body) => {
    expect(run(type, body)).toBeNull();
  });

  it('raises nothing for agent.stopping inside a maintenance window', () => {
    expect(run('agent.stopping', { reason: 'maintenance' }, { inMaintenance: true })).toBeNull();
  });

  it('does not treat a seat-supplied "maintenance" reason as a maintenance window', () => {
    expect(raised('agent.stopping', { reason: 'maintenance' }).severity).toBe('high');
  });

  it.each([
    ['lock.state', S.lockState('locked'), 'lock.state'],
    ['agent.started', S.agentStarted('locked'), 'lock.state'],
    ['network.plan_mismatch', S.planMismatch(true), 'network.plan_mismatch:eth0'],
    ['network.reachability', S.reachability('unreachable'), 'network.reachability'],
    ['policy.applied', S.policyApplied(true), 'policy.applied'],
    ['firmware.state', S.firmwareState('set'), 'firmware.admin_password_not_set'],
  ])('reports %s back to normal as a clear of the same dedup key', (type, body, key) => {
    const o = run(type, body);
    expect(o?.kind).toBe('clear');
    if (o?.kind === 'clear') expect(o.dedupKey).toBe(key);
  });

  it('raises event.malformed (fail closed) for a watched type whose body does not match its schema', () => {
    const a = raised('usb.blocked', { device: 'nope' });
    expect(a.rule).toBe('event.malformed');
    expect(a.dedupKey).toBe('event.malformed:usb.blocked');
    expect(a.severity).toBe('medium');
    expect(raised('lock.state', undefined).rule).toBe('event.malformed');
  });

  it('lists the controllers whose interface_authorized_default is not 0 as tamper evidence', () => {
    const a = raised('lock.state', S.lockState('degraded', { controllers: [{ name: 'usb1', interface_authorized_default: 0 }, { name: 'usb2', interface_authorized_default: 1 }, { name: 'usb3', interface_authorized_default: null }] }));
    expect(a.detail.en).toContain('usb2:interface_authorized_default=1');
    expect(a.detail.en).toContain('usb3:interface_authorized_default=unreadable');
    expect(a.detail.en).not.toContain('usb1:interface_authorized_default=0');
  });

  it('keeps hostile strings as capped data and strips control and bidi characters', () => {
    const a = raised('usb.blocked', S.usbBlocked({ device: S.device({ product: '<img src=x onerror=alert(1)>', manufacturer: 'Ü'.repeat(120) }), reason: 'r'.repeat(512) }));
    // Kept verbatim as data: escaping is the renderer's job.
    expect(a.detail.zh).toContain('<img src=x onerror=alert(1)>');
    expect([...a.detail.zh].length).toBeLessThanOrEqual(DETAIL_MAX);
    // usb.blocked `reason` has no character pattern in the protocol, so the rule must clean it.
    const b = raised('usb.blocked', S.usbBlocked({ reason: 'evil\u202e\u0007\nFAKE: line' }));
    for (const bad of ['\u202e', '\u0007', '\n']) expect(b.detail.en).not.toContain(bad);
    expect(b.detail.en).toContain('FAKE: line');
  });

  it('caps the dedup key even when the serial is long', () => {
    const a = raised('usb.blocked', S.usbBlocked({ device: S.device({ serial: 'S'.repeat(250) }) }));
    expect([...a.dedupKey].length).toBeLessThanOrEqual(256);
  });
});
