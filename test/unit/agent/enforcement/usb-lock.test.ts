import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { validateOutgoing } from '../../../../shared/protocol/decode.js';
import { PROTOCOL_VERSION } from '../../../../shared/protocol/version.js';
import { FakeUsbPlatform } from '../../../../agent/platform/fake/fake-platform.js';
import { createUsbLock, type UsbLock } from '../../../../agent/enforcement/usb-lock.js';
import { createDefaultPolicy } from '../../../../agent/enforcement/default-policy.js';
import type { UsbPolicy } from '../../../../agent/enforcement/policy.js';
import { deviceFixture, recordingEmitter } from '../../../helpers/fake-agent.js';
import { eventually } from '../../../helpers/eventually.js';

const locks: UsbLock[] = [];
afterEach(async () => {
  await Promise.all(locks.splice(0).map((l) => l.stop()));
});

function setup(opts: { platform?: FakeUsbPlatform; policy?: UsbPolicy; resyncIntervalMs?: number } = {}) {
  const platform = opts.platform ?? new FakeUsbPlatform();
  const rec = recordingEmitter();
  const lock = createUsbLock({
    platform,
    policy: opts.policy ?? createDefaultPolicy(),
    emit: rec.emit,
    log: silentLogger(),
    clock: new ManualClock(),
    resyncIntervalMs: opts.resyncIntervalMs ?? 0,
  });
  locks.push(lock);
  return { platform, lock, ...rec };
}

function asFrame(type: string, body: unknown) {
  return { v: PROTOCOL_VERSION, type, id: 'x-1', ts: '2026-01-01T00:00:00.000Z', seq: 1, body };
}

