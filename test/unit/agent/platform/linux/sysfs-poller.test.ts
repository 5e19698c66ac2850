import { describe, expect, it } from 'vitest';
import { diffUsbListings } from '../../../../../agent/platform/linux/sysfs-poller.js';

describe('diffUsbListings', () => {
  it('reports new controllers, then devices parent-first, then their interfaces', () => {
    const before = new Set<string>();
    const after = new Set(['1-2.1:1.0', '1-2:1.0', '1-2.1', 'usb1', '1-0:1.0', '1-2']);
    expect(diffUsbListings(before, after)).toEqual([
      { kind: 'controller-added', name: 'usb1' },
      { kind: 'device-added', port: '1-2' },
      { kind: 'device-added', port: '1-2.1' },
      { kind: 'interface-added', port: '1-2', iface: '1-2:1.0' },
      { kind: 'interface-added', port: '1-2.1', iface: '1-2.1:1.0' },
    ]);
  });

  it('reports removed devices children-first and a resync for a removed controller', () => {
    const before = new Set(['usb1', '1-2', '1-2.1', '1-2:1.0', 'usb2', '2-1']);
    const after = new Set(['usb1']);
    expect(diffUsbListings(before, after)).toEqual([
      { kind: 'device-removed', port: '2-1' },
      { kind: 'device-removed', port: '1-2.1' },
      { kind: 'device-removed', port: '1-2' },
      { kind: 'resync', reason: 'controller usb2 removed' },
    ]);
  });

  it('reports nothing when the listing is unchanged and ignores foreign names', () => {
    const same = new Set(['usb1', '1-2', '1-2:1.0']);
    expect(diffUsbListings(same, new Set(same))).toEqual([]);
    expect(diffUsbListings(new Set(), new Set(['.hidden', 'readme', '1-2/../x']))).toEqual([]);
  });
});
