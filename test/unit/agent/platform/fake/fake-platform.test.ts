import { describe, expect, it } from 'vitest';
import { FakeUsbPlatform, comparePorts } from '../../../../../agent/platform/fake/fake-platform.js';
import { applyFakeCommand } from '../../../../../agent/platform/fake/fake-script.js';
import { parseFakeDeviceSpec, loadDeviceFixtures } from '../../../../../agent/platform/fake/device-spec.js';
import type { UsbChange } from '../../../../../agent/platform/platform.js';
import { deviceFixture, DEVICE_FIXTURE_DIR } from '../../../../helpers/fake-agent.js';
import { eventually } from '../../../../helpers/eventually.js';

describe('FakeUsbPlatform', () => {
  it('binds the class driver at once when the controller default is open (kernel default 1)', async () => {
    const p = new FakeUsbPlatform();
    const port = p.insert(deviceFixture('sandisk-ultra-fit'));
    const d = await p.readDevice(port);
    expect(d?.interfaces[0]).toMatchObject({ name: `${port}:1.0`, cls: 8, authorized: true, driver: 'usb-storage' });
  });

  it('starts new interfaces unauthorized and unbound once interface_authorized_default is 0', async () => {
    const p = new FakeUsbPlatform();
    await p.lockController('usb1');
    const port = p.insert(deviceFixture('logitech-k120'));
    const d = await p.readDevice(port);
    expect(d?.interfaces.map((i) => [i.authorized, i.driver])).toEqual([
      [false, null],
      [false, null],
    ]);
  });

  it('binds a driver only when an interface is authorized and probed, and unbinds on deauthorize', async () => {
    const p = new FakeUsbPlatform({ controllerDefault: 0 });
    const port = p.insert(deviceFixture('composite-hid-storage'));
    await p.authorizeInterface(`${port}:1.0`);
    expect(p.interfaceState(`${port}:1.0`)).toEqual({ authorized: true, driver: 'usbhid' });
    expect(p.probeLog).toEqual([`${port}:1.0`]);
    expect(p.interfaceState(`${port}:1.1`)).toEqual({ authorized: false, driver: null });
    await p.deauthorizeInterface(`${port}:1.0`);
    expect(p.interfaceState(`${port}:1.0`)).toEqual({ authorized: false, driver: null });
  });

  it('does not change devices already configured when the controller default changes later', async () => {
    const p = new FakeUsbPlatform();
    const port = p.insert(deviceFixture('sandisk-ultra-fit'));
    await p.lockController('usb1');
    expect(p.interfaceState(`${port}:1.0`)?.authorized).toBe(true);
  });

  it('delivers add, interface and remove changes in order to watchers', async () => {
    const p = new FakeUsbPlatform();
    const seen: UsbChange[] = [];
    await p.watch((c) => seen.push(c), () => undefined);
    const port = p.insert(deviceFixture('cmedia-headset'), { port: '2-4' });
    p.remove(port);
    await eventually(() => expect(seen).toHaveLength(6));
    expect(seen[0]).toEqual({ kind: 'device-added', port: '2-4' });
    expect(seen.slice(1, 5).map((c) => c.kind)).toEqual(['interface-added', 'interface-added', 'interface-added', 'interface-added']);
    expect(seen[5]).toEqual({ kind: 'device-removed', port: '2-4' });
  });

  it('removes devices behind a hub together with the hub, children first', async () => {
    const p = new FakeUsbPlatform();
    p.insert(deviceFixture('logitech-k120'), { port: '1-1' });
    p.insert(deviceFixture('sandisk-ultra-fit'), { port: '1-1.2' });
    p.insert(deviceFixture('sandisk-ultra-fit'), { port: '1-1.3' });
    const removed: string[] = [];
    await p.watch((c) => c.kind === 'device-removed' && removed.push(c.port), () => undefined);
    p.remove('1-1');
    await eventually(() => expect(removed).toEqual(['1-1.3', '1-1.2', '1-1']));
    expect(await p.listDevices()).toEqual([]);
  });

  it('sanitizes hostile device strings in what it reports', async () => {
    const p = new FakeUsbPlatform();
    const spec = deviceFixture('hostile-strings');
    spec.product = `A\u0000B${'x'.repeat(10_000)}`;
    const d = await p.readDevice(p.insert(spec));
    expect(d?.info.product?.startsWith('A\uFFFDB')).toBe(true);
    expect([...(d?.info.product ?? '')].length).toBe(128);
    expect([...(d?.info.manufacturer ?? '')].some((ch) => ch.charCodeAt(0) < 0x20)).toBe(false);
  });

  it('reports unreadable descriptors as not readable with no hash and no interface list', async () => {
    const p = new FakeUsbPlatform();
    const port = p.insert(deviceFixture('sandisk-ultra-fit'));
    p.failReads(port);
    const d = await p.readDevice(port);
    expect(d).toMatchObject({ descriptorsReadable: false, problem: 'descriptors unreadable' });
    expect(d?.info.hash).toBeNull();
    expect(d?.info.interfaces).toEqual([]);
  });

  it('reads back null for a controller whose default is unreadable, and the lock does not stick', async () => {
    const p = new FakeUsbPlatform();
    p.failControllerReads('usb2');
    expect(await p.lockController('usb2')).toEqual({ name: 'usb2', interfaceAuthorizedDefault: null });
    expect(p.controllerDefault('usb2')).toBe(1);
  });

  it('gives the same device the same hash and a different device a different one', async () => {
    const p = new FakeUsbPlatform();
    const a = await p.readDevice(p.insert(deviceFixture('sandisk-ultra-fit')));
    const b = await p.readDevice(p.insert(deviceFixture('sandisk-ultra-fit')));
    const c = await p.readDevice(p.insert(deviceFixture('composite-hid-storage')));
    expect(a?.info.hash).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(a?.info.hash).toBe(b?.info.hash);
    expect(a?.info.hash).not.toBe(c?.info.hash);
  });

  it('refuses writes to interfaces that are gone', async () => {
    const p = new FakeUsbPlatform();
    await expect(p.authorizeInterface('1-9:1.0')).rejects.toMatchObject({ code: 'SYSFS_ERR_WRITE' });
  });

  it('orders ports parents first', () => {
    expect(['2-1', '1-1.2', '1-10', '1-1', '1-2'].sort(comparePorts)).toEqual(['1-1', '1-1.2', '1-2', '1-10', '2-1']);
  });

  it('loads every recorded fixture as a valid spec', () => {
    const all = loadDeviceFixtures(DEVICE_FIXTURE_DIR);
    expect([...all.keys()]).toEqual(expect.arrayContaining(['sandisk-ultra-fit', 'logitech-k120', 'cmedia-headset', 'composite-hid-storage', 'samsung-mtp-phone']));
  });

  it('rejects a malformed device spec with FAKE_ERR_SCRIPT', () => {
    expect(() => parseFakeDeviceSpec({ vendor_id: 'zz', product_id: '0001', interfaces: [] })).toThrow(expect.objectContaining({ code: 'FAKE_ERR_SCRIPT' }));
  });
});

describe('applyFakeCommand', () => {
  it('applies insert and remove commands and reports bad lines instead of throwing', async () => {
    const p = new FakeUsbPlatform();
    expect(applyFakeCommand(p, JSON.stringify({ op: 'insert', device: deviceFixture('logitech-k120'), port: '1-5' }))).toBeNull();
    expect(await p.listDevices()).toEqual(['1-5']);
    expect(applyFakeCommand(p, '{not json')).toBe('not JSON');
    expect(applyFakeCommand(p, JSON.stringify({ op: 'explode' }))).not.toBeNull();
    expect(applyFakeCommand(p, JSON.stringify({ op: 'remove', port: '1-5' }))).toBeNull();
    expect(await p.listDevices()).toEqual([]);
  });
});
