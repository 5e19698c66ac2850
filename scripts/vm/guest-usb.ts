import type { GuestShell } from './command-channel.js';
import { waitUntil } from './wait.js';

/** One interface as the guest kernel shows it in /sys/bus/usb/devices. */
export interface GuestUsbInterface {
  name: string;
  cls: number;
  /** Raw `authorized` attribute ("0"/"1"), null when unreadable. */
  authorized: string | null;
  /** Bound driver name, null when unbound. */
  driver: string | null;
}

/** One non-root-hub device and its interfaces, read straight from guest sysfs. */
export interface GuestUsbDevice {
  name: string;
  vendorId: string;
  productId: string;
  serial: string | null;
  authorized: string | null;
  interfaces: GuestUsbInterface[];
}

/** A root hub and its authorization defaults (null when unreadable). */
export interface GuestRootHub {
  name: string;
  authorizedDefault: string | null;
  interfaceAuthorizedDefault: string | null;
}

// Values are base64-encoded in the guest so a device string (serial) cannot break the framing.
const DUMP_USB = `
enc() { if [ -r "$1" ]; then printf '%s' "$(cat "$1" 2>/dev/null)" | base64 -w 0; else printf '%s' '-'; fi; }
for d in /sys/bus/usb/devices/*; do
  n=\${d##*/}
  case "$n" in
    usb*) echo "H $n $(enc $d/authorized_default) $(enc $d/interface_authorized_default)" ;;
    *:*) drv=-; [ -e "$d/driver" ] && drv=$(readlink "$d/driver" | sed 's#.*/##' | base64 -w 0)
         echo "I $n $(enc $d/bInterfaceClass) $(enc $d/authorized) $drv" ;;
    *) echo "D $n $(enc $d/idVendor) $(enc $d/idProduct) $(enc $d/serial) $(enc $d/authorized)" ;;
  esac
done
`;

function dec(v: string | undefined): string | null {
  if (v === undefined || v === '-') return null;
  return Buffer.from(v, 'base64').toString('utf8').trim();
}

/** Snapshot of the guest's USB tree. */
export async function readGuestUsb(shell: GuestShell): Promise<{ devices: GuestUsbDevice[]; rootHubs: GuestRootHub[] }> {
  const out = await shell.check(DUMP_USB, { timeoutMs: 20_000 });
  const devices = new Map<string, GuestUsbDevice>();
  const rootHubs: GuestRootHub[] = [];
  const ifaces: Array<GuestUsbInterface> = [];
  for (const line of out.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'H' && f[1]) rootHubs.push({ name: f[1], authorizedDefault: dec(f[2]), interfaceAuthorizedDefault: dec(f[3]) });
    else if (f[0] === 'D' && f[1]) {
      devices.set(f[1], {
        name: f[1],
        vendorId: dec(f[2]) ?? '',
        productId: dec(f[3]) ?? '',
        serial: dec(f[4]),
        authorized: dec(f[5]),
        interfaces: [],
      });
    } else if (f[0] === 'I' && f[1]) {
      ifaces.push({ name: f[1], cls: parseInt(dec(f[2]) ?? 'ff', 16), authorized: dec(f[3]), driver: dec(f[4]) });
    }
  }
  for (const i of ifaces) devices.get(i.name.split(':')[0] ?? '')?.interfaces.push(i);
  return { devices: [...devices.values()], rootHubs };
}

/** Names listed in the guest's /proc/partitions (e.g. "sda", "sda1"). */
export async function readPartitions(shell: GuestShell): Promise<string[]> {
  const out = await shell.check('cat /proc/partitions', { timeoutMs: 10_000 });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && /^\d+$/.test(f[0] ?? ''))
    .map((f) => f[3] ?? '');
}

/** Guest kernel uptime in seconds (/proc/uptime). */
export async function readGuestUptime(shell: GuestShell): Promise<number> {
  const out = await shell.check('cat /proc/uptime', { timeoutMs: 10_000 });
  return Number(out.split(' ')[0]);
}

/** One kernel log line with its timestamp in seconds since guest boot. */
export interface KernelLogLine {
  t: number;
  text: string;
}

