import { AppError, formatError } from '../../../shared/errors.js';
import { interfaceType, type UsbDevice } from '../../../shared/domain/usb-core.js';
import { sanitizeOptional } from '../../../shared/domain/sanitize.js';
import type {
  Platform,
  UsbChange,
  UsbControllerState,
  UsbDeviceState,
  UsbInterfaceState,
  UsbPlatform,
  UsbWatch,
} from '../platform.js';
import { fakeDeviceHash, type FakeDeviceSpec } from './device-spec.js';

/**
 * An in-memory model of the Linux USB authorization knobs, scriptable from tests and the simulator.
 * It reproduces the kernel behaviour the agent relies on (platform.md §1): a controller's
 * interface_authorized_default decides whether new interfaces start authorized; authorizing and
 * probing binds the class driver; deauthorizing unbinds it; changing the default later does not
 * touch devices that are already configured.
 */

interface FakeInterface {
  name: string;
  number: number;
  cls: number;
  subclass: number;
  protocol: number;
  authorized: boolean;
  driver: string | null;
  authorizedUnreadable: boolean;
  writesFail: boolean;
}

interface FakeDevice {
  port: string;
  spec: FakeDeviceSpec;
  hash: string;
  interfaces: FakeInterface[];
  descriptorsUnreadable: boolean;
}

interface FakeController {
  name: string;
  interfaceAuthorizedDefault: number;
  readable: boolean;
  writable: boolean;
}

/** Kernel driver a probe binds for an interface class; null where no in-kernel driver exists (MTP, vendor). */
export function driverForClass(cls: number, protocol: number): string | null {
  switch (cls) {
    case 0x01:
      return 'snd-usb-audio';
    case 0x02:
      return 'cdc_acm';
    case 0x03:
      return 'usbhid';
    case 0x08:
      return protocol === 0x62 ? 'uas' : 'usb-storage';
    case 0x09:
      return 'hub';
    case 0x0e:
      return 'uvcvideo';
    case 0xe0:
      return 'btusb';
    default:
      return null;
  }
}

const PORT_RE = /^([0-9]{1,3})-[0-9]{1,3}(\.[0-9]{1,3}){0,6}$/;
// A real device carries at most 32 interfaces in the protocol's UsbDevice; hostile ones may claim more.
const MAX_REPORTED_INTERFACES = 32;

export interface FakeUsbPlatformOptions {
  /** Root hubs present from the start. Default ['usb1', 'usb2']. */
  controllers?: string[];
  /** Their interface_authorized_default before any agent runs. Default 1 (the kernel default). */
  controllerDefault?: number;
}

export interface InsertOptions {
  /** Port path, e.g. "1-3" or "2-1.4". Default: the next free port on bus 1. */
  port?: string;
}

/** Upper bound of one burst: a typo in a test script must not keep an agent busy for hours. */
export const MAX_BURST_CYCLES = 100_000;
/** Bursts running at once on one platform (each holds a port while a device is in). */
export const MAX_CONCURRENT_BURSTS = 8;

export interface BurstOptions {
  /** Port to use for every cycle. Default: the next free port on bus 1 at each insert. */
  port?: string;
}

/** Scriptable in-memory UsbPlatform (`--platform fake`, tests, the simulator). */
export class FakeUsbPlatform implements UsbPlatform {
  readonly #controllers = new Map<string, FakeController>();
  readonly #devices = new Map<string, FakeDevice>();
  readonly #watchers = new Set<{ onChange: (c: UsbChange) => void; onError: (e: Error) => void }>();
  /** Every interface name written to the model's drivers_probe, in order. */
  readonly probeLog: string[] = [];
  #bursts = 0;

  constructor(opts: FakeUsbPlatformOptions = {}) {
    for (const name of opts.controllers ?? ['usb1', 'usb2']) {
      this.#controllers.set(name, { name, interfaceAuthorizedDefault: opts.controllerDefault ?? 1, readable: true, writable: true });
    }
  }

  // ---------------------------------------------------------------- UsbPlatform

  watch(onChange: (c: UsbChange) => void, onError: (err: Error) => void): Promise<UsbWatch> {
    const w = { onChange, onError };
    this.#watchers.add(w);
    return Promise.resolve({
      stop: () => {
        this.#watchers.delete(w);
        return Promise.resolve();
      },
    });
  }

