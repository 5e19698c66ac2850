import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UeventSource } from '../../../../../agent/platform/linux/uevent-source.js';
import { createLinuxUsbPlatform } from '../../../../../agent/platform/linux/usb-platform.js';
import type { UsbChange, UsbWatch } from '../../../../../agent/platform/platform.js';
import { silentLogger } from '../../../../../shared/logger.js';
import { eventually } from '../../../../helpers/eventually.js';
import { createFakeSysfs, type FakeSysfs } from '../../../../helpers/fake-sysfs.js';

const STORAGE = { cls: 8, sub: 6, proto: 0x50 };
const KEYBOARD = { cls: 3, sub: 1, proto: 1 };

let fake: FakeSysfs;
let watches: UsbWatch[];
let changes: UsbChange[];
let errors: Error[];

const failingSource: UeventSource = {
  start: async () => {
    throw new Error('socket(AF_NETLINK) failed: EPERM');
  },
  stop: async () => undefined,
};

async function watch(opts: { ueventSource?: UeventSource; resyncIntervalMs?: number; periodicResyncMs?: number }): Promise<UsbWatch> {
  const platform = createLinuxUsbPlatform({ sysfsRoot: fake.root, log: silentLogger(), ...opts });
  const w = await platform.watch(
    (c) => changes.push(c),
    (e) => errors.push(e),
  );
  watches.push(w);
  return w;
}

const nonPeriodic = () => changes.filter((c) => !(c.kind === 'resync' && c.reason === 'periodic'));

beforeEach(async () => {
  fake = await createFakeSysfs();
  await fake.addController('usb1', { interfaceAuthorizedDefault: '0' });
  watches = [];
  changes = [];
  errors = [];
});

afterEach(async () => {
  for (const w of watches) await w.stop();
  await fake.cleanup();
});

