import { readdir, readlink, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { interfaceType, type UsbDevice } from '../../../shared/domain/usb-core.js';
import { sanitizeBytes, sanitizeText } from '../../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../../shared/errors.js';
import { LOG_KEYS, type Logger } from '../../../shared/logger.js';
import type {
  UsbChange,
  UsbControllerState,
  UsbDeviceState,
  UsbInterfaceState,
  UsbPlatform,
  UsbWatch,
} from '../platform.js';
import { createNetlinkUeventSource } from './netlink-uevent-source.js';
import { errnoCode, readCapped, readTextAttribute, SYSFS_ATTR_MAX, writeAttribute } from './sysfs-io.js';
import { createSysfsPoller, type SysfsPoller } from './sysfs-poller.js';
import { parseUevent, ueventToChange } from './uevent-parser.js';
import type { UeventSource } from './uevent-source.js';
import { parseUsbDescriptors, type ParsedDescriptors } from './usb-descriptors.js';
import { compareRootHubs, comparePorts, isDevicePort, isRootHub, parentOf, parseInterfaceName } from './usb-names.js';
import { usbguardDeviceHash } from './usbguard-hash.js';

export interface LinuxUsbPlatformOptions {
  /** Where sysfs is mounted; tests point it at a fake tree. */
  sysfsRoot?: string;
  log: Logger;
  /** Polling interval when kernel uevents are unavailable. */
  resyncIntervalMs?: number;
  /** Interval of the `resync` change emitted in every mode, so lost events get reconciled. */
  periodicResyncMs?: number;
  /** Where uevents come from; defaults to the kernel netlink socket. */
  ueventSource?: UeventSource;
}

/** Larger than any real descriptor set (8 configurations × 64 KiB is theoretical); refuse beyond. */
export const DESCRIPTORS_MAX_BYTES = 64 * 1024;
/** The UsbDevice schema caps the interface list. */
const INFO_INTERFACES_MAX = 32;

type Attr = { kind: 'ok'; bytes: Buffer } | { kind: 'missing' } | { kind: 'error'; code: string };

type Descriptors =
  | { ok: true; bytes: Buffer; parsed: ParsedDescriptors }
  | { ok: false; problem: string };

async function readAttr(path: string): Promise<Attr> {
  try {
    const { bytes } = await readCapped(path, SYSFS_ATTR_MAX);
    return { kind: 'ok', bytes };
  } catch (err) {
    const code = errnoCode(err) ?? 'EIO';
    return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'error', code };
  }
}

/** Attribute text without the kernel's one trailing newline. */
function attrBytes(a: Attr): Buffer | null {
  if (a.kind !== 'ok') return null;
  const b = a.bytes;
  return b.length > 0 && b[b.length - 1] === 0x0a ? b.subarray(0, b.length - 1) : b;
}

function attrString(a: Attr): string | null {
  const b = attrBytes(a);
  if (b === null) return null;
  const s = sanitizeBytes(b);
  return s.length === 0 ? null : s;
}

function hex4(a: Attr): string | null {
  const b = attrBytes(a);
  if (b === null) return null;
  const s = b.toString('latin1').trim().toLowerCase();
  return /^[0-9a-f]{4}$/.test(s) ? s : null;
}

const toHex4 = (n: number) => n.toString(16).padStart(4, '0');

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function connectType(a: Attr): UsbDevice['connect_type'] {
  const b = attrBytes(a);
  const s = b === null ? '' : b.toString('latin1').trim();
  return s === 'hotplug' || s === 'hardwired' ? s : 'unknown';
}

/** Interface types for the info record; over the schema cap, duplicates go first, then the tail. */
function infoInterfaces(types: string[]): { list: string[]; truncated: boolean } {
  if (types.length <= INFO_INTERFACES_MAX) return { list: types, truncated: false };
  const unique = [...new Set(types)];
  return { list: unique.slice(0, INFO_INTERFACES_MAX), truncated: unique.length > INFO_INTERFACES_MAX };
}

/**
 * The Linux USB seam over sysfs: reads devices from `bus/usb/devices` (descriptors parsed before
 * any driver binds), gates controllers with `interface_authorized_default`, authorizes single
 * interfaces, and reports changes from kernel uevents (netlink) with a polling fallback.
 */
