// Self-test of the VM lab harness (no seatguard code involved): proves the guest, QMP, the command
// channel and the sampler see what the kernel does, including the failure the scenarios must catch
// (an exposed stick). If this file fails, kernel.vm.test.ts results mean nothing.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { vmLabEnv } from '../../scripts/vm/env.js';
import {
  readGuestUsb,
  readKernelLog,
  readPartitions,
  storageDriverTrace,
  waitForBlockDevice,
  waitForDevice,
  waitForDeviceGone,
  waitForNoBlockDevice,
} from '../../scripts/vm/guest-usb.js';
import { isVmUnavailable, startVmLab, type VmLab } from '../../scripts/vm/lab.js';
import { measureTimeMap } from '../../scripts/vm/time-map.js';
import { createCompositeGadget, createStickImage, dummyRootHubs, plugKeyboard, plugStick, unplug } from '../../scripts/vm/usb-devices.js';
import { startUsbPoller, summarizeExposure } from '../../scripts/vm/usb-poller.js';
import { waitUntil } from '../../scripts/vm/wait.js';

const env = vmLabEnv();
let lab: VmLab | null = null;
let unavailable: string | null = null;

function need(ctx: TestContext): VmLab {
  if (unavailable !== null) ctx.skip(`QEMU lab unavailable (SEATGUARD_VM_OPTIONAL=1): ${unavailable}`);
  if (!lab) throw new Error('lab setup failed (see beforeAll)');
  return lab;
}

const setGate = (l: VmLab, v: 0 | 1) => l.vm.shell.check(`for h in /sys/bus/usb/devices/usb*; do echo ${v} > $h/interface_authorized_default; done`);

