// The udev backstop on a real systemd-udevd (docs/vm-lab.md § "udev rule suite"): a guest of its own
// runs the host's systemd-udevd under `chroot /host` with the rule file `seatguard agent install`
// wrote, and no seatguard agent (U5, opt-in with SEATGUARD_VM_UDEV_AGENT=1, starts one on top).
// Every scenario asserts what the guest KERNEL did (sysfs gates, authorized, driver links,
// /proc/partitions) and which rule line udevd applied (its debug log).
// Its own boot: the kernel suite needs gates the kernel left open (boot race), this one closes them.
//   npm run build && npx vitest run --config test/vm/vitest.vm.config.ts test/vm/udev.vm.test.ts
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { vmLabEnv } from '../../scripts/vm/env.js';
import { startGuestAgent, type GuestAgent } from '../../scripts/vm/guest-agent.js';
import { renderInstalledRule, startGuestUdevd, type GuestUdevd, type InstalledRule, type RuleAction } from '../../scripts/vm/guest-udevd.js';
import { readGuestUsb, readKernelLog, readPartitions, storageDriverTrace, waitForBlockDevice, waitForDevice, waitForDeviceGone } from '../../scripts/vm/guest-usb.js';
import type { GuestShell } from '../../scripts/vm/command-channel.js';
import { seatguardCli, type StoredEvent } from '../../scripts/vm/host-collector.js';
import { startInProcessCollector, type InProcessCollector } from '../../scripts/vm/inproc-collector.js';
import { isVmUnavailable, startVmLab, type VmLab } from '../../scripts/vm/lab.js';
import { fmtKernelLine, fromKernelLog, HOLD_S, observePlug, recordObservation, sampled, storageHeld } from '../../scripts/vm/observe.js';
import { formatSummary, writeResults, type DualTime, newLabRun, type LabRun, type ScenarioResult } from '../../scripts/vm/results.js';
import { measureTimeMap } from '../../scripts/vm/time-map.js';
import { createCompositeGadget, createStickImage, type CompositeGadget, dummyRootHubs, plugKeyboard, plugStick, reloadControllerWithGadget, unplug } from '../../scripts/vm/usb-devices.js';
import { startUsbPoller, summarizeExposure, type PollResult } from '../../scripts/vm/usb-poller.js';
import { waitUntil } from '../../scripts/vm/wait.js';
import { expectStorageNeverExposed } from './exposure-assertions.js';

const env = vmLabEnv();
const RUN_TAG = Date.now().toString(36).toUpperCase();
/** Host wall clock minus performance.now(): converts the collector's received_at to host perf time. */
const WALL_OFFSET = Date.now() - performance.now();
/** The composite gadget of U4, reused (detached) by U4b. */
const GADGET_SERIAL = `SGUDEV${RUN_TAG}`.slice(0, 32);

const run: LabRun = newLabRun('udev');

interface Ready {
  lab: VmLab;
  rule: InstalledRule;
  /** File line numbers of the rule's three lines, found by content (the file starts with comments). */
  lines: { gate: number; allow: number; deny: number };
}

let lab: VmLab | null = null;
let ready: Ready | null = null;
let udevd: GuestUdevd | null = null;
let collector: InProcessCollector | null = null;
let agent: GuestAgent | null = null;
let composite: CompositeGadget | null = null;

function need(ctx: TestContext): Ready {
  if (run.unavailable !== null) ctx.skip(`QEMU lab unavailable (SEATGUARD_VM_OPTIONAL=1): ${run.unavailable}`);
  if (!ready) throw new Error('lab setup failed (see beforeAll)');
  return ready;
}

function lineOf(content: string, pred: (l: string) => boolean, what: string): number {
  const i = content.split('\n').findIndex((l) => !l.startsWith('#') && pred(l));
  if (i < 0) throw new Error(`the installed rule has no ${what} line`);
  return i + 1;
}

/** Root hubs whose interface_authorized_default is not 0 (the storage gate is open). */
async function openControllers(shell: GuestShell): Promise<string[]> {
  const { rootHubs } = await readGuestUsb(shell);
  return rootHubs.filter((h) => h.interfaceAuthorizedDefault !== '0').map((h) => `${h.name}=${h.interfaceAuthorizedDefault ?? 'unreadable'}`);
}