describe('createUsbLock', () => {
  it('keeps the interface of a storage-only stick unauthorized and reports it blocked', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    const port = platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    expect(platform.interfaceState(`${port}:1.0`)).toEqual({ authorized: false, driver: null });
    expect(platform.probeLog).not.toContain(`${port}:1.0`);
    expect(ofType('usb.inserted')).toHaveLength(1);
    expect(ofType('usb.blocked')[0]).toMatchObject({ blocked_interfaces: ['08:06:50'], allowed_interfaces: [] });
  });

  it('authorizes and probes a keyboard and reports it only as inserted', async () => {
    const { platform, lock, events } = setup();
    await lock.start();
    const port = platform.insert(deviceFixture('logitech-k120'));
    await eventually(() => expect(platform.interfaceState(`${port}:1.1`)?.driver).toBe('usbhid'));
    expect(platform.interfaceState(`${port}:1.0`)).toEqual({ authorized: true, driver: 'usbhid' });
    expect(platform.probeLog).toEqual([`${port}:1.0`, `${port}:1.1`]);
    // Let the trailing interface-added changes run: they must not add events.
    await lock.resync('test');
    expect(events.filter((e) => e.type.startsWith('usb.')).map((e) => e.type)).toEqual(['usb.inserted']);
  });

  it('authorizes only the HID half of a composite stick', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    const port = platform.insert(deviceFixture('composite-hid-storage'));
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    expect(platform.interfaceState(`${port}:1.0`)).toEqual({ authorized: true, driver: 'usbhid' });
    expect(platform.interfaceState(`${port}:1.1`)).toEqual({ authorized: false, driver: null });
    expect(ofType('usb.blocked')[0]).toMatchObject({ blocked_interfaces: ['08:06:50'], allowed_interfaces: ['03:01:01'] });
  });

  it('allows a headset and an MTP phone without binding anything to a storage driver', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    const headset = platform.insert(deviceFixture('cmedia-headset'));
    const phone = platform.insert(deviceFixture('samsung-mtp-phone'));
    await eventually(() => expect(platform.interfaceState(`${phone}:1.1`)?.authorized).toBe(true));
    await eventually(() => expect(platform.interfaceState(`${headset}:1.3`)?.driver).toBe('usbhid'));
    expect(platform.interfaceState(`${headset}:1.0`)?.driver).toBe('snd-usb-audio');
    expect(ofType('usb.blocked')).toHaveLength(0);
  });

  it('authorizes nothing on a device whose descriptors are unreadable (fail closed)', async () => {
    const platform = new FakeUsbPlatform();
    const { lock, ofType } = setup({ platform });
    await lock.start();
    await platform.lockController('usb1');
    const port = platform.insert(deviceFixture('composite-hid-storage'));
    platform.failReads(port);
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
    expect(platform.interfaceState(`${port}:1.1`)?.authorized).toBe(false);
    expect(platform.probeLog).toEqual([]);
    expect(ofType('usb.blocked')[0]?.reason).toMatch(/^fail closed: descriptors unreadable/);
  });

  it('never authorizes an interface whose authorized state is unreadable', async () => {
    const platform = new FakeUsbPlatform({ controllerDefault: 0 });
    const port = platform.insert(deviceFixture('logitech-k120'));
    platform.failInterfaceReads(`${port}:1.0`);
    const { lock } = setup({ platform });
    await lock.start();
    expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
    expect(platform.interfaceState(`${port}:1.1`)?.authorized).toBe(true);
  });

  it('deauthorizes a storage interface that was bound before the agent started', async () => {
    const platform = new FakeUsbPlatform();
    const stick = platform.insert(deviceFixture('sandisk-ultra-fit'));
    const kbd = platform.insert(deviceFixture('logitech-k120'));
    expect(platform.interfaceState(`${stick}:1.0`)?.driver).toBe('usb-storage');
    const { lock, ofType } = setup({ platform });
    await lock.start();
    expect(platform.interfaceState(`${stick}:1.0`)).toEqual({ authorized: false, driver: null });
    expect(platform.interfaceState(`${kbd}:1.0`)).toEqual({ authorized: true, driver: 'usbhid' });
    expect(ofType('usb.inserted').map((b) => b.present_at_start)).toEqual([true, true]);
    expect(ofType('usb.blocked')).toHaveLength(1);
  });

  it('locks every controller at start and reports locked only after reading back 0', async () => {
    const { platform, lock, ofType } = setup();
    const snap = await lock.start();
    expect(snap.state).toBe('locked');
    expect(platform.controllerDefault('usb1')).toBe(0);
    expect(platform.controllerDefault('usb2')).toBe(0);
    expect(ofType('lock.state')).toEqual([
      {
        state: 'locked',
        controllers: [
          { name: 'usb1', interface_authorized_default: 0 },
          { name: 'usb2', interface_authorized_default: 0 },
        ],
        detail: '2 controller(s) locked',
      },
    ]);
  });

  it('reports unknown, never locked, when a controller cannot be read back', async () => {
    const platform = new FakeUsbPlatform();
    platform.failControllerReads('usb2');
    const { lock } = setup({ platform });
    const snap = await lock.start();
    expect(snap.state).toBe('unknown');
    expect(snap.detail).toContain('usb2: interface_authorized_default unreadable');
  });

  it('reports unknown when there are no USB controllers at all', async () => {
    const { lock } = setup({ platform: new FakeUsbPlatform({ controllers: [] }) });
    expect((await lock.start()).state).toBe('unknown');
  });

  it('reports tampering as degraded, then re-locks on resync', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    platform.setControllerDefault('usb1', 1);
    await lock.resync('test');
    expect(ofType('lock.state').map((b) => b.state)).toEqual(['locked', 'degraded', 'locked']);
    expect(ofType('lock.state')[1]?.detail).toContain('usb1: interface_authorized_default is 1');
    expect(platform.controllerDefault('usb1')).toBe(0);
  });

  it('re-locks on the periodic resync without being asked', async () => {
    const { platform, lock } = setup({ resyncIntervalMs: 20 });
    await lock.start();
    platform.setControllerDefault('usb2', 1);
    await eventually(() => expect(platform.controllerDefault('usb2')).toBe(0));
  });

  it('locks a controller that appears later at once', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    platform.addController('usb3');
    await eventually(() => expect(platform.controllerDefault('usb3')).toBe(0));
    expect(lock.state().controllers.map((c) => c.name)).toEqual(['usb1', 'usb2', 'usb3']);
    expect(ofType('lock.state')).toHaveLength(1);
  });

  it('reports degraded while a storage interface cannot be deauthorized', async () => {
    const platform = new FakeUsbPlatform();
    const port = platform.insert(deviceFixture('sandisk-ultra-fit'));
    platform.failInterfaceWrites(`${port}:1.0`);
    const { lock } = setup({ platform });
    const snap = await lock.start();
    expect(snap.state).toBe('degraded');
    expect(snap.detail).toContain(`${port}: storage interface could not be deauthorized`);
    platform.remove(port);
    await eventually(() => expect(lock.state().state).toBe('locked'));
  });

  it('reports a removal once with the identity last seen', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    const port = platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    platform.remove(port);
    await eventually(() => expect(ofType('usb.removed')).toHaveLength(1));
    expect(ofType('usb.removed')[0]?.device).toMatchObject({ port, vendor_id: '0781', product_id: '5583', serial: '4C530001130820116055' });
  });

  it('reports a device removed while the agent was not watching on the next resync', async () => {
    const { platform, lock, ofType } = setup();
    const port = platform.insert(deviceFixture('logitech-k120'));
    await lock.start();
    platform.remove(port, { lostEvent: true });
    await new Promise((r) => setImmediate(r));
    expect(ofType('usb.removed')).toHaveLength(0);
    await lock.resync('lost events');
    expect(ofType('usb.removed')).toHaveLength(1);
  });

  it('handles devices plugged in while it starts (listen, scan, replay)', async () => {
    const { platform, lock, ofType } = setup();
    const starting = lock.start();
    const port = platform.insert(deviceFixture('sandisk-ultra-fit'));
    await starting;
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
    expect(ofType('usb.inserted')).toHaveLength(1);
  });

  it('blocks everything on a device when the policy throws', async () => {
    const throwing: UsbPolicy = {
      name: 'broken',
      decide: () => {
        throw new Error('boom');
      },
    };
    const platform = new FakeUsbPlatform({ controllerDefault: 0 });
    const port = platform.insert(deviceFixture('composite-hid-storage'));
    const { lock, ofType } = setup({ platform, policy: throwing });
    await lock.start();
    expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
    expect(ofType('usb.blocked')[0]?.reason).toBe('fail closed: policy error');
  });

  it('authorizes storage only when a policy allows it, and reports usb.allowed', async () => {
    const allowAll: UsbPolicy = { name: 'allow-all', decide: () => ({ target: 'allow', rule: 'test: allow everything' }) };
    const { platform, lock, ofType } = setup({ policy: allowAll });
    await lock.start();
    const port = platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => expect(ofType('usb.allowed')).toHaveLength(1));
    expect(platform.interfaceState(`${port}:1.0`)).toEqual({ authorized: true, driver: 'usb-storage' });
    expect(ofType('usb.blocked')).toHaveLength(0);
  });

  it('rejects a device when the policy says reject', async () => {
    const reject: UsbPolicy = { name: 'reject', decide: () => ({ target: 'reject', rule: 'test: reject' }) };
    const { platform, lock, ofType } = setup({ policy: reject });
    await lock.start();
    platform.insert(deviceFixture('hostile-strings'));
    await eventually(() => expect(ofType('usb.removed')).toHaveLength(1));
    expect(await platform.listDevices()).toEqual([]);
    expect(ofType('usb.blocked')[0]).toMatchObject({ reason: 'test: reject', allowed_interfaces: [] });
  });

  it('blocks only the listed interfaces under a block-with-exceptions decision', async () => {
    const hidOnly: UsbPolicy = { name: 'hid-only', decide: () => ({ target: 'block', exceptInterfaces: ['03:*:*'], rule: 'test: hid only' }) };
    const { platform, lock } = setup({ policy: hidOnly });
    await lock.start();
    const port = platform.insert(deviceFixture('cmedia-headset'));
    await eventually(() => expect(platform.interfaceState(`${port}:1.3`)?.authorized).toBe(true));
    expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
  });

  it('re-blocks and reports a storage interface re-authorized behind its back', async () => {
    const { platform, lock, ofType } = setup();
    await lock.start();
    const port = platform.insert(deviceFixture('sandisk-ultra-fit'));
    await eventually(() => expect(ofType('usb.blocked')).toHaveLength(1));
    await platform.authorizeInterface(`${port}:1.0`);
    await lock.resync('test');
    expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(false);
    expect(ofType('usb.blocked')[1]?.reason).toMatch(/^re-blocked after an outside change/);
  });

  it('emits events that match the protocol schemas, even for hostile strings', async () => {
    const { platform, lock, events } = setup();
    await lock.start();
    const spec = deviceFixture('hostile-strings');
    spec.serial = `<b>${'\u0007'.repeat(50)}${'y'.repeat(10_240)}`;
    const port = platform.insert(spec);
    await eventually(() => expect(events.some((e) => e.type === 'usb.blocked')).toBe(true));
    platform.remove(port);
    await eventually(() => expect(events.some((e) => e.type === 'usb.removed')).toBe(true));
    for (const e of events) expect(validateOutgoing(asFrame(e.type, e.body))).toBeNull();
  });

  it('does not unblock anything or reopen controllers when stopped, and a restart authorizes no storage', async () => {
    const platform = new FakeUsbPlatform();
    const first = setup({ platform });
    await first.lock.start();
    const stick = platform.insert(deviceFixture('composite-hid-storage'));
    await eventually(() => expect(first.ofType('usb.blocked')).toHaveLength(1));
    await first.lock.stop();
    expect(platform.watcherCount()).toBe(0);
    expect(platform.controllerDefault('usb1')).toBe(0);
    expect(platform.controllerDefault('usb2')).toBe(0);
    expect(platform.interfaceState(`${stick}:1.1`)?.authorized).toBe(false);
    const probesBefore = platform.probeLog.length;

    const second = setup({ platform });
    const snap = await second.lock.start();
    expect(snap.state).toBe('locked');
    expect(platform.interfaceState(`${stick}:1.1`)).toEqual({ authorized: false, driver: null });
    expect(platform.probeLog.slice(probesBefore)).toEqual([]);
    expect(second.ofType('usb.inserted')[0]?.present_at_start).toBe(true);
  });

  it('ignores platform changes after stop', async () => {
    const { platform, lock, events } = setup();
    await lock.start();
    await lock.stop();
    const count = events.length;
    platform.insert(deviceFixture('sandisk-ultra-fit'));
    await new Promise((r) => setImmediate(r));
    expect(events).toHaveLength(count);
  });

  it('keeps enforcing when recording an event fails', async () => {
    const platform = new FakeUsbPlatform();
    const lock = createUsbLock({
      platform,
      policy: createDefaultPolicy(),
      emit: () => {
        throw new Error('disk full');
      },
      log: silentLogger(),
      clock: new ManualClock(),
      resyncIntervalMs: 0,
    });
    locks.push(lock);
    await lock.start();
    const port = platform.insert(deviceFixture('composite-hid-storage'));
    await eventually(() => expect(platform.interfaceState(`${port}:1.0`)?.authorized).toBe(true));
    expect(platform.interfaceState(`${port}:1.1`)?.authorized).toBe(false);
  });
});
