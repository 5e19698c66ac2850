import type { GuestShell } from './command-channel.js';
import { waitUntil } from './wait.js';

/** A non-hub interface as one sample saw it. */
export interface SampledInterface {
  name: string;
  /** bInterfaceClass (8 = mass storage, 3 = HID). */
  cls: number;
  authorized: string;
  /** Bound driver, null when unbound. */
  driver: string | null;
}

/** One sample of the guest's interface gate, timestamped with guest uptime. */
export interface UsbSample {
  /** Guest uptime in seconds (10 ms resolution: /proc/uptime). */
  t: number;
  interfaces: SampledInterface[];
  partitions: string[];
  /** interface_authorized_default per root hub ("usb1" → "0"); "?" when unreadable. */
  gates: Record<string, string>;
}

/** Everything one poll run saw. */
export interface PollResult {
  startT: number;
  endT: number;
  samples: UsbSample[];
}

/** A running guest-side sampler (scripts/vm/guest/poll-usb.sh). */
export interface UsbPoller {
  /** Stops the sampler and returns its samples. */
  stop(): Promise<PollResult>;
  /** Reads what has been sampled so far without stopping. */
  peek(): Promise<PollResult>;
}

let seq = 0;

/**
 * Starts sampling in the background inside the guest, so the sampling interval does not depend
 * on the command channel's round trip. `maxMs` bounds the run even if stop() is never called.
 */
export async function startUsbPoller(shell: GuestShell, opts: { maxMs: number; sleepUs?: number }): Promise<UsbPoller> {
  const file = `/tmp/sg-poll-${process.pid}-${++seq}.txt`;
  const maxCs = Math.ceil(opts.maxMs / 10);
  await shell.check(
    `rm -f ${file} ${file}.stop; setsid sg-poll-usb ${file} ${maxCs} ${opts.sleepUs ?? 2000} ${file}.stop </dev/null >/dev/null 2>&1 &
i=0; while [ ! -s ${file} ] && [ $i -lt 100 ]; do usleep 20000; i=$((i+1)); done; [ -s ${file} ]`,
    { timeoutMs: 10_000 },
  );
  const read = async () => parsePoll(await shell.check(`cat ${file}`, { timeoutMs: 20_000 }));
  return {
    peek: read,
    async stop() {
      await shell.check(`touch ${file}.stop`, { timeoutMs: 10_000 });
      const res = await waitUntil(
        async () => {
          const out = await shell.check(`grep -q '^END ' ${file} && cat ${file} || true`, { timeoutMs: 20_000 });
          return out.includes('END ') ? out : null;
        },
        { timeoutMs: 15_000, intervalMs: 100, what: 'the guest USB sampler to stop' },
      );
      await shell.run(`rm -f ${file} ${file}.stop`, { timeoutMs: 10_000 });
      return parsePoll(res);
    },
  };
}

/** Parses the sampler's file format (see poll-usb.sh). */
export function parsePoll(text: string): PollResult {
  const samples: UsbSample[] = [];
  let startT = NaN;
  let endT = NaN;
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === 'START') startT = Number(f[1]) / 100;
    else if (f[0] === 'END') endT = Number(f[1]) / 100;
    else if (f[0] === 'S' && f[1]) {
      const interfaces: SampledInterface[] = [];
      let partitions: string[] = [];
      const gates: Record<string, string> = {};
      for (const tok of f.slice(2)) {
        if (tok.startsWith('P')) {
          partitions = tok.slice(1).split(',').filter(Boolean);
          continue;
        }
        if (tok.startsWith('G')) {
          for (const kv of tok.slice(1).split(',')) {
            const [hub, v] = kv.split('=');
            if (hub && /^usb\d+$/.test(hub)) gates[hub] = v ?? '?';
          }
          continue;
        }
        const m = /^([^=]+)=([0-9a-fA-F]{2})\/([^/]*)\/(.*)$/.exec(tok);
        if (m) {
          interfaces.push({
            name: m[1] ?? '',
            cls: parseInt(m[2] ?? 'ff', 16),
            authorized: m[3] ?? '',
            driver: m[4] === '-' ? null : (m[4] ?? null),
          });
        }
      }
      samples.push({ t: Number(f[1]) / 100, interfaces, partitions, gates });
    }
  }
  if (Number.isNaN(endT) && samples.length > 0) endT = samples[samples.length - 1]?.t ?? NaN;
  return { startT, endT, samples };
}