async function startUdevd(r: Ready): Promise<GuestUdevd> {
  udevd = await startGuestUdevd(r.lab.vm.shell, r.rule);
  run.udev = { version: (await udevd.udevadm(['--version'])).trim(), rulePath: udevd.rulePath, ruleSha256: r.rule.sha256 };
  return udevd;
}

/** The coldplug systemd-udev-trigger does at boot, restricted to usb as `seatguard agent install --apply` runs it. */
async function coldplug(u: GuestUdevd): Promise<void> {
  await u.udevadm(['trigger', '--action=add', '--subsystem-match=usb']);
  await u.udevadm(['settle', '--timeout=60']);
}

/** U2–U5 need udevd with the gates closed; U1 normally did that (a failed U1 does it here). */
async function ensureUdevd(r: Ready): Promise<GuestUdevd> {
  if (udevd && (await udevd.isAlive())) return udevd;
  const u = await startUdevd(r);
  await coldplug(u);
  return u;
}

const fmtAction = (r: Ready, a: RuleAction) => {
  const n = a.line === r.lines.gate ? 'gate' : a.line === r.lines.allow ? 'allow' : a.line === r.lines.deny ? 'deny' : `line ${a.line}`;
  return `${n}: ${a.device} ${a.what}${a.what === 'RUN' ? '' : `=${a.value}`}`;
};
const did = (acts: RuleAction[], line: number, device: string, what: string, value?: string) =>
  acts.some((a) => a.line === line && a.device === device && a.what === what && (value === undefined || a.value === value));

function scenario(id: string, title: string, name: string, fn: (res: ScenarioResult, r: Ready) => Promise<void>, skipReason: string | null = null): void {
  it(name, async (ctx) => {
    if (skipReason !== null) ctx.skip(skipReason);
    const r = need(ctx);
    const res: ScenarioResult = { id, title, passed: false, durationMs: 0, notes: [] };
    const t0 = performance.now();
    try {
      await fn(res, r);
      res.passed = true;
    } finally {
      res.durationMs = performance.now() - t0;
      run.scenarios.push(res);
      console.log(`[vm-udev] scenario ${id} (${title}) ${res.passed ? 'passed' : 'FAILED'} in ${(res.durationMs / 1000).toFixed(1)} s`);
    }
  });
}

