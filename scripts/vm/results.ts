import fs from 'node:fs';
import path from 'node:path';

/** A time measured on both sides: host milliseconds after the trigger, and the guest's own clock. */
export interface DualTime {
  /** Host ms after the trigger (QMP device_add returning, or the agent start). null = never. */
  hostMs: number | null;
  /** Guest uptime in seconds (kernel clock: /proc/uptime, dmesg, or mapped from host time). */
  guestS: number | null;
  /** How the guest time was obtained. */
  guestSource: 'dmesg' | 'sampler' | 'mapped' | 'none';
}

/** What one scenario measured. Numbers are from TCG: compare orderings, not absolute values. */
export interface ScenarioResult {
  id: string;
  title: string;
  passed: boolean;
  durationMs: number;
  device?: { guestName: string | null; serial: string | null };
  /** Guest uptime when the trigger happened (mapped from host time) and the mapping error. */
  trigger?: { guestS: number; uncertaintyMs: number };
  /** Kernel "new USB device" line. */
  enumerated?: DualTime;
  /** First sample showing the storage interface. */
  storageVisible?: DualTime;
  /** First sample with the storage interface bound to a driver (expected: never). */
  storageBound?: DualTime & { driver: string | null };
  /** First sample with a new entry in /proc/partitions (expected: never). */
  blockDevice?: DualTime & { names: string[] };
  sampler?: { samples: number; meanIntervalMs: number; observedAfterVisibleS: number };
  /** Collector stored usb.blocked for the device. */
  blockedStored?: DualTime;
  insertedStored?: DualTime;
  notes: string[];
}

export interface LabRun {
  startedAt: string;
  kernel: string;
  qemu: string;
  host: { cpus: number; node: string };
  buildMs: number | null;
  bootMs: number | null;
  guestReadyUptimeS: number | null;
  /** Set when the lab could not run at all. */
  unavailable: string | null;
  scenarios: ScenarioResult[];
}

const fmtMs = (v: number | null | undefined) => (v === null || v === undefined ? 'never' : `${Math.round(v)} ms`);
const fmtS = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${v.toFixed(2)} s`);

/** A fixed-width text table of the run, for the test output and docs/vm-lab.md. */
export function formatSummary(run: LabRun): string {
  const rows: string[][] = [
    ['scenario', 'pass', 'took', 'enumerated (host/guest)', 'storage bound', 'block dev', 'samples', 'usb.blocked stored (host/guest)'],
  ];
  for (const s of run.scenarios) {
    rows.push([
      `${s.id} ${s.title}`,
      s.passed ? 'yes' : 'NO',
      fmtMs(s.durationMs),
      s.enumerated ? `${fmtMs(s.enumerated.hostMs)} / ${fmtS(s.enumerated.guestS)}` : '-',
      s.storageBound ? (s.storageBound.hostMs === null ? 'never' : `${fmtMs(s.storageBound.hostMs)} (${s.storageBound.driver ?? '?'})`) : '-',
      s.blockDevice ? (s.blockDevice.hostMs === null ? 'never' : `${fmtMs(s.blockDevice.hostMs)} ${s.blockDevice.names.join(',')}`) : '-',
      s.sampler ? `${s.sampler.samples} @${s.sampler.meanIntervalMs.toFixed(0)} ms, ${s.sampler.observedAfterVisibleS.toFixed(1)} s` : '-',
      s.blockedStored ? `${fmtMs(s.blockedStored.hostMs)} / ${fmtS(s.blockedStored.guestS)}` : '-',
    ]);
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c] ?? 0)).join(' | ');
  const head = [
    `kernel ${run.kernel}, ${run.qemu}, host ${run.host.cpus} CPUs, node ${run.host.node}`,
    `guest build ${fmtMs(run.buildMs)}, boot ${fmtMs(run.bootMs)} (guest ready at ${fmtS(run.guestReadyUptimeS)} uptime)`,
  ];
  if (run.unavailable) head.push(`UNAVAILABLE: ${run.unavailable}`);
  return [...head, line(rows[0] ?? []), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.slice(1).map(line)].join('\n');
}

/** Writes the run as JSON (test-artifacts/vm-results.json). */
export function writeResults(file: string, run: LabRun): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
}
