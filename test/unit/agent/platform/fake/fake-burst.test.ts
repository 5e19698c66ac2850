import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../../shared/clock.js';
import { silentLogger } from '../../../../../shared/logger.js';
import { createDefaultPolicy } from '../../../../../agent/enforcement/default-policy.js';
import { createUsbLock, type UsbLock } from '../../../../../agent/enforcement/usb-lock.js';
import { FakeUsbPlatform, MAX_BURST_CYCLES, MAX_CONCURRENT_BURSTS } from '../../../../../agent/platform/fake/fake-platform.js';
import { applyFakeCommand, type BurstOutcome } from '../../../../../agent/platform/fake/fake-script.js';
import type { UsbChange } from '../../../../../agent/platform/platform.js';
import { deviceFixture, recordingEmitter } from '../../../../helpers/fake-agent.js';
import { eventually } from '../../../../helpers/eventually.js';

const locks: UsbLock[] = [];
afterEach(async () => {
  await Promise.all(locks.splice(0).map((l) => l.stop()));
});

describe('FakeUsbPlatform.burst', () => {
  it('plugs the device in and out count times and delivers every change before the next step', async () => {
    const p = new FakeUsbPlatform();
    const seen: Array<{ kind: UsbChange['kind']; present: boolean }> = [];
    await p.watch(
      (c) => {
        if (c.kind === 'device-added' || c.kind === 'device-removed') {
          // What a watcher that reads the device on this change would find.
          void p.listDevices().then((ports) => seen.push({ kind: c.kind, present: ports.includes(c.port) }));
        }
      },
      () => undefined,
    );
    expect(await p.burst(deviceFixture('sandisk-ultra-fit'), 7)).toBe(7);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(14);
    seen.forEach((s, i) => expect(s).toEqual(i % 2 === 0 ? { kind: 'device-added', present: true } : { kind: 'device-removed', present: false }));
    expect(await p.listDevices()).toEqual([]);
  });

  it('lets timers run while it is still plugging', async () => {
    const p = new FakeUsbPlatform();
    let finished = false;
    let ticksDuring = 0;
    const tick = () => {
      if (finished) return;
      ticksDuring++;
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    await p.burst(deviceFixture('logitech-k120'), 2_000).then(() => (finished = true));
    // A burst that never yielded would finish before the first timer fires.
    expect(ticksDuring).toBeGreaterThan(0);
  });

  it('makes a watching usb lock record inserted, blocked and removed for every cycle', async () => {
    const platform = new FakeUsbPlatform();
    const rec = recordingEmitter();
    const lock = createUsbLock({ platform, policy: createDefaultPolicy(), emit: rec.emit, log: silentLogger(), clock: new ManualClock(), resyncIntervalMs: 0 });
    locks.push(lock);
    await lock.start();
    await platform.burst(deviceFixture('sandisk-ultra-fit'), 25);
    await eventually(() => expect(rec.ofType('usb.removed')).toHaveLength(25));
    expect(rec.ofType('usb.inserted')).toHaveLength(25);
    expect(rec.ofType('usb.blocked')).toHaveLength(25);
    expect(rec.events.filter((e) => e.type.startsWith('usb.')).map((e) => e.type).slice(0, 6)).toEqual([
      'usb.inserted', 'usb.blocked', 'usb.removed', 'usb.inserted', 'usb.blocked', 'usb.removed',
    ]);
  });

  it('refuses counts outside 1..MAX_BURST_CYCLES and more than MAX_CONCURRENT_BURSTS at once, synchronously', async () => {
    const p = new FakeUsbPlatform();
    const spec = deviceFixture('logitech-k120');
    for (const bad of [0, -1, 1.5, MAX_BURST_CYCLES + 1]) {
      expect(() => p.burst(spec, bad)).toThrow(expect.objectContaining({ code: 'FAKE_ERR_SCRIPT' }));
    }
    const running = Array.from({ length: MAX_CONCURRENT_BURSTS }, () => p.burst(spec, 3));
    expect(() => p.burst(spec, 1)).toThrow(/at most/);
    expect(await Promise.all(running)).toEqual(Array(MAX_CONCURRENT_BURSTS).fill(3));
    // Finished bursts give their slots back.
    expect(await p.burst(spec, 1)).toBe(1);
  });

  it('stops with FAKE_ERR_SCRIPT when its fixed port is taken mid-burst', async () => {
    const p = new FakeUsbPlatform();
    let removals = 0;
    await p.watch(
      (c) => {
        // Between two cycles the port is free for a moment; someone else plugs into it.
        if (c.kind === 'device-removed' && ++removals === 3) p.insert(deviceFixture('cmedia-headset'), { port: '1-4' });
      },
      () => undefined,
    );
    await expect(p.burst(deviceFixture('logitech-k120'), 100, { port: '1-4' })).rejects.toMatchObject({ code: 'FAKE_ERR_SCRIPT' });
    expect(removals).toBe(3);
    expect((await p.readDevice('1-4'))?.info.product_id).toBe(deviceFixture('cmedia-headset').product_id.toLowerCase());
  });
});

describe('applyFakeCommand burst', () => {
  it('starts a burst, answers null at once and reports the cycles when it ends', async () => {
    const p = new FakeUsbPlatform();
    const outcomes: BurstOutcome[] = [];
    const line = JSON.stringify({ op: 'burst', count: 12, device: deviceFixture('sandisk-ultra-fit') });
    expect(applyFakeCommand(p, line, (o) => outcomes.push(o))).toBeNull();
    expect(outcomes).toEqual([]);
    await eventually(() => expect(outcomes).toEqual([{ ok: true, cycles: 12 }]));
  });

  it('rejects a burst line with a count out of bounds or an unknown field', () => {
    const p = new FakeUsbPlatform();
    const device = deviceFixture('sandisk-ultra-fit');
    // The agent checks commands with a generated validator, which names the schema, not the field.
    expect(applyFakeCommand(p, JSON.stringify({ op: 'burst', count: MAX_BURST_CYCLES + 1, device }))).toMatch(/fake command schema/);
    expect(applyFakeCommand(p, JSON.stringify({ op: 'burst', count: 0, device }))).toMatch(/fake command schema/);
    expect(applyFakeCommand(p, JSON.stringify({ op: 'burst', count: 5, device, chunk: 9 }))).toMatch(/fake command schema/);
    // The same line with a count in bounds and no extra field is accepted.
    expect(applyFakeCommand(p, JSON.stringify({ op: 'burst', count: 1, device }))).toBeNull();
  });

  it('reports a burst that stopped midway instead of throwing', async () => {
    const p = new FakeUsbPlatform();
    p.insert(deviceFixture('cmedia-headset'), { port: '1-4' });
    const outcomes: BurstOutcome[] = [];
    expect(applyFakeCommand(p, JSON.stringify({ op: 'burst', count: 3, device: deviceFixture('logitech-k120'), port: '1-4' }), (o) => outcomes.push(o))).toBeNull();
    await eventually(() => expect(outcomes).toEqual([{ ok: false, problem: expect.stringContaining('occupied') as string }]));
  });

  it('refuses a burst beyond the concurrency cap in its answer', async () => {
    const p = new FakeUsbPlatform();
    const device = deviceFixture('logitech-k120');
    const running = Array.from({ length: MAX_CONCURRENT_BURSTS }, () => p.burst(device, 5));
    expect(applyFakeCommand(p, JSON.stringify({ op: 'burst', count: 1, device }))).toMatch(/at most/);
    await Promise.all(running);
  });
});
