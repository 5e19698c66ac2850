import type { GuestShell } from './command-channel.js';
import { kernelEnumerationTime, readKernelLog, readPartitions, storageDriverTrace, waitForDevice, type GuestUsbDevice } from './guest-usb.js';
import type { DualTime, ScenarioResult } from './results.js';
import { measureTimeMap, type TimeMap } from './time-map.js';
import type { Plugged } from './usb-devices.js';
import { startUsbPoller, summarizeExposure, type ExposureSummary, type PollResult } from './usb-poller.js';
import { waitUntil } from './wait.js';

/** How long the sampler keeps watching after the storage interface appeared (usb-storage delay_use is 1 s). */
export const HOLD_S = 3;

/** What sampling one plug showed, with the kernel log evidence. */
export interface Observation {
  device: GuestUsbDevice;
  plugged: Plugged;
  summary: ExposureSummary;
  poll: PollResult;
  tm: TimeMap;
  enumeratedS: number | null;
  /** Kernel log lines of a storage driver binding this device or a disk attaching (expected: none). */
  storageTrace: string[];
  /** Kernel log lines of a storage driver refused for lack of authorization. */
  refusedTrace: string[];
}

/** Enough samples: HOLD_S seconds after the storage interface appeared. */
export const storageHeld = (s: ExposureSummary): boolean => s.firstSeenT !== null && s.observedAfterSeenS >= HOLD_S;

/** A sampler time (guest uptime) as host ms after `t0`, with the guest time kept. */
export function sampled(t: number | null, t0: number, tm: TimeMap): DualTime {
  return t === null ? { hostMs: null, guestS: null, guestSource: 'sampler' } : { hostMs: tm.toHostMs(t) - t0, guestS: t, guestSource: 'sampler' };
}

/** A dmesg time (guest uptime) as host ms after `t0`. */
export function fromKernelLog(t: number | null, t0: number, tm: TimeMap): DualTime {
  return t === null ? { hostMs: null, guestS: null, guestSource: 'none' } : { hostMs: tm.toHostMs(t) - t0, guestS: t, guestSource: 'dmesg' };
}

export const fmtKernelLine = (l: { t: number; text: string }): string => `[${l.t.toFixed(3)}] ${l.text}`;

/**
 * Samples the guest's interface gate from before the plug until `enough` holds for this device's
 * samples, then evaluates every sample and reads the kernel log for storage driver activity.
 */
export async function observePlug(
  shell: GuestShell,
  plug: () => Promise<Plugged>,
  match: (d: GuestUsbDevice) => boolean,
  interfaces: number,
  enough: (s: ExposureSummary) => boolean = storageHeld,
): Promise<Observation> {
  const baseline = await readPartitions(shell);
  const tm = await measureTimeMap(shell);
  const poller = await startUsbPoller(shell, { maxMs: 90_000 });
  let stopped = false;
  try {
    const plugged = await plug();
    const device = await waitForDevice(shell, match, { timeoutMs: 45_000, what: `${plugged.id} in guest sysfs`, withInterfaces: interfaces });
    await waitUntil(async () => enough(summarizeExposure(await poller.peek(), `${device.name}:`, baseline)), {
      timeoutMs: 60_000,
      intervalMs: 300,
      what: `enough samples of ${device.name} (storage held ${HOLD_S} s / HID bound)`,
    });
    const poll = await poller.stop();
    stopped = true;
    const summary = summarizeExposure(poll, `${device.name}:`, baseline);
    const klog = await readKernelLog(shell);
    const since = tm.toGuestS(plugged.addedAt) - 1;
    const enumeratedS = kernelEnumerationTime(klog, device.name, since);
    const trace = storageDriverTrace(klog, device.name, since);
    return { device, plugged, summary, poll, tm, enumeratedS, storageTrace: trace.probed.map(fmtKernelLine), refusedTrace: trace.refused.map(fmtKernelLine) };
  } finally {
    if (!stopped) await poller.stop().catch(() => undefined);
  }
}

/** Copies the observation into the scenario record (before any assertion, so failures are recorded too). */
export function recordObservation(res: ScenarioResult, o: Observation, kind: 'device_add' | 'UDC attach' = 'device_add'): void {
  const t0 = o.plugged.addedAt;
  const { summary: s, tm } = o;
  res.device = { guestName: o.device.name, serial: o.device.serial };
  res.trigger = { kind, guestS: tm.toGuestS(t0), uncertaintyMs: tm.uncertaintyMs };
  res.enumerated = fromKernelLog(o.enumeratedS, t0, tm);
  if (o.device.interfaces.some((i) => i.cls === 8)) {
    res.storageVisible = sampled(s.firstSeenT, t0, tm);
    res.storageBound = { ...sampled(s.firstBoundT, t0, tm), driver: s.boundDriver };
    res.blockDevice = { ...sampled(s.firstNewPartitionT, t0, tm), names: s.newPartitions };
  }
  if (s.firstHidBoundT !== null) res.hidBound = sampled(s.firstHidBoundT, t0, tm);
  res.kernelStorageTrace = o.storageTrace;
  res.kernelRefusedProbes = o.refusedTrace;
  res.sampler = {
    samples: s.samples,
    meanIntervalMs: s.meanIntervalMs,
    observedAfterVisibleS: s.observedAfterSeenS,
    gateAlwaysClosed: s.firstGateOpenT === null,
  };
}
