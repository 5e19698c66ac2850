import { describe, expect, it } from 'vitest';
import {
  comparePorts,
  isDevicePort,
  isRootHub,
  parentOf,
  parseInterfaceName,
} from '../../../../../agent/platform/linux/usb-names.js';

describe('usb names', () => {
  it('orders ports numerically with parents before children', () => {
    const ports = ['2-1', '1-10', '1-2', '1-1.2', '1-1', '1-1.10', '1-1.2.1'];
    expect([...ports].sort(comparePorts)).toEqual(['1-1', '1-1.2', '1-1.2.1', '1-1.10', '1-2', '1-10', '2-1']);
  });

  it('recognises device ports and nothing else', () => {
    for (const ok of ['1-2', '2-1.3', '10-4.1.2.3.4']) expect(isDevicePort(ok)).toBe(true);
    for (const bad of ['usb1', '1-0', '1-2:1.0', '1-2/../usb1', '../1-2', '1-2 ', '1-', '-1', '1-2.0', '', '1-1.1.1.1.1.1.1.1'])
      expect(isDevicePort(bad)).toBe(false);
  });

  it('recognises root hubs', () => {
    expect(isRootHub('usb1')).toBe(true);
    expect(isRootHub('usb12')).toBe(true);
    for (const bad of ['usb', 'usb0', 'usb1/..', 'xusb1', '1-1']) expect(isRootHub(bad)).toBe(false);
  });

  it('splits interface names and rejects root hub interfaces', () => {
    expect(parseInterfaceName('2-1.3:1.0')).toEqual({ port: '2-1.3', config: 1, number: 0 });
    expect(parseInterfaceName('1-2:2.11')).toEqual({ port: '1-2', config: 2, number: 11 });
    for (const bad of ['1-0:1.0', '1-2', '1-2:1', '1-2:1.0/authorized', 'usb1:1.0']) expect(parseInterfaceName(bad)).toBeNull();
  });

  it('derives the parent hub or root hub of a port', () => {
    expect(parentOf('1-2')).toBe('usb1');
    expect(parentOf('3-2.4.1')).toBe('3-2.4');
    expect(parentOf('usb1')).toBeNull();
  });
});
