import { readFileSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Compile } from 'typebox/compile';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLinuxUsbPlatform } from '../../../../../agent/platform/linux/usb-platform.js';
import type { UsbDeviceState, UsbPlatform } from '../../../../../agent/platform/platform.js';
import { UsbDevice } from '../../../../../shared/domain/usb.js';
import { AppError } from '../../../../../shared/errors.js';
import { silentLogger } from '../../../../../shared/logger.js';
import { eventually } from '../../../../helpers/eventually.js';
import { createFakeSysfs, type FakeSysfs } from '../../../../helpers/fake-sysfs.js';

const checkUsbDevice = Compile(UsbDevice);
const STORAGE = { cls: 8, sub: 6, proto: 0x50 };
const KEYBOARD = { cls: 3, sub: 1, proto: 1 };

let fake: FakeSysfs;
let platform: UsbPlatform;

beforeEach(async () => {
  fake = await createFakeSysfs();
  await fake.addController('usb1', { interfaceAuthorizedDefault: '0' });
  platform = createLinuxUsbPlatform({ sysfsRoot: fake.root, log: silentLogger() });
});

afterEach(async () => {
  await fake.cleanup();
});

async function read(port: string): Promise<UsbDeviceState> {
  const d = await platform.readDevice(port);
  if (!d) throw new Error(`device ${port} not found`);
  return d;
}

