import { readdir } from 'node:fs/promises';
import type { Logger } from '../../../shared/logger.js';
import type { UsbChange } from '../platform.js';
import { compareRootHubs, comparePorts, isDevicePort, isRootHub, parseInterfaceName } from './usb-names.js';

/**
 * The changes between two listings of /sys/bus/usb/devices, in the order a kernel would have sent
 * them: new controllers, then new devices parent-first, then their interfaces; removals last,
 * children first. Names that are not USB objects are ignored.
 */
export function diffUsbListings(before: ReadonlySet<string>, after: ReadonlySet<string>): UsbChange[] {
  const added = [...after].filter((n) => !before.has(n));
  const removed = [...before].filter((n) => !after.has(n));
  const changes: UsbChange[] = [];
  for (const name of added.filter(isRootHub).sort(compareRootHubs)) changes.push({ kind: 'controller-added', name });
  for (const port of added.filter(isDevicePort).sort(comparePorts)) changes.push({ kind: 'device-added', port });
  const ifaces = added
    .map((name) => ({ name, parsed: parseInterfaceName(name) }))
    .filter((x): x is { name: string; parsed: NonNullable<ReturnType<typeof parseInterfaceName>> } => x.parsed !== null)
    .sort((a, b) => comparePorts(a.parsed.port, b.parsed.port) || a.parsed.config - b.parsed.config || a.parsed.number - b.parsed.number);
  for (const { name, parsed } of ifaces) changes.push({ kind: 'interface-added', port: parsed.port, iface: name });
  for (const port of removed.filter(isDevicePort).sort((a, b) => comparePorts(b, a))) changes.push({ kind: 'device-removed', port });
  for (const name of removed.filter(isRootHub).sort(compareRootHubs)) {
    changes.push({ kind: 'resync', reason: `controller ${name} removed` });
  }
  return changes;
}

export interface SysfsPollerOptions {
  /** The bus/usb/devices directory. */
  devicesDir: string;
  intervalMs: number;
  log: Logger;
  onChange(c: UsbChange): void;
  onError(err: Error): void;
}

export interface SysfsPoller {
  /** Takes the baseline listing, then diffs every interval. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fallback change source when netlink is unavailable: inotify does not report sysfs device
 * add/remove, so the directory is listed every interval and diffed. Runs are chained, never
 * overlapping.
 */
export function createSysfsPoller(opts: SysfsPollerOptions): SysfsPoller {
  let last = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();

  async function list(): Promise<Set<string>> {
    return new Set(await readdir(opts.devicesDir));
  }

  async function tick(): Promise<void> {
    try {
      const now = await list();
      const changes = diffUsbListings(last, now);
      last = now;
      for (const c of changes) {
        if (!running) return;
        opts.onChange(c);
      }
    } catch (err) {
      opts.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  function schedule(): void {
    if (!running) return;
    timer = setTimeout(() => {
      inFlight = tick().finally(schedule);
    }, opts.intervalMs);
  }

  return {
    async start() {
      if (running || stopped) return;
      try {
        last = await list();
      } catch (err) {
        // An unreadable bus directory is reported, and polling keeps trying: it may appear later.
        last = new Set();
        opts.onError(err instanceof Error ? err : new Error(String(err)));
      }
      // stop() may have been called while the baseline was being read.
      if (stopped) return;
      running = true;
      opts.log.debug({ interval_ms: opts.intervalMs }, 'polling usb devices');
      schedule();
    },
    async stop() {
      stopped = true;
      running = false;
      if (timer) clearTimeout(timer);
      timer = null;
      await inFlight;
    },
  };
}