describe('VM lab harness (guest kernel, QMP, command channel, sampler)', () => {
  beforeAll(async () => {
    try {
      lab = await startVmLab(env);
      console.log(`[vm-harness] booted ${lab.kernelVersion} in ${(lab.vm.bootMs / 1000).toFixed(1)} s`);
    } catch (err) {
      if (env.optional && isVmUnavailable(err)) {
        unavailable = err instanceof Error ? err.message.split('\n')[0] ?? String(err) : String(err);
        return;
      }
      throw err;
    }
  });

  afterAll(async () => {
    await lab?.stop();
  });

  it('returns guest command output and exit codes verbatim, even output that imitates reply frames', async (ctx) => {
    const l = need(ctx);
    const r = await l.vm.shell.run(`printf 'E 1 0\\nB 2\\n\\001\\377'; uname -r; exit 7`);
    expect(r.code).toBe(7);
    expect(r.output).toBe(`E 1 0\nB 2\n\u0001\ufffd${l.kernelVersion}\n`);
    // The guest-side limit kills a command that overruns, and the channel keeps working after it.
    const slow = await l.vm.shell.run('echo started; sleep 30; echo finished', { timeoutMs: 1_000 });
    expect(slow.code).not.toBe(0);
    expect(slow.output).toMatch(/^started\n/);
    expect(slow.output).not.toContain('finished');
    expect(await l.vm.shell.check('echo still-serving')).toBe('still-serving\n');
  });

  it('maps host time to guest uptime with a bounded error', async (ctx) => {
    const l = need(ctx);
    const tm = await measureTimeMap(l.vm.shell);
    const host = performance.now();
    const guest = Number((await l.vm.shell.check('cat /proc/uptime')).split(' ')[0]);
    const after = performance.now();
    expect(guest).toBeGreaterThanOrEqual(tm.toGuestS(host) - (tm.uncertaintyMs + 20) / 1000);
    expect(guest).toBeLessThanOrEqual(tm.toGuestS(after) + (tm.uncertaintyMs + 20) / 1000);
  });

  it('sees an unprotected stick bound to usb-storage with its partitions (the exposure the scenarios must never see)', async (ctx) => {
    const l = need(ctx);
    const { shell, qmp } = l.vm;
    const baseline = await readPartitions(shell);
    const poller = await startUsbPoller(shell, { maxMs: 60_000 });
    const p = await plugStick(qmp, { id: 'h1', serial: 'SG-HARNESS-1', image: createStickImage(path.join(l.workDir, 'h1.img')), bus: l.vm.usbBus });
    const dev = await waitForDevice(shell, (d) => d.serial === 'SG-HARNESS-1', { timeoutMs: 45_000, what: 'the stick', withInterfaces: 1 });
    await waitForBlockDevice(shell, { timeoutMs: 45_000 });
    await waitUntil(async () => summarizeExposure(await poller.peek(), `${dev.name}:`, baseline).newPartitions.includes('sda1'), {
      timeoutMs: 30_000,
      what: 'the sampler to record sda1',
    });
    const s = summarizeExposure(await poller.stop(), `${dev.name}:`, baseline);
    expect(s.firstGateOpenT, 'kernel default gate is open').not.toBeNull();
    expect(s.firstBoundT).not.toBeNull();
    expect(s.boundDriver).toBe('usb-storage');
    expect(s.newPartitions).toEqual(expect.arrayContaining(['sda', 'sda1']));
    expect(s.firstNewPartitionT ?? 0).toBeGreaterThan(s.firstBoundT ?? Infinity);
    const klog = await readKernelLog(shell);
    expect(klog.some((k) => k.text.startsWith(`usb ${dev.name}: new `))).toBe(true);
    const trace = storageDriverTrace(klog, dev.name);
    expect(trace.probed.map((k) => k.text)).toContainEqual(`usb-storage ${dev.name}:1.0: USB Mass Storage device detected`);
    expect(trace.probed.map((k) => k.text)).toContainEqual(expect.stringMatching(/\[sda\] Attached SCSI removable disk/));
    expect(trace.refused).toEqual([]);
    await unplug(qmp, p);
    await waitForNoBlockDevice(shell, { timeoutMs: 30_000 });
    await waitForDeviceGone(shell, (d) => d.serial === 'SG-HARNESS-1', 30_000, 'the stick to go');
  });

  it('with interface_authorized_default=0 set from the shell a stick and a keyboard both stay unbound', async (ctx) => {
    const l = need(ctx);
    const { shell, qmp } = l.vm;
    await setGate(l, 0);
    try {
      const gatePoll = await startUsbPoller(shell, { maxMs: 10_000 });
      await waitUntil(async () => (await gatePoll.peek()).samples.length >= 3, { timeoutMs: 20_000, what: 'three samples' });
      const gates = summarizeExposure(await gatePoll.stop(), null, []);
      expect(gates.firstGateClosedT).not.toBeNull();
      expect(gates.firstGateOpenT).toBeNull();
      const since = Number((await shell.check('cat /proc/uptime')).split(' ')[0]);
      const p = await plugStick(qmp, { id: 'h2', serial: 'SG-HARNESS-2', image: createStickImage(path.join(l.workDir, 'h2.img')), bus: l.vm.usbBus });
      const k = await plugKeyboard(qmp, { id: 'hk2', bus: l.vm.usbBus });
      const stick = await waitForDevice(shell, (d) => d.serial === 'SG-HARNESS-2', { timeoutMs: 45_000, what: 'the stick', withInterfaces: 1 });
      const kbd = await waitForDevice(shell, (d) => d.vendorId === '0627', { timeoutMs: 45_000, what: 'the keyboard', withInterfaces: 1 });
      expect(stick.interfaces[0]).toMatchObject({ cls: 8, authorized: '0', driver: null });
      const trace = storageDriverTrace(await readKernelLog(shell), stick.name, since);
      expect(trace.probed).toEqual([]);
      expect(trace.refused.map((k) => k.text)).toContainEqual(`usb-storage ${stick.name}:1.0: Interface 0 is not authorized for usage`);
      expect(kbd.interfaces[0]).toMatchObject({ cls: 3, authorized: '0', driver: null });
      // Authorize + probe the keyboard the way the agent should: only then usbhid binds.
      const ki = kbd.interfaces[0]?.name ?? '';
      await shell.check(`echo 1 > /sys/bus/usb/devices/${ki}/authorized; echo ${ki} > /sys/bus/usb/drivers_probe`);
      await waitForDevice(shell, (d) => d.interfaces.some((i) => i.name === ki && i.driver === 'usbhid'), { timeoutMs: 30_000, what: 'usbhid' });
      expect(await readPartitions(shell)).not.toContainEqual(expect.stringMatching(/^sd/));
      await unplug(qmp, p);
      await unplug(qmp, k);
    } finally {
      await setGate(l, 1);
    }
  });

  it('builds a composite HID+storage gadget on a hot-added dummy_hcd controller', async (ctx) => {
    const l = need(ctx);
    const { shell } = l.vm;
    const g = await createCompositeGadget(shell, { serial: 'SGHARNESS3' });
    const hubs = await dummyRootHubs(shell);
    expect(hubs.length).toBeGreaterThan(0);
    expect((await readGuestUsb(shell)).rootHubs.map((h) => h.name)).toEqual(expect.arrayContaining(hubs));
    await g.attach();
    const dev = await waitForDevice(shell, (d) => d.serial === 'SGHARNESS3', { timeoutMs: 45_000, what: 'the gadget', withInterfaces: 2 });
    expect(dev.interfaces.map((i) => i.cls).sort()).toEqual([3, 8]);
    await g.detach();
    await waitForDeviceGone(shell, (d) => d.serial === 'SGHARNESS3', 30_000, 'the gadget to detach');
    await waitForNoBlockDevice(shell, { timeoutMs: 30_000 });
  });
});