describe('createLinuxUsbPlatform: enumeration', () => {
  it('lists devices parents before children, numerically, without root hubs or interfaces', async () => {
    await fake.addController('usb2');
    await fake.addDevice({ port: '2-1', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    await fake.addDevice({ port: '1-2', vendorId: '05e3', productId: '0610', deviceClass: 9, interfaces: [{ cls: 9, sub: 0, proto: 0 }] });
    await fake.addDevice({ port: '1-10', vendorId: '046d', productId: 'c31c', interfaces: [KEYBOARD] });
    await fake.addDevice({ port: '1-2.3', vendorId: '046d', productId: 'c31d', interfaces: [KEYBOARD] });
    await fake.addDevice({ port: '1-1', vendorId: '046d', productId: 'c31e', interfaces: [KEYBOARD] });
    expect(await platform.listDevices()).toEqual(['1-1', '1-2', '1-2.3', '1-10', '2-1']);
  });

  it('lists controllers with their interface gate as read', async () => {
    await fake.addController('usb2');
    expect(await platform.listControllers()).toEqual([
      { name: 'usb1', interfaceAuthorizedDefault: 0 },
      { name: 'usb2', interfaceAuthorizedDefault: 1 },
    ]);
  });

  it('reports an unreadable gate as null rather than guessing', async () => {
    await fake.makeUnreadable('bus/usb/devices/usb1/interface_authorized_default');
    expect(await platform.listControllers()).toEqual([{ name: 'usb1', interfaceAuthorizedDefault: null }]);
  });

  it('returns no devices and no controllers when the host has no USB bus', async () => {
    const empty = createLinuxUsbPlatform({ sysfsRoot: `${fake.root}/nowhere`, log: silentLogger() });
    expect(await empty.listDevices()).toEqual([]);
    expect(await empty.listControllers()).toEqual([]);
  });
});

describe('createLinuxUsbPlatform: readDevice', () => {
  it('reads a blocked stick before any driver binds: identity, interfaces and hashes', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', bcdDevice: '0100', serial: '4C530001230512116173', manufacturer: ' USB', product: ' SanDisk 3.2Gen1', interfaces: [STORAGE] });
    const d = await read('1-2');
    expect(d.port).toBe('1-2');
    expect(d.descriptorsReadable).toBe(true);
    expect(d.problem).toBeUndefined();
    expect(d.info).toMatchObject({
      port: '1-2',
      vendor_id: '0781',
      product_id: '5583',
      bcd_device: '0100',
      serial: '4C530001230512116173',
      manufacturer: 'USB',
      product: 'SanDisk 3.2Gen1',
      interfaces: ['08:06:50'],
      connect_type: 'hotplug',
    });
    expect(d.interfaces).toEqual([{ name: '1-2:1.0', number: 0, cls: 8, subclass: 6, protocol: 0x50, authorized: false, driver: null }]);
    expect(checkUsbDevice.Check(d.info)).toBe(true);
  });

  it('reads each interface of a composite device with its own state and bound driver', async () => {
    await fake.addDevice({ port: '1-3', vendorId: '1d6b', productId: '0104', interfaces: [KEYBOARD, STORAGE], authorizedInterfaces: true });
    const d = await read('1-3');
    expect(d.info.interfaces).toEqual(['03:01:01', '08:06:50']);
    expect(d.interfaces.map((i) => [i.name, i.cls, i.authorized, i.driver])).toEqual([
      ['1-3:1.0', 3, true, 'usbhid'],
      ['1-3:1.1', 8, true, 'usb-storage'],
    ]);
  });

  it('reproduces usbguard 1.1.2 hash and parent-hash for recorded devices', async () => {
    const vectors = JSON.parse(readFileSync(new URL('../../../../fixtures/sysfs/usbguard-1.1.2-vectors.json', import.meta.url), 'utf8')) as {
      controller: { descriptors: string };
      devices: Array<{ port: string; vendorId: string; productId: string; bcdDevice: string; serial: string | null; manufacturer: string; product: string; descriptors: string; hash: string; parent_hash: string; interfaces: string[] }>;
    };
    await fake.writeRaw('bus/usb/devices/usb1/descriptors', Buffer.from(vectors.controller.descriptors, 'hex'));
    for (const v of vectors.devices) {
      // Identity comes from attributes and descriptor bytes; interface directories do not matter here.
      const { port, vendorId, productId, bcdDevice, serial, manufacturer, product } = v;
      await fake.addDevice({ port, vendorId, productId, bcdDevice, serial, manufacturer, product, interfaces: [], descriptors: Buffer.from(v.descriptors, 'hex') });
    }
    for (const v of vectors.devices) {
      const d = await read(v.port);
      expect({ port: v.port, hash: d.info.hash, parent_hash: d.info.parent_hash, interfaces: d.info.interfaces }).toEqual({
        port: v.port,
        hash: v.hash,
        parent_hash: v.parent_hash,
        interfaces: v.interfaces,
      });
    }
  });

  it('sanitizes hostile strings: markup kept as text, control characters replaced, 10 KB serial capped', async () => {
    await fake.addDevice({
      port: '1-2',
      vendorId: '0781',
      productId: '5583',
      serial: Buffer.from(`${'A'.repeat(10_000)}\n`),
      manufacturer: '<script>alert(1)</script>',
      product: 'Evil\u0007\u001b[31mStick\u202e',
      interfaces: [STORAGE],
    });
    const d = await read('1-2');
    expect(d.info.manufacturer).toBe('<script>alert(1)</script>');
    expect(d.info.product).toBe('Evil\uFFFD\uFFFD[31mStick\uFFFD');
    expect([...(d.info.serial ?? '')].length).toBe(128);
    expect(d.info.serial?.endsWith('…')).toBe(true);
    expect(checkUsbDevice.Check(d.info)).toBe(true);
    // USBGuard reads one page of the attribute; the hash still exists for this device.
    expect(d.info.hash).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('decodes invalid UTF-8 with replacement characters', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', product: Buffer.from([0x41, 0xff, 0xfe, 0x42, 0x0a]), interfaces: [STORAGE] });
    expect((await read('1-2')).info.product).toBe('A\uFFFD\uFFFDB');
  });

  it('reports missing optional attributes as null and an absent port as connect_type unknown', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', serial: null, manufacturer: null, product: null, connectType: null, interfaces: [STORAGE] });
    const d = await read('1-2');
    expect(d.info).toMatchObject({ serial: null, manufacturer: null, product: null, connect_type: 'unknown' });
    expect(d.descriptorsReadable).toBe(true);
    expect(d.info.hash).not.toBeNull();
  });

  it('maps unusual connect types to unknown', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', connectType: 'not used', interfaces: [STORAGE] });
    await fake.addDevice({ port: '1-3', vendorId: '0781', productId: '5584', connectType: 'hardwired', interfaces: [STORAGE] });
    expect((await read('1-2')).info.connect_type).toBe('unknown');
    expect((await read('1-3')).info.connect_type).toBe('hardwired');
  });

  it('fails closed on unreadable descriptors: not readable, a problem, no hash, interfaces from sysfs', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', descriptors: 'unreadable', interfaces: [STORAGE] });
    const d = await read('1-2');
    expect(d.descriptorsReadable).toBe(false);
    expect(d.problem).toMatch(/descriptors unreadable \(EISDIR\)/);
    expect(d.info.hash).toBeNull();
    expect(d.info.interfaces).toEqual(['08:06:50']);
    expect(checkUsbDevice.Check(d.info)).toBe(true);
  });

  it('fails closed on garbage descriptors', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', descriptors: 'garbage', interfaces: [STORAGE] });
    const d = await read('1-2');
    expect(d.descriptorsReadable).toBe(false);
    expect(d.problem).toMatch(/descriptors malformed/);
    expect(d.info.hash).toBeNull();
  });

  it('refuses descriptors larger than 64 KiB without reading them all', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', descriptors: Buffer.alloc(70_000, 9), interfaces: [STORAGE] });
    const d = await read('1-2');
    expect(d.descriptorsReadable).toBe(false);
    expect(d.problem).toMatch(/exceed 65536 bytes/);
  });

  it('falls back to the descriptor ids when idVendor is unreadable, and fails closed when both are', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    await fake.makeUnreadable('bus/usb/devices/1-2/idVendor');
    const d = await read('1-2');
    expect(d.info.vendor_id).toBe('0781');
    expect(d.descriptorsReadable).toBe(true);
    expect(d.info.hash).toBeNull();

    await fake.addDevice({ port: '1-3', vendorId: '0781', productId: '5583', descriptors: 'unreadable', interfaces: [STORAGE] });
    await fake.makeUnreadable('bus/usb/devices/1-3/idVendor');
    const e = await read('1-3');
    expect(e.descriptorsReadable).toBe(false);
    expect(e.info.vendor_id).toBe('0000');
    expect(e.problem).toMatch(/idVendor\/idProduct unreadable/);
  });

  it('marks an interface whose class files are unreadable as authorized=null, class taken from the descriptors', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE], authorizedInterfaces: true });
    await fake.makeUnreadable('bus/usb/devices/1-2:1.0/bInterfaceClass');
    const d = await read('1-2');
    expect(d.interfaces[0]).toMatchObject({ name: '1-2:1.0', cls: 8, authorized: null });
    expect(d.problem).toMatch(/interface 1-2:1.0 class unreadable/);
  });

  it('reports an unexpected authorized value as null', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    await fake.writeRaw('bus/usb/devices/1-2:1.0/authorized', 'maybe\n');
    expect((await read('1-2')).interfaces[0]?.authorized).toBeNull();
  });

  it('returns null for a device that is gone and for names that are not ports', async () => {
    expect(await platform.readDevice('1-9')).toBeNull();
    for (const bad of ['usb1', '../../etc', '1-2:1.0', '1-2/..', '']) expect(await platform.readDevice(bad)).toBeNull();
  });
});

