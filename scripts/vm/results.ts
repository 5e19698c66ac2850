import { cpus } from 'node:os';
import fs from 'node:fs';
import path from 'node:path';

/** A time measured on both sides: host milliseconds after the trigger, and the guest's own clock. */
export interface DualTime {
  /** Host ms after the trigger (see ScenarioResult.trigger). null = never happened. */
  hostMs: number | null;
  /** Guest uptime in seconds (kernel clock: /proc/uptime, dmesg, or mapped from host time). */
  guestS: number | null;
  /** How the guest time was obtained: kernel log, the in-guest sampler, or host time mapped. */
  guestSource: 'dmesg' | 'sampler' | 'mapped' | 'none';
}

/** What one scenario measured. Numbers are from TCG: compare orderings, not absolute values. */
export interface ScenarioResult {
  id: string;
  title: string;
  passed: boolean;
  durationMs: number;
  device?: { guestName: string | null; serial: string | null };
  /** What t0 is, its guest uptime (mapped from host time) and the mapping error. */
  trigger?: { kind: 'device_add' | 'agent start' | 'UDC attach' | 'grant approved' | 'udevadm trigger' | 'modprobe dummy_hcd'; guestS: number; uncertaintyMs: number };
  /** Kernel "new USB device" line. */
  enumerated?: DualTime;
  /** First sample showing the storage interface. */
  storageVisible?: DualTime;
  /** First sample with the storage interface bound to a driver (expected: never). */
  storageBound?: DualTime & { driver: string | null };
  /** First sample with a new entry in /proc/partitions (expected: never). */
  blockDevice?: DualTime & { names: string[] };
  /** Boot race only: first sample with every root hub gate at 0, with the (previously bound) storage interface unbound, and without sd*. */
  gateClosed?: DualTime;
  storageUnbound?: DualTime;
  blockDeviceGone?: DualTime;
  /** First sample with a HID interface bound to usbhid. */
  hidBound?: DualTime;
  /** udev suite: what the seatguard rule did, from udevd's debug log ("rule line 1 usb3 interface_authorized_default=0"). */
  udevRuleActions?: string[];
  /** Kernel log lines of usb-storage/uas binding the device or a SCSI disk attaching (expected: none). */
  kernelStorageTrace?: string[];
  /** Kernel log lines "Interface N is not authorized for usage": drivers the gate turned away. */
  kernelRefusedProbes?: string[];
  sampler?: { samples: number; meanIntervalMs: number; observedAfterVisibleS: number; gateAlwaysClosed: boolean };
  /** Collector received usb.blocked / usb.inserted for the device (received_at, host clock). */
  blockedStored?: DualTime;
  insertedStored?: DualTime;
  /** Unlock grant scenario: times after the approve response (bound, block device) and after expires_at (unbound, gone). */
  grant?: {
    durationMs: number;
    storageBound: DualTime;
    blockDevice: DualTime;
    storageUnbound: DualTime;
    blockDeviceGone: DualTime;
    /** The other (not granted) stick: ever authorized or bound during the grant. */
    otherStickExposed: boolean;
  };
  notes: string[];
}

/** One lab run: environment, boot figures and every scenario (written to test-artifacts/vm-results.json). */
export interface LabRun {
  /** Which file produced it: the agent scenarios (kernel) or the udev rule without the agent (udev). */
  suite?: 'kernel' | 'udev';
  startedAt: string;
  kernel: string;
  qemu: string;
  host: { cpus: number; node: string };
  buildMs: number | null;
  bootMs: number | null;
  guestReadyUptimeS: number | null;
  /** Cold load of the seatguard CLI inside the guest (node over 9p under TCG), before scenario 6. */
  guestCliColdLoadMs: number | null;
  /** udev suite: the host's systemd-udevd version and the installed rule (path in the guest, sha256). */
  udev?: { version: string; rulePath: string; ruleSha256: string };
  /** Set when the lab could not run at all. */
  unavailable: string | null;
  scenarios: ScenarioResult[];
}