/** Summary of what a poll run proves about one device's interfaces. */
export interface ExposureSummary {
  samples: number;
  /** Mean guest time between samples (ms). */
  meanIntervalMs: number;
  /** Guest uptime when a storage interface of the device was first seen; null when never. */
  firstSeenT: number | null;
  /** Guest uptime of the first sample with a storage interface bound to a driver; null = never. */
  firstBoundT: number | null;
  /** Driver seen bound, if any. */
  boundDriver: string | null;
  /** Guest uptime of the first sample with a storage interface authorized=1; null = never. */
  firstAuthorizedT: number | null;
  /** Guest uptime of the first sample with a partition not in `baselinePartitions`; null = never. */
  firstNewPartitionT: number | null;
  newPartitions: string[];
  /** Guest uptime of the first sample with a HID interface of the device bound to usbhid; null = never. */
  firstHidBoundT: number | null;
  /** Guest uptime of the first sample where every root hub had interface_authorized_default=0. */
  firstGateClosedT: number | null;
  /** Guest uptime of the first sample where some root hub's gate was not 0; null = always closed. */
  firstGateOpenT: number | null;
  /** Seconds of samples taken after the storage interface was first seen. */
  observedAfterSeenS: number;
}

const MASS_STORAGE = 8;
const HID = 3;

/** Evaluates a poll run for the interfaces of one guest device (prefix "2-1:"; null = every device). */
export function summarizeExposure(res: PollResult, devicePrefix: string | null, baselinePartitions: string[]): ExposureSummary {
  const mine = (s: UsbSample) => s.interfaces.filter((i) => devicePrefix === null || i.name.startsWith(devicePrefix));
  let firstSeenT: number | null = null;
  let firstBoundT: number | null = null;
  let boundDriver: string | null = null;
  let firstAuthorizedT: number | null = null;
  let firstNewPartitionT: number | null = null;
  let firstHidBoundT: number | null = null;
  let firstGateClosedT: number | null = null;
  let firstGateOpenT: number | null = null;
  const newPartitions = new Set<string>();
  for (const s of res.samples) {
    const all = mine(s);
    const storage = all.filter((i) => i.cls === MASS_STORAGE);
    if (storage.length > 0 && firstSeenT === null) firstSeenT = s.t;
    const bound = storage.find((i) => i.driver !== null);
    if (bound && firstBoundT === null) {
      firstBoundT = s.t;
      boundDriver = bound.driver;
    }
    if (storage.some((i) => i.authorized !== '0') && firstAuthorizedT === null) firstAuthorizedT = s.t;
    if (firstHidBoundT === null && all.some((i) => i.cls === HID && i.driver === 'usbhid')) firstHidBoundT = s.t;
    const gates = Object.values(s.gates);
    const closed = gates.length > 0 && gates.every((v) => v === '0');
    if (closed && firstGateClosedT === null) firstGateClosedT = s.t;
    if (!closed && firstGateOpenT === null) firstGateOpenT = s.t;
    const fresh = s.partitions.filter((p) => !baselinePartitions.includes(p));
    if (fresh.length > 0) {
      if (firstNewPartitionT === null) firstNewPartitionT = s.t;
      for (const p of fresh) newPartitions.add(p);
    }
  }
  const n = res.samples.length;
  const first = res.samples[0]?.t ?? 0;
  const last = res.samples[n - 1]?.t ?? 0;
  return {
    samples: n,
    meanIntervalMs: n > 1 ? ((last - first) * 1000) / (n - 1) : NaN,
    firstSeenT,
    firstBoundT,
    boundDriver,
    firstAuthorizedT,
    firstNewPartitionT,
    newPartitions: [...newPartitions],
    firstHidBoundT,
    firstGateClosedT,
    firstGateOpenT,
    observedAfterSeenS: firstSeenT === null ? 0 : last - firstSeenT,
  };
}