/** The guest kernel ring buffer (dmesg), parsed. */
export async function readKernelLog(shell: GuestShell): Promise<KernelLogLine[]> {
  const out = await shell.check('dmesg', { timeoutMs: 20_000 });
  const lines: KernelLogLine[] = [];
  for (const l of out.split('\n')) {
    const m = /^\[\s*([\d.]+)\]\s?(.*)$/.exec(l);
    if (m) lines.push({ t: Number(m[1]), text: m[2] ?? '' });
  }
  return lines;
}

/** Kernel time (s) of the "new ... USB device" line for sysfs device `name` at or after `since`. */
export function kernelEnumerationTime(log: KernelLogLine[], name: string, since = 0): number | null {
  const hit = log.find((l) => l.t >= since && l.text.startsWith(`usb ${name}: new `) && l.text.includes('USB device number'));
  return hit ? hit.t : null;
}

/** Kernel log evidence about storage drivers and one device (see storageDriverTrace). */
export interface StorageTrace {
  /** A storage driver bound (usb-storage "device detected", a SCSI host for it) or a disk attached. */
  probed: KernelLogLine[];
  /** The kernel refused a driver because the interface is not authorized: the gate at work. */
  refused: KernelLogLine[];
}

/**
 * Kernel log lines at or after `since` about storage drivers and device `name`. Complements the
 * sampler: a bind shorter than one sample still leaves a `probed` line.
 */
export function storageDriverTrace(log: KernelLogLine[], name: string, since = 0): StorageTrace {
  const dev = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const iface = `${dev}:[0-9]+\\.[0-9]+`;
  const detected = new RegExp(`^usb-storage ${iface}: USB Mass Storage device detected`);
  const host = new RegExp(`^scsi host[0-9]+: (?:usb-storage|uas) ${iface}`);
  const refused = new RegExp(`^(?:usb-storage|uas) ${iface}: Interface [0-9]+ is not authorized`);
  const recent = log.filter((l) => l.t >= since);
  return {
    probed: recent.filter((l) => detected.test(l.text) || host.test(l.text) || /\[sd[a-z]+\] Attached SCSI/.test(l.text)),
    refused: recent.filter((l) => refused.test(l.text)),
  };
}

/** Waits for a guest device whose serial matches; returns its current state. */
export function waitForDevice(
  shell: GuestShell,
  match: (d: GuestUsbDevice) => boolean,
  opts: { timeoutMs: number; what: string; withInterfaces?: number },
): Promise<GuestUsbDevice> {
  return waitUntil(
    async () => {
      const { devices } = await readGuestUsb(shell);
      const d = devices.find(match);
      return d && d.interfaces.length >= (opts.withInterfaces ?? 0) ? d : null;
    },
    { timeoutMs: opts.timeoutMs, intervalMs: 100, what: opts.what },
  );
}

/** Waits until no guest device matches (e.g. after device_del). */
export function waitForDeviceGone(shell: GuestShell, match: (d: GuestUsbDevice) => boolean, timeoutMs: number, what: string): Promise<true> {
  return waitUntil(
    async () => {
      const { devices } = await readGuestUsb(shell);
      return !devices.some(match);
    },
    { timeoutMs, intervalMs: 100, what },
  );
}

/** Waits for a block device whose name starts with `prefix` (default any sd*) to appear in /proc/partitions. */
export function waitForBlockDevice(shell: GuestShell, opts: { timeoutMs: number; prefix?: string }): Promise<string[]> {
  const prefix = opts.prefix ?? 'sd';
  return waitUntil(
    async () => {
      const names = (await readPartitions(shell)).filter((n) => n.startsWith(prefix));
      return names.length > 0 ? names : null;
    },
    { timeoutMs: opts.timeoutMs, intervalMs: 100, what: `a block device ${prefix}* in the guest` },
  );
}

/** Waits until no block device starting with `prefix` is left in /proc/partitions. */
export function waitForNoBlockDevice(shell: GuestShell, opts: { timeoutMs: number; prefix?: string }): Promise<true> {
  const prefix = opts.prefix ?? 'sd';
  return waitUntil(
    async () => !(await readPartitions(shell)).some((n) => n.startsWith(prefix)),
    { timeoutMs: opts.timeoutMs, intervalMs: 100, what: `no ${prefix}* block device in the guest` },
  );
}