  listControllers(): Promise<UsbControllerState[]> {
    return Promise.resolve([...this.#controllers.values()].sort(byName).map(controllerState));
  }

  lockController(name: string): Promise<UsbControllerState> {
    const c = this.#controllers.get(name);
    if (!c) return Promise.reject(new AppError('SYSFS_ERR_LOCK', formatError('SYSFS_ERR_LOCK', name)));
    if (c.writable) c.interfaceAuthorizedDefault = 0;
    return Promise.resolve(controllerState(c));
  }

  listDevices(): Promise<string[]> {
    return Promise.resolve([...this.#devices.keys()].sort(comparePorts));
  }

  readDevice(port: string): Promise<UsbDeviceState | null> {
    const d = this.#devices.get(port);
    return Promise.resolve(d ? deviceState(d) : null);
  }

  authorizeInterface(iface: string): Promise<void> {
    const i = this.#findInterface(iface);
    if (!i || i.writesFail) return Promise.reject(writeError(`${iface}/authorized`));
    i.authorized = true;
    // authorized=1 alone does not bind (platform.md test C); the write to drivers_probe does.
    this.probeLog.push(iface);
    i.driver = driverForClass(i.cls, i.protocol);
    return Promise.resolve();
  }

  deauthorizeInterface(iface: string): Promise<void> {
    const i = this.#findInterface(iface);
    if (!i || i.writesFail) return Promise.reject(writeError(`${iface}/authorized`));
    i.authorized = false;
    i.driver = null;
    return Promise.resolve();
  }

  rejectDevice(port: string): Promise<void> {
    if (!this.#devices.has(port)) return Promise.reject(writeError(`${port}/remove`));
    this.remove(port);
    return Promise.resolve();
  }

  // ---------------------------------------------------------------- script methods

  /** Plugs a device in. It is configured at once under its controller's current default. */
  insert(spec: FakeDeviceSpec, opts: InsertOptions = {}): string {
    const port = opts.port ?? this.#nextFreePort();
    const m = PORT_RE.exec(port);
    if (!m) throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `bad port ${JSON.stringify(port).slice(0, 40)}`));
    if (this.#devices.has(port)) throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `port ${port} is occupied`));
    const controller = this.#controllers.get(`usb${m[1]}`);
    if (!controller) throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `no controller usb${m[1]}`));
    // Any value but 0 lets interfaces start authorized, and the kernel then probes drivers itself.
    const open = controller.interfaceAuthorizedDefault !== 0;
    const interfaces = spec.interfaces.map((i) => ({
      name: `${port}:1.${i.number}`,
      number: i.number,
      cls: i.class,
      subclass: i.subclass,
      protocol: i.protocol,
      authorized: open,
      driver: open ? driverForClass(i.class, i.protocol) : null,
      authorizedUnreadable: false,
      writesFail: false,
    }));
    this.#devices.set(port, { port, spec, hash: fakeDeviceHash(spec), interfaces, descriptorsUnreadable: false });
    this.#emit({ kind: 'device-added', port });
    for (const i of interfaces) this.#emit({ kind: 'interface-added', port, iface: i.name });
    return port;
  }

  /**
   * Unplugs a device and everything behind it (children first, as the kernel reports them).
   * `lostEvent: true` drops the removal events, as a netlink overrun would.
   */
  remove(port: string, opts: { lostEvent?: boolean } = {}): void {
    const gone = [...this.#devices.keys()].filter((p) => p === port || p.startsWith(`${port}.`)).sort(comparePorts).reverse();
    for (const p of gone) {
      this.#devices.delete(p);
      if (!opts.lostEvent) this.#emit({ kind: 'device-removed', port: p });
    }
  }

  /**
   * Plugs `spec` in and out `count` times, for load and fault-injection tests. After each insert and
   * each removal it yields one event-loop turn: the changes are delivered by setImmediate, so a
   * watcher handles a plug before it is pulled (a device pulled before it was read leaves no trace,
   * as on real hardware), and the agent's socket I/O keeps running in between. Resolves with the
   * cycles done, or rejects with FAKE_ERR_SCRIPT when a port is taken mid-burst. Bad bounds throw
   * synchronously (FAKE_ERR_SCRIPT), so a caller can refuse the command at once.
   */
  burst(spec: FakeDeviceSpec, count: number, opts: BurstOptions = {}): Promise<number> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_BURST_CYCLES) {
      throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `burst count must be 1..${MAX_BURST_CYCLES}`));
    }
    if (this.#bursts >= MAX_CONCURRENT_BURSTS) {
      throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `at most ${MAX_CONCURRENT_BURSTS} bursts at once`));
    }
    this.#bursts++;
    return this.#runBurst(spec, count, opts);
  }

  async #runBurst(spec: FakeDeviceSpec, count: number, opts: BurstOptions): Promise<number> {
    try {
      for (let done = 0; done < count; done++) {
        const port = this.insert(spec, opts.port === undefined ? {} : { port: opts.port });
        await nextTurn();
        this.remove(port);
        await nextTurn();
      }
      return count;
    } finally {
      this.#bursts--;
    }
  }

  /** A controller (dock, Thunderbolt) appears with the kernel default, as a new root hub does. */
  addController(name: string, interfaceAuthorizedDefault = 1): void {
    this.#controllers.set(name, { name, interfaceAuthorizedDefault, readable: true, writable: true });
    this.#emit({ kind: 'controller-added', name });
  }

  /** Someone (a root shell, a rogue script) rewrites interface_authorized_default. No event is raised. */
  setControllerDefault(name: string, value: number): void {
    const c = this.#mustController(name);
    c.interfaceAuthorizedDefault = value;
  }

  /** The controller's interface_authorized_default becomes unreadable (and writes no longer stick). */
  failControllerReads(name: string): void {
    const c = this.#mustController(name);
    c.readable = false;
    c.writable = false;
  }

  /** The device's descriptors can no longer be read or parsed (a hostile or half-enumerated device). */
  failReads(port: string): void {
    const d = this.#devices.get(port);
    if (!d) throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `no device at ${port}`));
    d.descriptorsUnreadable = true;
  }

  /** The interface's `authorized` attribute becomes unreadable. */
  failInterfaceReads(iface: string): void {
    this.#mustInterface(iface).authorizedUnreadable = true;
  }

  /** Writes to the interface's `authorized` fail (EIO, EACCES). */
  failInterfaceWrites(iface: string): void {
    this.#mustInterface(iface).writesFail = true;
  }

  /** Tells watchers that events may have been lost (as a netlink ENOBUFS would). */
  resync(reason = 'fake resync'): void {
    this.#emit({ kind: 'resync', reason });
  }

  /** Reports a watcher failure to every watcher's onError. */
  failWatch(err: Error): void {
    for (const w of this.#watchers) setImmediate(() => w.onError(err));
  }

  /** Current kernel-side state of one interface, for assertions. */
  interfaceState(iface: string): { authorized: boolean; driver: string | null } | undefined {
    const i = this.#findInterface(iface);
    return i ? { authorized: i.authorized, driver: i.driver } : undefined;
  }

  /** interface_authorized_default as the kernel holds it (ignores simulated read failures). */
  controllerDefault(name: string): number | undefined {
    return this.#controllers.get(name)?.interfaceAuthorizedDefault;
  }

  /** Number of active watchers, so tests can prove a stopped agent let go. */
  watcherCount(): number {
    return this.#watchers.size;
  }

  // ---------------------------------------------------------------- internals

  #emit(change: UsbChange): void {
    // Delivered asynchronously and in order, like uevents read from a socket.
    for (const w of this.#watchers) setImmediate(() => w.onChange(change));
  }

  #nextFreePort(): string {
    for (let n = 1; n < 128; n++) {
      const p = `1-${n}`;
      if (!this.#devices.has(p)) return p;
    }
    throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', 'no free port on bus 1'));
  }

  #findInterface(iface: string): FakeInterface | undefined {
    const port = iface.split(':')[0] ?? '';
    return this.#devices.get(port)?.interfaces.find((i) => i.name === iface);
  }

  #mustInterface(iface: string): FakeInterface {
    const i = this.#findInterface(iface);
    if (!i) throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `no interface ${iface}`));
    return i;
  }

  #mustController(name: string): FakeController {
    const c = this.#controllers.get(name);
    if (!c) throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `no controller ${name}`));
    return c;
  }
}