describe('createLinuxUsbPlatform: watch with kernel uevents', () => {
  it('reports a plugged composite device, then its interfaces, from uevents', async () => {
    await watch({ ueventSource: fake.uevents });
    expect(fake.uevents.running).toBe(true);
    await fake.addDevice({ port: '1-3', vendorId: '1d6b', productId: '0104', interfaces: [KEYBOARD, STORAGE] });
    expect(nonPeriodic()).toEqual([
      { kind: 'device-added', port: '1-3' },
      { kind: 'interface-added', port: '1-3', iface: '1-3:1.0' },
      { kind: 'interface-added', port: '1-3', iface: '1-3:1.1' },
    ]);
  });

  it('reports removal of a hub and the device behind it, child first', async () => {
    await fake.addDevice({ port: '1-4', vendorId: '05e3', productId: '0610', deviceClass: 9, interfaces: [{ cls: 9, sub: 0, proto: 0 }] });
    await fake.addDevice({ port: '1-4.2', vendorId: '046d', productId: 'c31c', interfaces: [KEYBOARD] });
    await watch({ ueventSource: fake.uevents });
    await fake.removeDevice('1-4');
    expect(nonPeriodic()).toEqual([
      { kind: 'device-removed', port: '1-4.2' },
      { kind: 'device-removed', port: '1-4' },
    ]);
  });

  it('reports a hot-added controller so its gate can be closed', async () => {
    await watch({ ueventSource: fake.uevents });
    await fake.addController('usb3');
    expect(nonPeriodic()).toEqual([{ kind: 'controller-added', name: 'usb3' }]);
  });

  it('turns a socket overrun into a resync', async () => {
    await watch({ ueventSource: fake.uevents });
    fake.overrun();
    expect(nonPeriodic()).toEqual([{ kind: 'resync', reason: 'fake overrun' }]);
  });

  it('drops malformed and non-USB messages without reporting anything', async () => {
    await watch({ ueventSource: fake.uevents });
    fake.emitRaw('garbage\0\0\0');
    fake.emitRaw('libudev\0\u00fe\u00ed');
    fake.emitRaw('add@/devices/virtual/net/lo\0ACTION=add\0SUBSYSTEM=net\0');
    fake.emitRaw(Buffer.alloc(20_000, 0x41));
    expect(nonPeriodic()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('keeps going after a handler throws, reporting the throw to onError', async () => {
    const platform = createLinuxUsbPlatform({ sysfsRoot: fake.root, log: silentLogger(), ueventSource: fake.uevents });
    let calls = 0;
    const w = await platform.watch(
      () => {
        calls++;
        throw new Error('consumer bug');
      },
      (e) => errors.push(e),
    );
    watches.push(w);
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    expect(calls).toBe(2);
    expect(errors.map((e) => e.message)).toEqual(['consumer bug', 'consumer bug']);
  });

  it('falls back to polling when the uevent source dies, after reporting it and asking for a resync', async () => {
    await watch({ ueventSource: fake.uevents, resyncIntervalMs: 20 });
    fake.failSource(new Error('recvfrom failed'));
    expect(errors.map((e) => e.message)).toEqual(['recvfrom failed']);
    expect(nonPeriodic()).toEqual([{ kind: 'resync', reason: 'uevent source failed' }]);
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    await eventually(() => expect(nonPeriodic()).toContainEqual({ kind: 'device-added', port: '1-2' }));
  });

  it('emits a periodic resync in every mode and stops emitting after stop()', async () => {
    const w = await watch({ ueventSource: fake.uevents, periodicResyncMs: 15 });
    await eventually(() => expect(changes.filter((c) => c.kind === 'resync' && c.reason === 'periodic').length).toBeGreaterThanOrEqual(2));
    await w.stop();
    expect(fake.uevents.running).toBe(false);
    const seen = changes.length;
    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    // Wait on a fresh watch (same tree) to be sure time has passed, instead of sleeping.
    const probe = createLinuxUsbPlatform({ sysfsRoot: fake.root, log: silentLogger(), ueventSource: fake.uevents, periodicResyncMs: 15 });
    let ticks = 0;
    const w2 = await probe.watch(
      () => ticks++,
      () => undefined,
    );
    watches.push(w2);
    await eventually(() => expect(ticks).toBeGreaterThanOrEqual(3));
    expect(changes.length).toBe(seen);
  });
});

describe('createLinuxUsbPlatform: polling fallback', () => {
  it('polls the bus when the uevent source cannot open, and reports adds and removals', async () => {
    await fake.addDevice({ port: '1-1', vendorId: '046d', productId: 'c31c', interfaces: [KEYBOARD] });
    await watch({ ueventSource: failingSource, resyncIntervalMs: 20 });
    expect(errors).toEqual([]);

    await fake.addDevice({ port: '1-2', vendorId: '0781', productId: '5583', interfaces: [STORAGE] });
    await eventually(() =>
      expect(nonPeriodic()).toEqual([
        { kind: 'device-added', port: '1-2' },
        { kind: 'interface-added', port: '1-2', iface: '1-2:1.0' },
      ]),
    );
    changes.length = 0;
    await fake.removeDevice('1-2');
    await eventually(() => expect(nonPeriodic()).toEqual([{ kind: 'device-removed', port: '1-2' }]));
  });

  it('reports a controller that appears while polling', async () => {
    await watch({ ueventSource: failingSource, resyncIntervalMs: 20 });
    await fake.addController('usb2');
    await eventually(() => expect(nonPeriodic()).toContainEqual({ kind: 'controller-added', name: 'usb2' }));
  });

  it('does not report devices that were already present when watching began', async () => {
    await fake.addDevice({ port: '1-1', vendorId: '046d', productId: 'c31c', interfaces: [KEYBOARD] });
    await watch({ ueventSource: failingSource, resyncIntervalMs: 10, periodicResyncMs: 10 });
    // Several periodic resyncs imply several poll rounds have run.
    await eventually(() => expect(changes.filter((c) => c.kind === 'resync').length).toBeGreaterThanOrEqual(4));
    expect(nonPeriodic()).toEqual([]);
  });
});

describe('createLinuxUsbPlatform: default uevent source', () => {
  it('watches with the kernel netlink source (or its polling fallback) and stops cleanly', async () => {
    const w = await watch({ periodicResyncMs: 10, resyncIntervalMs: 10 });
    await eventually(() => expect(changes).toContainEqual({ kind: 'resync', reason: 'periodic' }));
    await w.stop();
    expect(errors).toEqual([]);
  });
});
