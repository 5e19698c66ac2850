import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { decodeCollectorMessage } from '../../../../shared/protocol/decode.js';
import { collectorMessage } from '../../../../shared/protocol/encode.js';
import type { AgentEventType, CollectorMessage } from '../../../../shared/protocol/messages.js';
import { createUsbLock, type UsbLock } from '../../../../agent/enforcement/usb-lock.js';
import { createAgentUnlock, type AgentUnlock } from '../../../../agent/grants/agent-unlock.js';
import { ManualBootClock } from '../../../../agent/grants/boot-clock.js';
import { createLinuxUsbPlatform } from '../../../../agent/platform/linux/usb-platform.js';
import { eventually } from '../../../helpers/eventually.js';
import { recordingEmitter } from '../../../helpers/fake-agent.js';
import { createFakeSysfs, type FakeDeviceSpec, type FakeSysfs } from '../../../helpers/fake-sysfs.js';

// The grant path through the real Linux adapter on a fake sysfs tree: the assertions are the kernel
// attribute writes (authorized, drivers_probe) for the granted device and for its neighbours.

const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const stick = (port: string, serial = '4C530001130820116055'): FakeDeviceSpec => ({
  port,
  vendorId: '0781',
  productId: '5583',
  serial,
  manufacturer: ' SanDisk',
  product: ' Ultra Fit',
  interfaces: [{ cls: 0x08, sub: 0x06, proto: 0x50 }],
});

function command(frame: string): CollectorMessage {
  const d = decodeCollectorMessage(frame);
  if (d.ok !== true) throw new Error('bad frame');
  return d.msg;
}

async function setup(): Promise<{ fs: FakeSysfs; lock: UsbLock; unlock: AgentUnlock; boot: ManualBootClock; rec: ReturnType<typeof recordingEmitter>; readHash: (port: string) => Promise<string> }> {
  const fs = await createFakeSysfs();
  cleanups.push(() => fs.cleanup());
  await fs.addController('usb1');
  await fs.addController('usb2');
  const state = await mkdtemp(join(tmpdir(), 'seatguard-unlock-linux-'));
  cleanups.push(() => rm(state, { recursive: true, force: true }));
  const platform = createLinuxUsbPlatform({ sysfsRoot: fs.root, log: silentLogger(), ueventSource: fs.uevents, periodicResyncMs: 60_000 });
  const rec = recordingEmitter();
  const clock = new ManualClock(T0);
  const boot = new ManualBootClock();
  let unlock: AgentUnlock | null = null;
  const emit = <T extends AgentEventType>(type: T, body: Parameters<typeof rec.emit<T>>[1]) => {
    rec.emit(type, body);
    unlock?.observe(type, body);
  };
  unlock = createAgentUnlock({ stateDir: state, platform, emit, clock, bootClock: boot, log: silentLogger(), checkIntervalMs: 3_600_000 });
  const u = unlock;
  cleanups.push(async () => u.close());
  const lock = createUsbLock({ platform, policy: unlock.policy, emit, log: silentLogger(), clock, resyncIntervalMs: 0 });
  cleanups.push(async () => {
    await u.stop();
    await lock.stop();
  });
  await lock.start();
  await unlock.start({ resync: (r) => lock.resync(r) });
  const readHash = async (port: string) => {
    const d = await platform.readDevice(port);
    if (!d?.info.hash) throw new Error(`no hash for ${port}`);
    return d.info.hash;
  };
  return { fs, lock, unlock, boot, rec, readHash };
}

const authorized = (fs: FakeSysfs, iface: string) => fs.read(`bus/usb/devices/${iface}/authorized`).then((s) => s.trim());

describe('unlock grant on the Linux adapter (fake sysfs)', () => {
  it('authorizes and probes only the granted stick, then writes authorized=0 at expiry; the twin and another stick stay untouched', async () => {
    const { fs, unlock, boot, rec, readHash } = await setup();
    await fs.addDevice(stick('1-2'));
    await fs.addDevice(stick('1-3')); // twin: same serial and descriptors, other port
    await fs.addDevice(stick('2-1', 'OTHER0000000001'));
    await eventually(() => expect(rec.ofType('usb.blocked').map((b) => b.device.port).sort()).toEqual(['1-2', '1-3', '2-1']));
    expect(fs.probed()).toEqual([]);

    const hash = await readHash('1-2');
    expect(await readHash('1-3')).toBe(hash);
    unlock.onCollectorMessage(
      command(
        collectorMessage(
          'unlock.granted',
          {
            grant_id: 'grt_linux',
            request_id: 'req_linux',
            device: { vendor_id: '0781', product_id: '5583', serial: '4C530001130820116055', hash, port: '1-2' },
            any_port: false,
            allow_reinsert: false,
            issued_at: new Date(T0).toISOString(),
            expires_at: new Date(T0 + 600_000).toISOString(),
            duration_ms: 600_000,
            warn_before_ms: 60_000,
            executor: 'usr_maint',
          },
          T0,
        ),
      ),
    );
    await unlock.settled();
    expect(await authorized(fs, '1-2:1.0')).toBe('1');
    expect(fs.probes()).toEqual([{ iface: '1-2:1.0', authorizedAtProbe: '1' }]);
    expect(await authorized(fs, '1-3:1.0')).toBe('0');
    expect(await authorized(fs, '2-1:1.0')).toBe('0');
    expect(rec.ofType('grant.applied')).toMatchObject([{ grant_id: 'grt_linux', authorized_interfaces: ['08:06:50'] }]);

    boot.advance(600_000);
    await unlock.grants.check();
    expect(await authorized(fs, '1-2:1.0')).toBe('0');
    expect(rec.ofType('grant.ended')).toEqual([{ grant_id: 'grt_linux', reason: 'expired', relocked_interfaces: ['08:06:50'] }]);
    expect(await authorized(fs, '1-3:1.0')).toBe('0');
    expect(await authorized(fs, '2-1:1.0')).toBe('0');
    expect(fs.probed()).toEqual(['1-2:1.0']);
    for (const c of ['usb1', 'usb2']) expect((await fs.read(`bus/usb/devices/${c}/interface_authorized_default`)).trim()).toBe('0');
  });

  it('relocks the granted stick when the collector revokes it', async () => {
    const { fs, unlock, rec, readHash } = await setup();
    await fs.addDevice(stick('1-2'));
    await eventually(() => expect(rec.ofType('usb.blocked')).toHaveLength(1));
    const hash = await readHash('1-2');
    const grant = {
      grant_id: 'grt_rev',
      request_id: 'req_rev',
      device: { vendor_id: '0781', product_id: '5583', serial: '4C530001130820116055', hash, port: '1-2' },
      any_port: false,
      allow_reinsert: false,
      issued_at: new Date(T0).toISOString(),
      expires_at: new Date(T0 + 600_000).toISOString(),
      duration_ms: 600_000,
      warn_before_ms: 0,
      executor: 'usr_maint',
    };
    unlock.onCollectorMessage(command(collectorMessage('unlock.granted', grant, T0)));
    await unlock.settled();
    expect(await authorized(fs, '1-2:1.0')).toBe('1');
    unlock.onCollectorMessage(command(collectorMessage('unlock.revoked', { grant_id: 'grt_rev', reason: 'done' }, T0)));
    await unlock.settled();
    expect(await authorized(fs, '1-2:1.0')).toBe('0');
    expect(rec.ofType('grant.ended')).toEqual([{ grant_id: 'grt_rev', reason: 'revoked', relocked_interfaces: ['08:06:50'] }]);
  });
});