/** An empty record for one lab file, filled in as its boot and scenarios run. */
export function newLabRun(suite: 'kernel' | 'udev'): LabRun {
  return {
    suite,
    startedAt: new Date().toISOString(),
    kernel: 'unknown',
    qemu: 'unknown',
    host: { cpus: cpus().length, node: process.version },
    buildMs: null,
    bootMs: null,
    guestReadyUptimeS: null,
    guestCliColdLoadMs: null,
    unavailable: null,
    scenarios: [],
  };
}

const ms = (v: number | null | undefined) => (v === null || v === undefined ? 'never' : `${Math.round(v)} ms`);
const sec = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v.toFixed(2)} s`);
const dual = (d: DualTime | undefined) => (d ? (d.hostMs === null ? 'never' : `${ms(d.hostMs)} / ${sec(d.guestS)}`) : '-');

/** A fixed-width text table of the run, for the test output and docs/vm-lab.md. */
export function formatSummary(run: LabRun): string {
  const rows: string[][] = [
    ['scenario', 'pass', 'took', 't0', 'enumerated', 'storage bound', 'block device', 'HID bound', 'samples', 'usb.blocked stored'],
  ];
  for (const s of run.scenarios) {
    const bound = s.storageUnbound
      ? `bound at t0; gate closed +${ms(s.gateClosed?.hostMs)}, unbound +${ms(s.storageUnbound.hostMs)}`
      : s.storageBound
        ? s.storageBound.hostMs === null
          ? 'never'
          : `${dual(s.storageBound)} (${s.storageBound.driver ?? '?'})`
        : '-';
    const block = s.blockDeviceGone
      ? `gone +${ms(s.blockDeviceGone.hostMs)}`
      : s.blockDevice
        ? s.blockDevice.hostMs === null
          ? 'never'
          : `${dual(s.blockDevice)} ${s.blockDevice.names.join(',')}`
        : '-';
    rows.push([
      `${s.id} ${s.title}`,
      s.passed ? 'yes' : 'NO',
      `${(s.durationMs / 1000).toFixed(1)} s`,
      s.trigger ? `${s.trigger.kind} @${sec(s.trigger.guestS)} ±${Math.round(s.trigger.uncertaintyMs)} ms` : '-',
      dual(s.enumerated),
      bound,
      block,
      dual(s.hidBound),
      s.sampler ? `${s.sampler.samples} @${s.sampler.meanIntervalMs.toFixed(0)} ms, ${s.sampler.observedAfterVisibleS.toFixed(1)} s` : '-',
      dual(s.blockedStored),
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c] ?? 0)).join(' | ').trimEnd();
  const head = [
    `kernel ${run.kernel}, ${run.qemu}, host ${run.host.cpus} CPUs, node ${run.host.node}`,
    `guest build ${ms(run.buildMs)}, boot ${ms(run.bootMs)} (guest ready at ${sec(run.guestReadyUptimeS)} uptime), ` +
      `seatguard CLI cold load in guest ${ms(run.guestCliColdLoadMs)}`,
    'times: host ms after t0 / guest uptime (enumerated = dmesg; bound/block/HID = in-guest sampler; stored = collector received_at mapped)',
  ];
  if (run.udev) head.push(`systemd-udevd ${run.udev.version}, rule ${run.udev.rulePath} sha256 ${run.udev.ruleSha256.slice(0, 16)}…`);
  if (run.unavailable) head.push(`UNAVAILABLE: ${run.unavailable}`);
  const grants = run.scenarios.flatMap((s) =>
    s.grant
      ? [
          `${s.id} grant ${Math.round(s.grant.durationMs / 1000)} s: approved → bound ${dual(s.grant.storageBound)}, → block device ${dual(s.grant.blockDevice)}; ` +
            `expires_at → unbound ${dual(s.grant.storageUnbound)}, → block device gone ${dual(s.grant.blockDeviceGone)}; other stick exposed: ${s.grant.otherStickExposed ? 'YES' : 'no'}`,
        ]
      : [],
  );
  return [...head, line(rows[0] ?? []), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line), ...grants].join('\n');
}

/** Writes the run as JSON (test-artifacts/vm-results.json). */
export function writeResults(file: string, run: LabRun): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
}
