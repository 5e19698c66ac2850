import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import { createLinuxUsbPlatform } from '../../../agent/platform/linux/usb-platform.js';
import { createUsbLock, type UsbLock } from '../../../agent/enforcement/usb-lock.js';
import { createDefaultPolicy } from '../../../agent/enforcement/default-policy.js';
import { createFakeSysfs, type FakeDeviceSpec, type FakeSysfs } from '../../helpers/fake-sysfs.js';
import { recordingEmitter } from '../../helpers/fake-agent.js';
import { eventually } from '../../helpers/eventually.js';

// The same enforcement cases as the fake-platform unit tests, but through the real Linux adapter on
// a fake sysfs tree: here the assertions are the kernel attribute writes themselves.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tree(): Promise<FakeSysfs> {
  const fs = await createFakeSysfs();
  cleanups.push(() => fs.cleanup());
  await fs.addController('usb1');
  await fs.addController('usb2');
  return fs;
}

function lockOn(fs: FakeSysfs) {
  const rec = recordingEmitter();
  const platform = createLinuxUsbPlatform({ sysfsRoot: fs.root, log: silentLogger(), ueventSource: fs.uevents, periodicResyncMs: 60_000 });
  const lock: UsbLock = createUsbLock({ platform, policy: createDefaultPolicy(), emit: rec.emit, log: silentLogger(), clock: new ManualClock(), resyncIntervalMs: 0 });
  cleanups.push(() => lock.stop());
  return { lock, ...rec };
}

const stick = (port: string): FakeDeviceSpec => ({
  port,
  vendorId: '0781',
  productId: '5583',
  serial: '4C530001130820116055',
  manufacturer: ' SanDisk',
  product: ' Ultra Fit',
  interfaces: [{ cls: 0x08, sub: 0x06, proto: 0x50 }],
});
const keyboard = (port: string): FakeDeviceSpec => ({
  port,
  vendorId: '046d',
  productId: 'c31c',
  manufacturer: 'Logitech',
  product: 'USB Keyboard',
  interfaces: [
    { cls: 0x03, sub: 0x01, proto: 0x01 },
    { cls: 0x03, sub: 0x00, proto: 0x00 },
  ],
});
const composite = (port: string): FakeDeviceSpec => ({
  port,
  vendorId: '1d6b',
  productId: '0104',
  serial: 'COMPOSITE01',
  manufacturer: 'TestVendor',
  product: 'StickPlusKbd',
  interfaces: [
    { cls: 0x03, sub: 0x01, proto: 0x01 },
    { cls: 0x08, sub: 0x06, proto: 0x50 },
  ],
});

const authorized = (fs: FakeSysfs, iface: string) => fs.read(`bus/usb/devices/${iface}/authorized`).then((s) => s.trim());

describe('usb lock on the Linux adapter (fake sysfs)', () => {
  it('writes interface_authorized_default=0 on every root hub and reports locked', async () => {
    const fs = await tree();
    const { lock } = lockOn(fs);
    expect((await lock.start()).state).toBe('locked');
    expect((await fs.read('bus/usb/devices/usb1/interface_authorized_default')).trim()).toBe('0');
    expect((await fs.read('bus/usb/devices/usb2/interface_authorized_default')).trim()).toBe('0');
  });

  it('leaves the interface of a storage-only stick unauthorized and probes nothing', async () => {
    const fs = await tree();
    const { lock, ofType } = lockOn(fs);
    await lock.start();
    await fs.addDevice(stick('1-2'));
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    expect(await authorized(fs, '1-2:1.0')).toBe('0');
    expect(fs.probed()).toEqual([]);
  });

  it('authorizes a keyboard and writes its interfaces to drivers_probe', async () => {
    const fs = await tree();
    const { lock, ofType } = lockOn(fs);
    await lock.start();
    await fs.addDevice(keyboard('1-3'));
    await eventually(() => expect(fs.probed()).toEqual(['1-3:1.0', '1-3:1.1']));
    expect(await authorized(fs, '1-3:1.0')).toBe('1');
    expect(fs.probes().every((p) => p.authorizedAtProbe === '1')).toBe(true);
    expect(ofType('usb.blocked')).toHaveLength(0);
  });

  it('authorizes only the HID interface of a composite stick', async () => {
    const fs = await tree();
    const { lock, ofType } = lockOn(fs);
    await lock.start();
    await fs.addDevice(composite('2-1'));
    await eventually(() => expect(ofType('usb.blocked').at(-1)?.allowed_interfaces).toEqual(['03:01:01']));
    await eventually(() => expect(fs.probed()).toEqual(['2-1:1.0']));
    expect(await authorized(fs, '2-1:1.0')).toBe('1');
    expect(await authorized(fs, '2-1:1.1')).toBe('0');
    expect(ofType('usb.blocked').at(-1)).toMatchObject({ blocked_interfaces: ['08:06:50'], allowed_interfaces: ['03:01:01'] });
  });

  it('authorizes nothing on a device whose descriptors cannot be read (fail closed)', async () => {
    const fs = await tree();
    const { lock, ofType } = lockOn(fs);
    await lock.start();
    await fs.addDevice({ ...composite('1-4'), descriptors: 'unreadable' });
    // The interface directories may appear one by one; the last report has them all.
    await eventually(() => expect(ofType('usb.blocked').at(-1)?.blocked_interfaces).toEqual(['03:01:01', '08:06:50']));
    expect(await authorized(fs, '1-4:1.0')).toBe('0');
    expect(await authorized(fs, '1-4:1.1')).toBe('0');
    expect(fs.probed()).toEqual([]);
    expect(ofType('usb.blocked').every((b) => b.reason.startsWith('fail closed'))).toBe(true);
  });

  it('deauthorizes a storage interface that was already bound when the agent started', async () => {
    const fs = await tree();
    await fs.addDevice({ ...stick('1-2'), authorizedInterfaces: true });
    const { lock, ofType } = lockOn(fs);
    await lock.start();
    expect(await authorized(fs, '1-2:1.0')).toBe('0');
    expect(ofType('usb.inserted')[0]?.present_at_start).toBe(true);
  });

  it('keeps everything closed across a stop and a restart', async () => {
    const fs = await tree();
    const first = lockOn(fs);
    await first.lock.start();
    await fs.addDevice(composite('1-5'));
    await eventually(() => expect(first.ofType('usb.blocked').at(-1)?.allowed_interfaces).toEqual(['03:01:01']));
    await first.lock.stop();
    expect((await fs.read('bus/usb/devices/usb1/interface_authorized_default')).trim()).toBe('0');
    expect((await fs.read('bus/usb/devices/usb2/interface_authorized_default')).trim()).toBe('0');
    expect(await authorized(fs, '1-5:1.1')).toBe('0');
    const probesBefore = fs.probed().length;

    const second = lockOn(fs);
    expect((await second.lock.start()).state).toBe('locked');
    expect(await authorized(fs, '1-5:1.1')).toBe('0');
    expect(fs.probed().slice(probesBefore)).not.toContain('1-5:1.1');
  });
});