/** The fake as a full Platform. */
export function createFakePlatform(opts: FakeUsbPlatformOptions = {}): Platform & { usb: FakeUsbPlatform } {
  return { name: 'fake', usb: new FakeUsbPlatform(opts) };
}

/** Resolves after the setImmediate callbacks queued so far (the changes #emit delivers) have run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function writeError(path: string): AppError {
  return new AppError('SYSFS_ERR_WRITE', formatError('SYSFS_ERR_WRITE', path));
}

function controllerState(c: FakeController): UsbControllerState {
  return { name: c.name, interfaceAuthorizedDefault: c.readable ? c.interfaceAuthorizedDefault : null };
}

function deviceState(d: FakeDevice): UsbDeviceState {
  const { spec } = d;
  const interfaces: UsbInterfaceState[] = d.interfaces.map((i) => ({
    name: i.name,
    number: i.number,
    cls: i.cls,
    subclass: i.subclass,
    protocol: i.protocol,
    authorized: i.authorizedUnreadable ? null : i.authorized,
    driver: i.driver,
  }));
  const info: UsbDevice = {
    port: d.port,
    vendor_id: spec.vendor_id.toLowerCase(),
    product_id: spec.product_id.toLowerCase(),
    bcd_device: spec.bcd_device ? spec.bcd_device.toLowerCase() : null,
    serial: sanitizeOptional(spec.serial),
    manufacturer: sanitizeOptional(spec.manufacturer),
    product: sanitizeOptional(spec.product),
    hash: d.descriptorsUnreadable ? null : d.hash,
    parent_hash: null,
    interfaces: d.descriptorsUnreadable
      ? []
      : d.interfaces.slice(0, MAX_REPORTED_INTERFACES).map((i) => interfaceType(i.cls, i.subclass, i.protocol)),
    connect_type: spec.connect_type ?? 'unknown',
  };
  return d.descriptorsUnreadable
    ? { port: d.port, info, interfaces, descriptorsReadable: false, problem: 'descriptors unreadable' }
    : { port: d.port, info, interfaces, descriptorsReadable: true };
}

function byName(a: FakeController, b: FakeController): number {
  return a.name.localeCompare(b.name, 'en', { numeric: true });
}

/** Orders ports parents-first: "1-1" < "1-1.2" < "1-2" < "2-1". */
export function comparePorts(a: string, b: string): number {
  const pa = a.split(/[-.]/).map(Number);
  const pb = b.split(/[-.]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x !== y) return x - y;
  }
  return 0;
}