describe('the installed udev rule on a real systemd-udevd, without the agent (QEMU/TCG guest)', () => {
  beforeAll(async () => {
    try {
      lab = await startVmLab(env);
    } catch (err) {
      if (env.optional && isVmUnavailable(err)) {
        run.unavailable = err instanceof Error ? err.message.split('\n')[0] ?? String(err) : String(err);
        console.log(`[vm-udev] skipping: ${run.unavailable}`);
        return;
      }
      throw err;
    }
    run.kernel = lab.kernelVersion;
    run.qemu = lab.qemuVersion;
    run.buildMs = lab.buildMs;
    run.bootMs = lab.vm.bootMs;
    run.guestReadyUptimeS = lab.vm.guestReadyUptime;
    console.log(`[vm-udev] guest ${lab.kernelVersion} booted in ${(lab.vm.bootMs / 1000).toFixed(1)} s`);
    // The rule under test is whatever the installer writes today, not a copy kept in the test.
    const rule = await renderInstalledRule({ nodePath: process.execPath, cliPath: seatguardCli(env.cliPath), root: path.join(lab.workDir, 'install-root') });
    ready = {
      lab,
      rule,
      lines: {
        gate: lineOf(rule.content, (l) => l.includes('ATTR{interface_authorized_default}="0"'), 'gate'),
        allow: lineOf(rule.content, (l) => l.includes('ATTR{authorized}="1"'), 'allow'),
        deny: lineOf(rule.content, (l) => l.includes('ATTR{bInterfaceClass}=="08"') && l.includes('ATTR{authorized}="0"'), 'deny'),
      },
    };
  });

  afterAll(async () => {
    const art = env.artifactsDir;
    fs.mkdirSync(art, { recursive: true });
    if (lab) {
      const consoleLog = path.join(lab.vm.runDir, 'console.log');
      if (fs.existsSync(consoleLog)) fs.copyFileSync(consoleLog, path.join(art, 'vm-udev-console.log'));
      if (udevd) fs.writeFileSync(path.join(art, 'vm-udevd.log'), await udevd.log().catch((err: unknown) => `unreadable: ${String(err)}`));
      if (agent) fs.writeFileSync(path.join(art, 'vm-udev-agent.log'), await agent.log().catch((err: unknown) => `unreadable: ${String(err)}`));
    }
    if (collector) fs.writeFileSync(path.join(art, 'vm-udev-collector.log'), collector.logTail(500));
    writeResults(path.join(art, 'vm-udev-results.json'), run);
    console.log(`[vm-udev] summary (test-artifacts/vm-udev-results.json)\n${formatSummary(run)}`);
    await collector?.stop();
    await lab?.stop();
  });

  scenario(
    'U1',
    'udev coldplug',
    'U1 udev coldplug sets interface_authorized_default=0 on every root hub and deauthorizes a stick the kernel bound before udevd ran',
    async (res, r) => {
      const { shell, qmp } = r.lab.vm;
      expect(udevd, 'U1 needs a guest where udevd never ran').toBeNull();
      const hubs = (await readGuestUsb(shell)).rootHubs;
      expect(hubs.length).toBeGreaterThan(0);
      expect(await openControllers(shell), 'the kernel default leaves every gate open').toHaveLength(hubs.length);
      // A stick present at boot: without udevd the kernel binds it (precondition, and proof the check can fail).
      const serial = `SG-COLD-${RUN_TAG}`;
      const plugged = await plugStick(qmp, { id: 'cold1', serial, image: createStickImage(path.join(r.lab.workDir, 'cold1.img')), bus: r.lab.vm.usbBus });
      const names = await waitForBlockDevice(shell, { timeoutMs: 45_000 });
      const dev = await waitForDevice(shell, (d) => d.serial === serial, { timeoutMs: 10_000, what: serial, withInterfaces: 1 });
      expect(dev.interfaces.find((i) => i.cls === 8)?.driver, 'without udevd the kernel binds usb-storage').toBe('usb-storage');
      res.device = { guestName: dev.name, serial };
      res.notes.push(`before udevd: ${dev.name} bound to usb-storage, block devices ${names.join(',')}`);

      const u = await startUdevd(r);
      // udevd acts only on events: until coldplug replays the hubs, the kernel's open gates stay.
      expect(await openControllers(shell), 'udevd alone does not touch existing devices').not.toEqual([]);
      const mark = (await u.ruleActions()).length;
      const tm = await measureTimeMap(shell);
      const poller = await startUsbPoller(shell, { maxMs: 120_000 });
      const t0 = performance.now();
      let poll: PollResult;
      try {
        await coldplug(u);
        res.notes.push(`udevadm trigger --action=add --subsystem-match=usb + settle returned after ${Math.round(performance.now() - t0)} ms`);
        await waitUntil(
          async () => {
            const last = (await poller.peek()).samples.at(-1);
            const mine = last?.interfaces.filter((i) => i.cls === 8 && i.name.startsWith(`${dev.name}:`)) ?? [];
            const gates = Object.values(last?.gates ?? {});
            return gates.length > 0 && gates.every((v) => v === '0') && mine.length > 0 && mine.every((i) => i.driver === null) && !last?.partitions.some((p) => p.startsWith('sd'));
          },
          { timeoutMs: 60_000, intervalMs: 300, what: 'gates closed, the stick unbound and sda gone' },
        ).catch(() => undefined);
      } finally {
        poll = await poller.stop();
      }
      const whole = summarizeExposure(poll, null, []);
      const unbound = poll.samples.find((s) => s.interfaces.some((i) => i.cls === 8 && i.name.startsWith(`${dev.name}:`) && i.driver === null));
      const gone = poll.samples.find((s) => !s.partitions.some((p) => p.startsWith('sd')));
      res.trigger = { kind: 'udevadm trigger', guestS: tm.toGuestS(t0), uncertaintyMs: tm.uncertaintyMs };
      res.gateClosed = sampled(whole.firstGateClosedT, t0, tm);
      res.storageUnbound = sampled(unbound?.t ?? null, t0, tm);
      res.blockDeviceGone = sampled(gone?.t ?? null, t0, tm);
      res.sampler = { samples: whole.samples, meanIntervalMs: whole.meanIntervalMs, observedAfterVisibleS: 0, gateAlwaysClosed: false };
      const acts = (await u.ruleActions()).slice(mark);
      res.udevRuleActions = acts.map((a) => fmtAction(r, a));

      const after = await readGuestUsb(shell);
      expect(after.rootHubs.map((h) => `${h.name}=${h.interfaceAuthorizedDefault ?? '?'}`)).toEqual(hubs.map((h) => `${h.name}=0`));
      for (const h of hubs) expect(did(acts, r.lines.gate, h.name, 'interface_authorized_default', '0'), `gate line applied to ${h.name}`).toBe(true);
      const iface = after.devices.find((d) => d.serial === serial)?.interfaces.find((i) => i.cls === 8);
      expect(iface?.authorized).toBe('0');
      expect(iface?.driver).toBeNull();
      expect(did(acts, r.lines.deny, iface?.name ?? '?', 'authorized', '0'), 'deny line applied to the stick').toBe(true);
      expect(await readPartitions(shell)).not.toContainEqual(expect.stringMatching(/^sd/));

      await unplug(qmp, plugged);
      await waitForDeviceGone(shell, (d) => d.serial === serial, 30_000, `${serial} to disappear`);
    },
  );

  scenario(
    'U2',
    'stick, udev only',
    'U2 with only udevd and the rule a hot-plugged stick is never authorized or bound and no block device appears',
    async (res, r) => {
      const { shell, qmp } = r.lab.vm;
      const u = await ensureUdevd(r);
      expect(await openControllers(shell)).toEqual([]);
      const mark = (await u.ruleActions()).length;
      const serial = `SG-UDEV-${RUN_TAG}`;
      const img = createStickImage(path.join(r.lab.workDir, 'hot2.img'));
      const o = await observePlug(shell, () => plugStick(qmp, { id: 'hot2', serial, image: img, bus: r.lab.vm.usbBus }), (d) => d.serial === serial, 1);
      recordObservation(res, o);
      await u.udevadm(['settle', '--timeout=60']);
      const acts = (await u.ruleActions()).slice(mark);
      res.udevRuleActions = acts.map((a) => fmtAction(r, a));
      const iface = (await readGuestUsb(shell)).devices.find((d) => d.serial === serial)?.interfaces.find((i) => i.cls === 8);

      expectStorageNeverExposed(o.summary, o.storageTrace);
      expect(o.refusedTrace.some((l) => l.includes('usb-storage')), 'the kernel refused usb-storage for lack of authorization').toBe(true);
      expect(iface?.authorized).toBe('0');
      expect(iface?.driver).toBeNull();
      expect(did(acts, r.lines.deny, iface?.name ?? '?', 'authorized', '0'), 'deny line applied').toBe(true);
      expect(did(acts, r.lines.allow, iface?.name ?? '?', 'authorized'), 'allow line must not touch storage').toBe(false);

      await unplug(qmp, o.plugged);
      await waitForDeviceGone(shell, (d) => d.serial === serial, 30_000, `${serial} to disappear`);
    },
  );

  scenario('U3', 'keyboard, udev only', 'U3 with only udevd and the rule a hot-plugged keyboard gets its HID interface authorized and bound to usbhid', async (res, r) => {
    const { shell, qmp } = r.lab.vm;
    const u = await ensureUdevd(r);
    expect(await openControllers(shell)).toEqual([]);
    const mark = (await u.ruleActions()).length;
    const before = new Set((await readGuestUsb(shell)).devices.map((d) => d.name));
    const o = await observePlug(
      shell,
      () => plugKeyboard(qmp, { id: 'kbd3', bus: r.lab.vm.usbBus }),
      (d) => !before.has(d.name) && d.interfaces.some((i) => i.cls === 3),
      1,
      (s) => s.firstHidBoundT !== null,
    );
    recordObservation(res, o);
    const acts = (await u.ruleActions()).slice(mark);
    res.udevRuleActions = acts.map((a) => fmtAction(r, a));
    const hid = (await readGuestUsb(shell)).devices.find((d) => d.name === o.device.name)?.interfaces.find((i) => i.cls === 3);

    expect(o.summary.firstHidBoundT).not.toBeNull();
    expect(o.summary.firstGateOpenT, 'a root hub gate was open while sampling').toBeNull();
    expect(hid?.authorized).toBe('1');
    expect(hid?.driver).toBe('usbhid');
    expect(did(acts, r.lines.allow, hid?.name ?? '?', 'authorized', '1'), 'allow line applied').toBe(true);
    expect(did(acts, r.lines.allow, hid?.name ?? '?', 'RUN'), 'allow line ran drivers_probe').toBe(true);
    await unplug(qmp, o.plugged);
    await waitForDeviceGone(shell, (d) => d.name === o.device.name, 30_000, 'the keyboard to disappear');
  });

  scenario(
    'U4',
    'composite, udev only',
    'U4 with only udevd the gate of a hot-added dummy_hcd controller is closed before a composite gadget attaches, whose HID binds while storage is never bound',
    async (res, r) => {
      const { shell } = r.lab.vm;
      const u = await ensureUdevd(r);
      expect(await openControllers(shell)).toEqual([]);
      const mark = (await u.ruleActions()).length;
      const known = new Set((await readGuestUsb(shell)).rootHubs.map((h) => h.name));
      const serial = GADGET_SERIAL;
      const tm = await measureTimeMap(shell);
      // Sampled from before modprobe so the new hub's gate is seen from its first appearance.
      const poller = await startUsbPoller(shell, { maxMs: 90_000 });
      const tLoad = performance.now();
      let ctl: PollResult;
      let hub = '';
      let gadget: CompositeGadget;
      try {
        gadget = await createCompositeGadget(shell, { serial });
        composite = gadget;
        hub = (await dummyRootHubs(shell)).find((h) => !known.has(h)) ?? '';
        expect(hub, 'dummy_hcd adds a root hub').toMatch(/^usb\d+$/);
        await waitUntil(async () => (await poller.peek()).samples.some((s) => s.gates[hub] === '0'), {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: `udevd to close ${hub}'s gate`,
        }).catch(() => undefined);
      } finally {
        ctl = await poller.stop();
      }
      const firstSeen = ctl.samples.find((s) => s.gates[hub] !== undefined);
      const closed = ctl.samples.find((s) => s.gates[hub] === '0');
      const openSamples = ctl.samples.filter((s) => s.gates[hub] !== undefined && s.gates[hub] !== '0').length;
      const busNo = hub.slice(3);
      const registered = (await readKernelLog(shell)).find((l) => l.t >= tm.toGuestS(tLoad) - 1 && l.text.includes(`new USB bus registered, assigned bus number ${busNo}`));
      res.gateClosed = sampled(closed?.t ?? null, tLoad, tm);
      res.notes.push(
        `${hub}: bus registered (dmesg) ${JSON.stringify(fromKernelLog(registered?.t ?? null, tLoad, tm))}; first sample with it @${firstSeen?.t.toFixed(2) ?? '-'} s gate=${firstSeen?.gates[hub] ?? '-'}; ` +
          `gate 0 first sampled @${closed?.t.toFixed(2) ?? '-'} s (${registered && closed ? `${Math.round((closed.t - registered.t) * 1000)} ms after registration` : 'n/a'}); ${openSamples} sample(s) with it open`,
      );
      expect(closed, `${hub}'s gate was closed`).toBeDefined();

      const o = await observePlug(
        shell,
        async () => {
          await gadget.attach();
          return { id: 'gadget4', kind: 'stick', serial, addedAt: performance.now(), node: null };
        },
        (d) => d.serial === serial,
        2,
        (s) => storageHeld(s) && s.firstHidBoundT !== null,
      );
      recordObservation(res, o, 'UDC attach');
      await u.udevadm(['settle', '--timeout=60']);
      const acts = (await u.ruleActions()).slice(mark);
      res.udevRuleActions = acts.map((a) => fmtAction(r, a));
      const dev = (await readGuestUsb(shell)).devices.find((d) => d.serial === serial);
      const hid = dev?.interfaces.find((i) => i.cls === 3);
      const storage = dev?.interfaces.find((i) => i.cls === 8);

      expect(did(acts, r.lines.gate, hub, 'interface_authorized_default', '0'), `gate line applied to ${hub}`).toBe(true);
      expectStorageNeverExposed(o.summary, o.storageTrace);
      expect(o.summary.firstHidBoundT).not.toBeNull();
      expect(hid?.driver).toBe('usbhid');
      expect(storage?.authorized).toBe('0');
      expect(storage?.driver).toBeNull();
      expect(did(acts, r.lines.allow, hid?.name ?? '?', 'authorized', '1'), 'allow line applied to the HID half').toBe(true);
      expect(did(acts, r.lines.deny, storage?.name ?? '?', 'authorized', '0'), 'deny line applied to the storage half').toBe(true);

      await gadget.detach();
      await waitForDeviceGone(shell, (d) => d.serial === serial, 30_000, 'the gadget to detach');
    },
  );

  scenario(
    'U4b',
    'controller arrives with device',
    'U4b when a controller arrives with a composite device already attached, the storage interface ends deauthorized and unbound with no block device left, and HID binds',
    async (res, r) => {
      const { shell } = r.lab.vm;
      const u = await ensureUdevd(r);
      expect(composite, 'U4b reuses the gadget U4 built').not.toBeNull();
      expect((await readGuestUsb(shell)).devices.some((d) => d.serial === GADGET_SERIAL), 'U4 detached its gadget').toBe(false);
      const mark = (await u.ruleActions()).length;
      const baseline = await readPartitions(shell);
      const tm = await measureTimeMap(shell);
      const poller = await startUsbPoller(shell, { maxMs: 90_000 });
      let poll: PollResult;
      // t0 is the start of the rmmod/modprobe/attach command: the device arrives during it.
      const t0 = performance.now();
      let tReturned = t0;
      let dev: Awaited<ReturnType<typeof waitForDevice>> | null = null;
      try {
        tReturned = await reloadControllerWithGadget(shell);
        dev = await waitForDevice(shell, (d) => d.serial === GADGET_SERIAL, { timeoutMs: 45_000, what: 'the gadget on the reloaded controller', withInterfaces: 2 });
        const name = dev.name;
        // Until the storage half is deauthorized and unbound, HID bound, and HOLD_S seconds sampled after it appeared.
        await waitUntil(
          async () => {
            const p = await poller.peek();
            const last = p.samples.at(-1);
            const mine = last?.interfaces.filter((i) => i.name.startsWith(`${name}:`)) ?? [];
            const settled = mine.some((i) => i.cls === 8 && i.authorized === '0' && i.driver === null) && mine.some((i) => i.cls === 3 && i.driver === 'usbhid');
            return settled && storageHeld(summarizeExposure(p, `${name}:`, baseline)) && !last?.partitions.some((x) => !baseline.includes(x));
          },
          { timeoutMs: 60_000, intervalMs: 300, what: 'the storage half deauthorized, HID bound and no new block device' },
        ).catch(() => undefined);
      } finally {
        poll = await poller.stop();
      }
      const name = dev.name;
      const s = summarizeExposure(poll, `${name}:`, baseline);
      const hubName = `usb${name.split('-')[0] ?? '?'}`;
      const klog = await readKernelLog(shell);
      const registered = klog.find((l) => l.t >= tm.toGuestS(t0) && l.text.includes(`new USB bus registered, assigned bus number ${hubName.slice(3)}`));
      // rmmod removed the old hub of the same name: only samples after it was gone describe the new one.
      const goneAt = poll.samples.findIndex((x) => x.gates[hubName] === undefined);
      const fresh = goneAt >= 0 ? poll.samples.slice(goneAt) : poll.samples.filter((x) => registered !== undefined && x.t >= registered.t);
      const closed = fresh.find((x) => x.gates[hubName] === '0');
      const openSamples = fresh.filter((x) => x.gates[hubName] !== undefined && x.gates[hubName] !== '0').length;
      const unbound = s.firstBoundT === null ? undefined : poll.samples.find((x) => x.t > (s.firstBoundT ?? 0) && x.interfaces.some((i) => i.cls === 8 && i.name.startsWith(`${name}:`) && i.driver === null));
      const trace = storageDriverTrace(klog, name, tm.toGuestS(t0));
      const acts = (await u.ruleActions()).slice(mark);
      res.device = { guestName: name, serial: GADGET_SERIAL };
      res.trigger = { kind: 'modprobe dummy_hcd', guestS: tm.toGuestS(t0), uncertaintyMs: tm.uncertaintyMs };
      res.gateClosed = sampled(closed?.t ?? null, t0, tm);
      res.storageVisible = sampled(s.firstSeenT, t0, tm);
      res.storageBound = { ...sampled(s.firstBoundT, t0, tm), driver: s.boundDriver };
      res.blockDevice = { ...sampled(s.firstNewPartitionT, t0, tm), names: s.newPartitions };
      res.hidBound = sampled(s.firstHidBoundT, t0, tm);
      res.kernelStorageTrace = trace.probed.map(fmtKernelLine);
      res.kernelRefusedProbes = trace.refused.map(fmtKernelLine);
      res.sampler = { samples: s.samples, meanIntervalMs: s.meanIntervalMs, observedAfterVisibleS: s.observedAfterSeenS, gateAlwaysClosed: s.firstGateOpenT === null };
      res.udevRuleActions = acts.map((a) => fmtAction(r, a));
      res.notes.push(
        `reload command took ${Math.round(tReturned - t0)} ms; ${hubName} registered ${registered ? `@${registered.t.toFixed(2)} s` : '(no dmesg line)'}, gate 0 first sampled ${closed ? `@${closed.t.toFixed(2)} s` : 'never'} (${openSamples} sample(s) open); ` +
          `storage bound ${s.firstBoundT === null ? 'never (sampled)' : `@${s.firstBoundT.toFixed(2)} s to ${s.boundDriver ?? '?'}, unbound @${unbound?.t.toFixed(2) ?? 'never'} s`}; ` +
          `new block devices sampled ${s.newPartitions.join(',') || 'none'}; kernel storage lines: ${trace.probed.map(fmtKernelLine).join(' | ') || 'none'}; refused ${trace.refused.length}`,
      );

      const now = (await readGuestUsb(shell)).devices.find((d) => d.serial === GADGET_SERIAL);
      const storage = now?.interfaces.find((i) => i.cls === 8);
      expect(s.samples).toBeGreaterThan(20);
      expect(storage?.authorized, 'storage half ends deauthorized').toBe('0');
      expect(storage?.driver ?? null, 'storage half ends unbound').toBeNull();
      expect((await readPartitions(shell)).filter((x) => !baseline.includes(x)), 'block devices left').toEqual([]);
      expect(now?.interfaces.find((i) => i.cls === 3)?.driver).toBe('usbhid');
      expect(did(acts, r.lines.gate, hubName, 'interface_authorized_default', '0'), `gate line applied to ${hubName}`).toBe(true);

      await composite?.detach();
      await waitForDeviceGone(shell, (d) => d.serial === GADGET_SERIAL, 30_000, 'the gadget to detach');
    },
  );

  scenario(
    'U5',
    'agent on top of udev',
    'U5 starting the agent on top of udevd leaves a present stick blocked in every sample and the keyboard bound to usbhid in every sample',
    async (res, r) => {
      const { shell, qmp } = r.lab.vm;
      await ensureUdevd(r);
      collector = await startInProcessCollector({ dataDir: path.join(r.lab.workDir, 'collector') });
      const c = collector;
      const serial = `SG-TOP-${RUN_TAG}`;
      const baseline = await readPartitions(shell);
      const stickP = await plugStick(qmp, { id: 'top5s', serial, image: createStickImage(path.join(r.lab.workDir, 'top5s.img')), bus: r.lab.vm.usbBus });
      const before = new Set((await readGuestUsb(shell)).devices.map((d) => d.name));
      const kbdP = await plugKeyboard(qmp, { id: 'top5k', bus: r.lab.vm.usbBus });
      const stick = await waitForDevice(shell, (d) => d.serial === serial, { timeoutMs: 45_000, what: serial, withInterfaces: 1 });
      const kbd = await waitForDevice(shell, (d) => !before.has(d.name) && d.interfaces.some((i) => i.cls === 3 && i.driver === 'usbhid'), {
        timeoutMs: 45_000,
        what: 'the keyboard bound by udev',
      });
      const kbdIface = kbd.interfaces.find((i) => i.cls === 3)?.name ?? '?';
      res.device = { guestName: stick.name, serial };

      const tm = await measureTimeMap(shell);
      // Long run: a slower sampling interval keeps the sample file small; dmesg covers short binds.
      const poller = await startUsbPoller(shell, { maxMs: 330_000, sleepUs: 50_000 });
      let poll: PollResult;
      let blocked: StoredEvent | null = null;
      let inserted: StoredEvent | null = null;
      const started = performance.now();
      try {
        agent = await startGuestAgent(shell, {
          cliPath: env.cliPath,
          nodePath: process.execPath,
          collectorUrl: c.guestUrl,
          stateDir: '/run/seatguard/agent-state',
          enrollToken: await c.createEnrollmentToken(),
          caFingerprint: c.caFingerprint,
        });
        // The agent reporting the stick is the proof that it started and scanned it.
        const mine = async (type: string) => {
          const seat = (await c.seats())[0];
          if (!seat) return undefined;
          return (await c.events(seat)).find((e) => e.type === type && (e.body.device as { serial?: unknown } | undefined)?.serial === serial);
        };
        blocked = await waitUntil(() => mine('usb.blocked'), { timeoutMs: 280_000, intervalMs: 250, what: 'the agent to report usb.blocked for the present stick' });
        inserted = await waitUntil(() => mine('usb.inserted'), { timeoutMs: 30_000, intervalMs: 250, what: 'usb.inserted for the present stick' });
        const heldFrom = tm.toGuestS(performance.now());
        await waitUntil(async () => ((await poller.peek()).samples.at(-1)?.t ?? 0) >= heldFrom + HOLD_S, { timeoutMs: 60_000, intervalMs: 300, what: `${HOLD_S} s more samples` });
      } finally {
        poll = await poller.stop();
      }
      const s = summarizeExposure(poll, `${stick.name}:`, baseline);
      const kbdNotBound = poll.samples.filter((x) => !x.interfaces.some((i) => i.name === kbdIface && i.authorized === '1' && i.driver === 'usbhid')).length;
      const trace = storageDriverTrace(await readKernelLog(shell), stick.name, tm.toGuestS(started) - 1);
      const storedMs = Date.parse(blocked.receivedAt) - WALL_OFFSET - started;
      const blockedAt: DualTime = { hostMs: storedMs, guestS: tm.toGuestS(started + storedMs), guestSource: 'mapped' };
      res.trigger = { kind: 'agent start', guestS: tm.toGuestS(started), uncertaintyMs: tm.uncertaintyMs };
      res.blockedStored = blockedAt;
      res.storageBound = { ...sampled(s.firstBoundT, started, tm), driver: s.boundDriver };
      res.blockDevice = { ...sampled(s.firstNewPartitionT, started, tm), names: s.newPartitions };
      res.kernelStorageTrace = trace.probed.map(fmtKernelLine);
      res.sampler = { samples: s.samples, meanIntervalMs: s.meanIntervalMs, observedAfterVisibleS: s.observedAfterSeenS, gateAlwaysClosed: s.firstGateOpenT === null };
      res.notes.push(`keyboard ${kbdIface} not bound to usbhid in ${kbdNotBound} of ${poll.samples.length} samples; usb.inserted present_at_start=${String(inserted.body.present_at_start)}`);

      expect(await agent.isAlive(), 'the agent is running').toBe(true);
      expectStorageNeverExposed(s);
      expect(trace.probed, 'kernel log shows a storage driver bound to the stick').toEqual([]);
      expect(kbdNotBound, 'samples without the keyboard bound').toBe(0);
      expect(inserted.body.present_at_start).toBe(true);
      expect(blocked.body.blocked_interfaces).toContainEqual(expect.stringMatching(/^08:/));

      await unplug(qmp, stickP);
      await unplug(qmp, kbdP);
    },
    env.udevAgent ? null : 'U5 runs with SEATGUARD_VM_UDEV_AGENT=1 (adds 15–65 s under TCG)',
  );
});
