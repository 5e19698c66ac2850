import { describe, expect, it } from 'vitest';
import { planDevice } from '../../../../agent/enforcement/plan.js';
import { matchInterfacePattern } from '../../../../agent/enforcement/policy.js';
import { aggregateLockState } from '../../../../agent/enforcement/lock-state.js';
import { createDefaultPolicy } from '../../../../agent/enforcement/default-policy.js';
import type { UsbDeviceState, UsbInterfaceState } from '../../../../agent/platform/platform.js';

const iface = (n: number, cls: number, authorized: boolean | null, sub = 0, proto = 0): UsbInterfaceState => ({
  name: `1-1:1.${n}`,
  number: n,
  cls,
  subclass: sub,
  protocol: proto,
  authorized,
  driver: null,
});

const device = (interfaces: UsbInterfaceState[], readable = true): UsbDeviceState => ({
  port: '1-1',
  info: {
    port: '1-1',
    vendor_id: '0001',
    product_id: '0002',
    bcd_device: null,
    serial: null,
    manufacturer: null,
    product: null,
    hash: null,
    parent_hash: null,
    interfaces: [],
    connect_type: 'unknown',
  },
  interfaces,
  descriptorsReadable: readable,
});

const ctx = { presentAtStart: false, now: 0 };

describe('planDevice', () => {
  it('authorizes unauthorized non-storage interfaces and deauthorizes authorized storage under the default policy', () => {
    const d = device([iface(0, 3, false), iface(1, 8, true, 6, 0x50), iface(2, 1, true)]);
    const plan = planDevice(d, createDefaultPolicy().decide(d, ctx));
    expect(plan.interfaces.map((p) => [p.type, p.want, p.action])).toEqual([
      ['03:00:00', 'allow', 'authorize'],
      ['08:06:50', 'block', 'deauthorize'],
      ['01:00:00', 'allow', null],
    ]);
  });

  it('never authorizes an interface whose state is unknown, but closes unknown storage', () => {
    const d = device([iface(0, 3, null), iface(1, 8, null)]);
    const plan = planDevice(d, createDefaultPolicy().decide(d, ctx));
    expect(plan.interfaces.map((p) => p.action)).toEqual([null, 'deauthorize']);
  });

  it('authorizes nothing when descriptors are unreadable and closes storage', () => {
    const d = device([iface(0, 3, false), iface(1, 8, true)], false);
    const plan = planDevice(d, null);
    expect(plan.failClosed).toBe(true);
    expect(plan.interfaces.map((p) => p.action)).toEqual([null, 'deauthorize']);
    expect(plan.reason).toBe('fail closed: descriptors unreadable');
  });

  it('turns a block decision with exceptions into allow for the exceptions only', () => {
    const d = device([iface(0, 3, false), iface(1, 0xe0, true)]);
    const plan = planDevice(d, { target: 'block', exceptInterfaces: (i) => i.cls === 3, rule: 'r' });
    expect(plan.interfaces.map((p) => p.want)).toEqual(['allow', 'block']);
  });

  it('marks every interface blocked for a reject decision', () => {
    const plan = planDevice(device([iface(0, 3, true)]), { target: 'reject', rule: 'r' });
    expect(plan.reject).toBe(true);
    expect(plan.interfaces[0]?.want).toBe('block');
  });
});

describe('matchInterfacePattern', () => {
  it('matches USBGuard-style class triples with wildcards', () => {
    const storage = { cls: 8, subclass: 6, protocol: 0x50 };
    expect(matchInterfacePattern('08:*:*', storage)).toBe(true);
    expect(matchInterfacePattern('08:06:50', storage)).toBe(true);
    expect(matchInterfacePattern('08:06:62', storage)).toBe(false);
    expect(matchInterfacePattern('03:*:*', storage)).toBe(false);
    expect(matchInterfacePattern('*:*:*', storage)).toBe(true);
  });

  it('matches nothing for a malformed pattern', () => {
    expect(matchInterfacePattern('8:*:*', { cls: 8, subclass: 0, protocol: 0 })).toBe(false);
    expect(matchInterfacePattern('', { cls: 8, subclass: 0, protocol: 0 })).toBe(false);
  });
});

describe('aggregateLockState', () => {
  it('is locked only when every controller reads back 0', () => {
    expect(aggregateLockState([{ name: 'usb1', interfaceAuthorizedDefault: 0 }]).state).toBe('locked');
  });

  it('is degraded when a controller reads back open, even if another is unreadable', () => {
    const s = aggregateLockState([
      { name: 'usb1', interfaceAuthorizedDefault: 1 },
      { name: 'usb2', interfaceAuthorizedDefault: null },
    ]);
    expect(s.state).toBe('degraded');
    expect(s.detail).toBe('usb1: interface_authorized_default is 1; usb2: interface_authorized_default unreadable');
  });

  it('is unknown when a controller is unreadable or there are none', () => {
    expect(aggregateLockState([{ name: 'usb1', interfaceAuthorizedDefault: null }]).state).toBe('unknown');
    expect(aggregateLockState([]).state).toBe('unknown');
  });

  it('is degraded while a storage interface stays open', () => {
    expect(aggregateLockState([{ name: 'usb1', interfaceAuthorizedDefault: 0 }], ['1-4']).state).toBe('degraded');
  });
});
