import type { Static } from 'typebox';
import type { UsbDevice } from '../../../../../shared/domain/usb.js';
import type { EventBody } from '../../../../../shared/protocol/messages.js';
import type { SensorEventBody } from '../../../../../shared/protocol/sensor-messages.js';
import type { PolicyApplied } from '../../../../../shared/protocol/unlock-messages.js';

/** Schema-valid event bodies for the alert-engine tests; `over` replaces fields. */

export const STICK: UsbDevice = {
  port: '2-1',
  vendor_id: '0781',
  product_id: '5567',
  bcd_device: '0100',
  serial: '4C530001230517109291',
  manufacturer: 'SanDisk',
  product: 'Cruzer Blade',
  hash: 'q3S8Yw0dJ4cvS8cJ6ZkQk3pXl1b9kzq0kYb3Yw0dJ4c=',
  parent_hash: null,
  interfaces: ['08:06:50'],
  connect_type: 'hotplug',
};

export function device(over: Partial<UsbDevice> = {}): UsbDevice {
  return { ...STICK, ...over };
}

export function usbBlocked(over: Partial<EventBody<'usb.blocked'>> = {}): EventBody<'usb.blocked'> {
  return { device: STICK, blocked_interfaces: ['08:06:50'], allowed_interfaces: [], reason: 'default block: mass storage (08)', ...over };
}

export function lockState(state: 'locked' | 'degraded' | 'unknown', over: Partial<EventBody<'lock.state'>> = {}): EventBody<'lock.state'> {
  return {
    state,
    controllers: [{ name: 'usb1', interface_authorized_default: state === 'locked' ? 0 : 1 }],
    detail: state === 'locked' ? 'all controllers locked' : 'usb1: interface_authorized_default set back to 1',
    ...over,
  };
}

export function agentStarted(lock: 'locked' | 'degraded' | 'unknown'): EventBody<'agent.started'> {
  return { agent_version: '0.1.0', platform: 'linux', lock_state: lock, detail: lock === 'locked' ? 'ok' : 'usb2 unreadable' };
}

const FIELD = { state: 'set', source: 'dell-wmi-sysman' } as const;

export function firmwareState(admin: 'set' | 'not_set' | 'not_implemented' | 'unknown'): SensorEventBody<'firmware.state'> {
  return {
    reason: 'initial',
    admin_password: { state: admin, source: 'dell-wmi-sysman' },
    power_on_password: FIELD,
    keyboard_password: FIELD,
    front_panel_reset: FIELD,
    sources: [],
    disagreements: [],
    bios: { vendor: 'Dell Inc.', version: '1.2.3', date: '2025-01-01' },
  };
}

export function passwordRemoved(): SensorEventBody<'firmware.password_removed'> {
  return { field: 'admin_password', previous: 'set', current: 'not_set', source: 'dell-wmi-sysman' };
}

export function biosChanged(): SensorEventBody<'firmware.bios_changed'> {
  return {
    previous: { vendor: 'Dell Inc.', version: '1.2.3', date: '2025-01-01' },
    current: { vendor: 'Dell Inc.', version: '1.4.0', date: '2025-06-01' },
    detail: 'reflash can clear passwords',
  };
}

export function softwareDenied(category: 'hacking' | 'game' | 'remote-access' | 'other' | null, name = 'nmap'): SensorEventBody<'software.denied'> {
  return {
    package: { name, version: '7.94', arch: 'amd64', source: 'dpkg' },
    rule_id: `default.${category ?? 'x'}.pkg.${name}`,
    category,
    reason: 'not permitted on call-center seats',
    mode: 'audit',
  };
}

export function processDenied(
  category: 'hacking' | 'game' | 'remote-access' | 'other' | null,
  action: SensorEventBody<'process.denied'>['action'] = 'alerted',
): SensorEventBody<'process.denied'> {
  return {
    pid: 4242,
    name: 'nmap',
    path: '/usr/bin/nmap',
    sha256: 'a'.repeat(64),
    uid: 1000,
    rule_id: 'default.hacking.exe.nmap',
    category,
    reason: 'security/hacking tool not permitted',
    mode: 'enforce',
    action,
    detail: 'seen in /proc',
  };
}

export function softwareInstalled(upgradeOnly = false): SensorEventBody<'software.installed'> {
  return {
    packages: upgradeOnly
      ? [{ name: 'openssl', version: '3.0.2', arch: 'amd64', source: 'dpkg', previous_version: '3.0.1' }]
      : [{ name: 'vlc', version: '3.0.20', arch: 'amd64', source: 'dpkg' }],
  };
}

export function softwareRemoved(): SensorEventBody<'software.removed'> {
  return { packages: [{ name: 'clamav', version: '1.0', arch: 'amd64', source: 'dpkg' }] };
}

export function networkChanged(appeared = false): SensorEventBody<'network.changed'> {
  return {
    iface: 'wlan0',
    previous: appeared ? null : { mac: '00:11:22:33:44:55', ipv4: ['10.0.0.5'], ipv6: null },
    current: { mac: '00:11:22:33:44:55', ipv4: ['192.168.43.7'], ipv6: null },
  };
}

export function planMismatch(resolved: boolean): SensorEventBody<'network.plan_mismatch'> {
  return {
    iface: 'eth0',
    expected: { ipv4: '10.0.0.5', mac: '00:11:22:33:44:55' },
    actual: resolved ? { mac: '00:11:22:33:44:55', ipv4: ['10.0.0.5'], ipv6: null } : { mac: '00:11:22:33:44:55', ipv4: ['10.0.0.99'], ipv6: null },
    problems: resolved ? [] : ['ipv4'],
    resolved,
  };
}

export function reachability(state: 'reachable' | 'unreachable' | 'unknown'): SensorEventBody<'network.reachability'> {
  return { target: 'example.com:443', state, expected: 'offline', violation: state === 'reachable', detail: 'tcp connect' };
}

export function policyApplied(ok: boolean): Static<typeof PolicyApplied>['body'] {
  return { version: 3, sha256: 'b'.repeat(64), ok, detail: ok ? 'applied' : 'rule 4: parse error' };
}