describe('createLinuxUsbPlatform: writes', () => {
  it('locks a controller by writing 0 and returns the value read back', async () => {
    await fake.addController('usb2');
    const state = await platform.lockController('usb2');
    expect(state).toEqual({ name: 'usb2', interfaceAuthorizedDefault: 0 });
    expect((await fake.read('bus/usb/devices/usb2/interface_authorized_default')).trim()).toBe('0');
  });

  it('returns what it read back when the kernel accepts the write but the gate does not read 0', async () => {
    await fake.addController('usb2');
    // /dev/null takes any write and reads back empty, as a gate the kernel ignores would.
    const gate = join(fake.root, 'bus/usb/devices/usb2/interface_authorized_default');
    await rm(gate);
    await symlink('/dev/null', gate);
    expect(await platform.lockController('usb2')).toEqual({ name: 'usb2', interfaceAuthorizedDefault: null });
  });

  it('fails with SYSFS_ERR_LOCK when the gate cannot be written', async () => {
    await fake.addController('usb2');
    await fake.makeUnreadable('bus/usb/devices/usb2/interface_authorized_default');
    await expect(platform.lockController('usb2')).rejects.toMatchObject({ code: 'SYSFS_ERR_LOCK' });
  });

  it('refuses to lock a name that is not a root hub, and a controller that lacks the attribute', async () => {
    await expect(platform.lockController('../usb1')).rejects.toBeInstanceOf(AppError);
    await expect(platform.lockController('usb9')).rejects.toMatchObject({ code: 'SYSFS_ERR_LOCK' });
  });

  it('authorizes an interface by writing authorized=1, then probing it', async () => {
    await fake.addDevice({ port: '1-3', vendorId: '1d6b', productId: '0104', interfaces: [KEYBOARD, STORAGE] });
    await platform.authorizeInterface('1-3:1.0');
    expect((await fake.read('bus/usb/devices/1-3:1.0/authorized')).trim()).toBe('1');
    await eventually(() => expect(fake.probes()).toEqual([{ iface: '1-3:1.0', authorizedAtProbe: '1' }]));
    // The storage interface is untouched.
    expect((await fake.read('bus/usb/devices/1-3:1.1/authorized')).trim()).toBe('0');
  });

  it('probes interfaces in the order they were authorized', async () => {
    await fake.addDevice({ port: '1-3', vendorId: '1d6b', productId: '0104', interfaces: [KEYBOARD, KEYBOARD, KEYBOARD] });
    for (const i of ['1-3:1.2', '1-3:1.0', '1-3:1.1']) await platform.authorizeInterface(i);
    await eventually(() => expect(fake.probed()).toEqual(['1-3:1.2', '1-3:1.0', '1-3:1.1']));
  });

  it('deauthorizes an interface by writing authorized=0 and probes nothing', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE], authorizedInterfaces: true });
    await platform.deauthorizeInterface('1-2:1.0');
    expect((await fake.read('bus/usb/devices/1-2:1.0/authorized')).trim()).toBe('0');
    expect(fake.probed()).toEqual([]);
  });

  it('rejects a device by writing 1 to its remove attribute', async () => {
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    await platform.rejectDevice('1-2');
    expect(await fake.read('bus/usb/devices/1-2/remove')).toBe('1');
  });

  it('fails with SYSFS_ERR_WRITE, and creates nothing, when the interface does not exist', async () => {
    await expect(platform.authorizeInterface('1-7:1.0')).rejects.toMatchObject({ code: 'SYSFS_ERR_WRITE' });
    await expect(platform.deauthorizeInterface('1-7:1.0')).rejects.toMatchObject({ code: 'SYSFS_ERR_WRITE' });
    await expect(platform.rejectDevice('1-7')).rejects.toMatchObject({ code: 'SYSFS_ERR_WRITE' });
    expect(await platform.listDevices()).toEqual([]);
    expect(fake.probed()).toEqual([]);
  });

  it('refuses malformed interface and port names before touching the filesystem', async () => {
    for (const bad of ['../../x:1.0', '1-2:1.0/../../authorized', 'usb1', '1-0:1.0']) {
      await expect(platform.authorizeInterface(bad)).rejects.toMatchObject({ code: 'SYSFS_ERR_WRITE' });
    }
    await expect(platform.rejectDevice('../1-2')).rejects.toMatchObject({ code: 'SYSFS_ERR_WRITE' });
  });
});