export function createLinuxUsbPlatform(opts: LinuxUsbPlatformOptions): UsbPlatform {
  const root = opts.sysfsRoot ?? '/sys';
  const log = opts.log.child({ component: 'usb-linux' });
  const devicesDir = join(root, 'bus/usb/devices');
  const probePath = join(root, 'bus/usb/drivers_probe');
  const resyncIntervalMs = opts.resyncIntervalMs ?? 2000;
  const periodicResyncMs = opts.periodicResyncMs ?? 10_000;
  let warnedFallback = false;

  const devPath = (name: string) => join(devicesDir, name);

  async function readDescriptors(dir: string): Promise<Descriptors> {
    let bytes: Buffer;
    try {
      const r = await readCapped(join(dir, 'descriptors'), DESCRIPTORS_MAX_BYTES);
      if (r.overflow) return { ok: false, problem: `descriptors exceed ${DESCRIPTORS_MAX_BYTES} bytes` };
      bytes = r.bytes;
    } catch (err) {
      return { ok: false, problem: `descriptors unreadable (${errnoCode(err) ?? 'EIO'})` };
    }
    const parsed = parseUsbDescriptors(bytes);
    if (!parsed.ok) return { ok: false, problem: `descriptors malformed: ${parsed.problem}` };
    return { ok: true, bytes, parsed: parsed.value };
  }

  /** USBGuard hash of the device or root hub at `name`; null when any input is unreadable. */
  async function hashOf(name: string, known?: { attrs: Record<string, Attr>; desc: Descriptors }): Promise<string | null> {
    const dir = devPath(name);
    const desc = known?.desc ?? (await readDescriptors(dir));
    if (!desc.ok) return null;
    const get = async (attr: string) => known?.attrs[attr] ?? (await readAttr(join(dir, attr)));
    const [product, idVendor, idProduct, serial] = await Promise.all(['product', 'idVendor', 'idProduct', 'serial'].map(get)) as [
      Attr,
      Attr,
      Attr,
      Attr,
    ];
    // USBGuard refuses a device whose ids are missing or whose optional strings fail to read.
    if (idVendor.kind !== 'ok' || idProduct.kind !== 'ok' || idVendor.bytes.length < 2 || idProduct.bytes.length < 2) return null;
    if (product.kind === 'error' || serial.kind === 'error') return null;
    return usbguardDeviceHash(
      {
        product: product.kind === 'ok' ? product.bytes : null,
        idVendor: idVendor.bytes,
        idProduct: idProduct.bytes,
        serial: serial.kind === 'ok' ? serial.bytes : null,
        descriptors: desc.bytes,
      },
      desc.parsed,
    );
  }

  async function readHexByte(path: string): Promise<number | null> {
    try {
      const s = await readTextAttribute(path);
      return /^[0-9a-fA-F]{2}$/.test(s) ? parseInt(s, 16) : null;
    } catch {
      return null;
    }
  }

  // The kernel prints bAlternateSetting as "%2d", unlike the hex class attributes.
  async function readDecimal(path: string): Promise<number | null> {
    try {
      const s = await readTextAttribute(path);
      return /^[0-9]{1,3}$/.test(s) ? Number(s) : null;
    } catch {
      return null;
    }
  }

  async function readInterface(port: string, name: string, cfg: number, num: number, desc: Descriptors): Promise<{
    state: UsbInterfaceState;
    problem?: string;
  }> {
    const dir = join(devPath(port), name);
    const [cls, subclass, protocol, alt] = await Promise.all([
      readHexByte(join(dir, 'bInterfaceClass')),
      readHexByte(join(dir, 'bInterfaceSubClass')),
      readHexByte(join(dir, 'bInterfaceProtocol')),
      readDecimal(join(dir, 'bAlternateSetting')),
    ]);
    let authorized: boolean | null = null;
    const a = attrBytes(await readAttr(join(dir, 'authorized')));
    const text = a?.toString('latin1').trim();
    if (text === '1') authorized = true;
    else if (text === '0') authorized = false;

    let driver: string | null = null;
    try {
      driver = sanitizeText(basename(await readlink(join(dir, 'driver'))), 64) || null;
    } catch {
      driver = null;
    }

    if (cls !== null && subclass !== null && protocol !== null) {
      return { state: { name, number: num, cls, subclass, protocol, authorized, driver } };
    }
    // Class unknown from sysfs: take it from the descriptors if we can, but never call it authorized.
    const fromDesc = desc.ok
      ? desc.parsed.interfaces.find((i) => i.configValue === cfg && i.number === num && i.alternate === (alt ?? 0))
      : undefined;
    return {
      state: {
        name,
        number: num,
        cls: fromDesc?.cls ?? -1,
        subclass: fromDesc?.subclass ?? -1,
        protocol: fromDesc?.protocol ?? -1,
        authorized: null,
        driver,
      },
      problem: `interface ${name} class unreadable`,
    };
  }

  async function listDir(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw new AppError('SYSFS_ERR_READ', formatError('SYSFS_ERR_READ', dir), { cause: err });
    }
  }

  async function readDevice(port: string): Promise<UsbDeviceState | null> {
    if (!isDevicePort(port)) return null;
    const dir = devPath(port);
    if (!(await isDirectory(dir))) return null;

    const names = ['idVendor', 'idProduct', 'bcdDevice', 'serial', 'manufacturer', 'product'] as const;
    const values = await Promise.all(names.map((n) => readAttr(join(dir, n))));
    const attrs = Object.fromEntries(names.map((n, i) => [n, values[i] as Attr])) as Record<(typeof names)[number], Attr>;
    const desc = await readDescriptors(dir);
    const problems: string[] = [];
    if (!desc.ok) problems.push(desc.problem);

    const vendor = hex4(attrs.idVendor) ?? (desc.ok ? toHex4(desc.parsed.vendorId) : null);
    const product = hex4(attrs.idProduct) ?? (desc.ok ? toHex4(desc.parsed.productId) : null);
    if (vendor === null || product === null) problems.push('idVendor/idProduct unreadable');

    let entries: string[] = [];
    try {
      entries = await readdir(dir);
    } catch (err) {
      problems.push(`device directory unreadable (${errnoCode(err) ?? 'EIO'})`);
    }
    const ifaceNames = entries
      .map((n) => ({ n, p: parseInterfaceName(n) }))
      .filter((x) => x.p !== null && x.p.port === port)
      .sort((x, y) => (x.p?.config ?? 0) - (y.p?.config ?? 0) || (x.p?.number ?? 0) - (y.p?.number ?? 0));
    const interfaces: UsbInterfaceState[] = [];
    for (const { n, p } of ifaceNames) {
      if (!p) continue;
      const r = await readInterface(port, n, p.config, p.number, desc);
      interfaces.push(r.state);
      if (r.problem) problems.push(r.problem);
    }

    const types = desc.ok
      ? desc.parsed.interfaces.map((i) => interfaceType(i.cls, i.subclass, i.protocol))
      : interfaces.filter((i) => i.cls >= 0).map((i) => interfaceType(i.cls, i.subclass, i.protocol));
    const info = infoInterfaces(types);
    if (info.truncated) problems.push(`more than ${INFO_INTERFACES_MAX} interface types; list truncated`);

    const parent = parentOf(port);
    const [hash, parentHash, connect] = await Promise.all([
      hashOf(port, { attrs, desc }),
      parent ? hashOf(parent) : Promise.resolve(null),
      readAttr(join(dir, 'port', 'connect_type')),
    ]);

    // A device unplugged while we read it is "gone", not a half-read device.
    if (!(await isDirectory(dir))) return null;

    const state: UsbDeviceState = {
      port,
      info: {
        port,
        vendor_id: vendor ?? '0000',
        product_id: product ?? '0000',
        bcd_device: hex4(attrs.bcdDevice),
        serial: attrString(attrs.serial),
        manufacturer: attrString(attrs.manufacturer),
        product: attrString(attrs.product),
        hash,
        parent_hash: parentHash,
        interfaces: info.list,
        connect_type: connectType(connect),
      },
      interfaces,
      // Without trustworthy ids the device cannot be matched to a grant either: same fail-closed path.
      descriptorsReadable: desc.ok && vendor !== null && product !== null,
    };
    if (problems.length > 0) state.problem = problems.join('; ');
    return state;
  }

  async function listDevices(): Promise<string[]> {
    return (await listDir(devicesDir)).filter(isDevicePort).sort(comparePorts);
  }

  async function readController(name: string): Promise<UsbControllerState> {
    let value: number | null = null;
    try {
      const s = await readTextAttribute(join(devPath(name), 'interface_authorized_default'));
      value = /^[0-9]{1,3}$/.test(s) ? Number(s) : null;
    } catch {
      value = null;
    }
    return { name, interfaceAuthorizedDefault: value };
  }

  async function listControllers(): Promise<UsbControllerState[]> {
    const hubs = (await listDir(devicesDir)).filter(isRootHub).sort(compareRootHubs);
    return Promise.all(hubs.map(readController));
  }

  async function lockController(name: string): Promise<UsbControllerState> {
    if (!isRootHub(name)) {
      throw new AppError('SYSFS_ERR_LOCK', formatError('SYSFS_ERR_LOCK', sanitizeText(name, 32)));
    }
    try {
      await writeAttribute(join(devPath(name), 'interface_authorized_default'), '0');
    } catch (err) {
      throw new AppError('SYSFS_ERR_LOCK', formatError('SYSFS_ERR_LOCK', name), { cause: err });
    }
    const state = await readController(name);
    if (state.interfaceAuthorizedDefault !== 0) {
      log.warn({ controller: name, read_back: state.interfaceAuthorizedDefault }, 'controller gate did not read back as 0');
    } else {
      log.info({ controller: name }, 'controller gate closed');
    }
    return state;
  }

  async function write(path: string, value: string): Promise<void> {
    try {
      await writeAttribute(path, value);
    } catch (err) {
      throw new AppError('SYSFS_ERR_WRITE', formatError('SYSFS_ERR_WRITE', path), { cause: err });
    }
  }

  function interfaceDir(iface: string): string {
    const parsed = parseInterfaceName(iface);
    if (!parsed) throw new AppError('SYSFS_ERR_WRITE', formatError('SYSFS_ERR_WRITE', `interface ${sanitizeText(iface, 32)}`));
    return join(devPath(parsed.port), iface);
  }

  async function authorizeInterface(iface: string): Promise<void> {
    const dir = interfaceDir(iface);
    await write(join(dir, 'authorized'), '1');
    // authorized=1 alone does not bind a driver (verified in the VM); ask the bus to probe it.
    await write(probePath, `${iface}\n`);
    log.info({ iface }, 'interface authorized and probed');
  }

  async function deauthorizeInterface(iface: string): Promise<void> {
    await write(join(interfaceDir(iface), 'authorized'), '0');
    log.info({ iface }, 'interface deauthorized');
  }

  async function rejectDevice(port: string): Promise<void> {
    if (!isDevicePort(port)) throw new AppError('SYSFS_ERR_WRITE', formatError('SYSFS_ERR_WRITE', `device ${sanitizeText(port, 32)}`));
    await write(join(devPath(port), 'remove'), '1');
    log.info({ [LOG_KEYS.port]: port }, 'device rejected');
  }

  async function watch(onChange: (c: UsbChange) => void, onError: (err: Error) => void): Promise<UsbWatch> {
    let stopped = false;
    const emit = (c: UsbChange) => {
      if (stopped) return;
      try {
        onChange(c);
      } catch (err) {
        reportError(err);
      }
    };
    const reportError = (err: unknown) => {
      if (stopped) return;
      try {
        onError(err instanceof Error ? err : new Error(String(err)));
      } catch (inner) {
        log.error({ err: inner }, 'usb watch error handler threw');
      }
    };

    let poller: SysfsPoller | null = null;
    const startPolling = async (why: string) => {
      if (poller || stopped) return;
      if (!warnedFallback) {
        warnedFallback = true;
        log.warn({ reason: why, interval_ms: resyncIntervalMs }, 'kernel uevents unavailable; polling usb devices');
      }
      poller = createSysfsPoller({ devicesDir, intervalMs: resyncIntervalMs, log, onChange: emit, onError: reportError });
      await poller.start();
    };

    const source = opts.ueventSource ?? createNetlinkUeventSource({ log });
    let sourceStarted = false;
    try {
      await source.start({
        onMessage: (raw) => {
          const ev = parseUevent(raw);
          if (!ev) {
            log.debug({ bytes: raw.length }, 'ignored malformed uevent');
            return;
          }
          const change = ueventToChange(ev);
          if (change) emit(change);
        },
        onOverrun: (reason) => emit({ kind: 'resync', reason }),
        onError: (err) => {
          reportError(err);
          emit({ kind: 'resync', reason: 'uevent source failed' });
          startPolling(err.message).catch(reportError);
        },
      });
      sourceStarted = true;
    } catch (err) {
      await startPolling(err instanceof Error ? err.message : String(err));
    }

    const periodic = setInterval(() => emit({ kind: 'resync', reason: 'periodic' }), periodicResyncMs);

    return {
      async stop() {
        if (stopped) return;
        stopped = true;
        clearInterval(periodic);
        const p = poller as SysfsPoller | null;
        await Promise.all([p?.stop(), sourceStarted ? source.stop() : Promise.resolve()]);
      },
    };
  }

  return {
    watch,
    listControllers,
    lockController,
    listDevices,
    readDevice,
    authorizeInterface,
    deauthorizeInterface,
    rejectDevice,
  };
}
