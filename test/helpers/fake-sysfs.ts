/**
 * A fake sysfs tree in a temp dir, laid out like the kernel's: device directories nest under
 * `devices/pci…/usbN/…` and `bus/usb/devices/*` are symlinks into them. Devices get real descriptor
 * bytes consistent with their interfaces, so the same tree can be read by the agent and by
 * `usbguard generate-policy` (see test/fixtures/sysfs/README.md).
 *
 * A tree cannot bind drivers: tests assert the writes. `bus/usb/drivers_probe` is a FIFO read by
 * this helper, so every probe is recorded in order, together with what the interface's
 * `authorized` file held at that moment.
 */
import { execFile } from 'node:child_process';
import { closeSync, constants as fsc, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import type { UeventHandlers, UeventSource } from '../../agent/platform/linux/uevent-source.js';

const run = promisify(execFile);

export interface FakeInterfaceSpec {
  cls: number;
  sub: number;
  proto: number;
  /** Alternate setting (default 0); only alternate 0 gets a sysfs interface directory. */
  alt?: number;
  /** Interface number; default: index among alternate-0 interfaces. */
  number?: number;
}

export interface FakeConfigSpec {
  value: number;
  interfaces: FakeInterfaceSpec[];
}

export interface FakeDeviceSpec {
  /** Kernel port path, e.g. "1-2" or "1-2.3" (the parent must exist). */
  port: string;
  vendorId: string;
  productId: string;
  bcdDevice?: string;
  /** Strings are written with the kernel's trailing newline; Buffers are written verbatim; null omits the file. */
  serial?: string | Buffer | null;
  manufacturer?: string | Buffer | null;
  product?: string | Buffer | null;
  deviceClass?: number;
  /** Interfaces of configuration 1 (shorthand for `configs`). */
  interfaces?: FakeInterfaceSpec[];
  /** Several configurations; the first is the active one. */
  configs?: FakeConfigSpec[];
  /** Interface `authorized` at plug time; default follows the controller's interface_authorized_default. */
  authorizedInterfaces?: boolean;
  /** Override the descriptors file: raw bytes, a directory in its place, or bytes that do not parse. */
  descriptors?: Buffer | 'unreadable' | 'garbage';
  /** Written to port/connect_type; null leaves the port directory out. */
  connectType?: string | null;
}

export interface ProbeRecord {
  iface: string;
  /** Content of the interface's `authorized` file when the probe arrived. */
  authorizedAtProbe: string | null;
}

/** A UeventSource the fake drives: add/remove calls emit the kernel's messages to it. */
export interface FakeUeventSource extends UeventSource {
  readonly running: boolean;
}

export interface FakeSysfs {
  readonly root: string;
  addController(name?: string, opts?: { interfaceAuthorizedDefault?: string }): Promise<void>;
  addDevice(spec: FakeDeviceSpec): Promise<void>;
  /** Unplugs a device and everything below it. */
  removeDevice(port: string): Promise<void>;
  /** Reads a file relative to the root, e.g. "bus/usb/devices/1-2:1.0/authorized". */
  read(rel: string): Promise<string>;
  /** Writes a file relative to the root verbatim (for hostile or half-written trees). */
  writeRaw(rel: string, data: string | Buffer): Promise<void>;
  /** Replaces a file with a directory of the same name, so reading it fails (EISDIR) even as root. */
  makeUnreadable(rel: string): Promise<void>;
  /** Interface names written to bus/usb/drivers_probe, in order. */
  probed(): string[];
  probes(): ProbeRecord[];
  readonly uevents: FakeUeventSource;
  /** Sends raw bytes to a running uevent source, as if the kernel had. */
  emitRaw(data: Buffer | string): void;
  /** Tells the running source that messages were lost. */
  overrun(): void;
  /** Kills the running source with an error. */
  failSource(err: Error): void;
  cleanup(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Descriptor bytes

const le16 = (n: number) => [n & 0xff, (n >> 8) & 0xff];

/** Interface numbers as a device would assign them: alternates share the previous number. */
function numberInterfaces(list: FakeInterfaceSpec[]): Array<{ spec: FakeInterfaceSpec; number: number; alt: number }> {
  let next = 0;
  return list.map((spec) => {
    const alt = spec.alt ?? 0;
    const number = spec.number ?? (alt === 0 ? next : Math.max(0, next - 1));
    if (alt === 0) next = number + 1;
    return { spec, number, alt };
  });
}

function endpointsFor(cls: number, epIn: () => number, epOut: () => number): number[][] {
  if (cls === 0x08) {
    return [
      [7, 5, epIn(), 0x02, ...le16(512), 0],
      [7, 5, epOut(), 0x02, ...le16(512), 0],
    ];
  }
  if (cls === 0x03 || cls === 0x09) return [[7, 5, epIn(), 0x03, ...le16(8), 10]];
  return [[7, 5, epIn(), 0x02, ...le16(64), 0]];
}

/** Builds a realistic descriptor blob: device descriptor then each configuration's full set. */
export function buildDescriptors(spec: {
  vendorId: number;
  productId: number;
  bcdDevice: number;
  deviceClass?: number;
  deviceProtocol?: number;
  configs: FakeConfigSpec[];
}): Buffer {
  const device = [
    18, 1, ...le16(0x0200), spec.deviceClass ?? 0, 0, spec.deviceProtocol ?? 0, 64,
    ...le16(spec.vendorId), ...le16(spec.productId), ...le16(spec.bcdDevice),
    1, 2, 3, spec.configs.length,
  ];
  const out: number[] = [...device];
  for (const cfg of spec.configs) {
    let nIn = 0x81;
    let nOut = 0x01;
    const body: number[] = [];
    const numbers = new Set<number>();
    for (const { spec: i, number: num, alt } of numberInterfaces(cfg.interfaces)) {
      numbers.add(num);
      const eps = endpointsFor(i.cls, () => nIn++, () => nOut++);
      body.push(9, 4, num, alt, eps.length, i.cls, i.sub, i.proto, 0);
      // HID carries a class descriptor (type 0x21) between interface and endpoint, as real ones do.
      if (i.cls === 0x03) body.push(9, 0x21, ...le16(0x0111), 0, 1, 0x22, ...le16(63));
      for (const ep of eps) body.push(...ep);
    }
    const total = 9 + body.length;
    out.push(9, 2, ...le16(total), numbers.size, cfg.value, 0, 0x80, 50, ...body);
  }
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------------------------
// Tree

const PCI_DIR = 'devices/pci0000:00/0000:00:14.0';
const BUS_DEVICES = 'bus/usb/devices';

const hex2 = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
const textAttr = (v: string | Buffer) => (typeof v === 'string' ? `${v}\n` : v);

function driverFor(cls: number): string {
  if (cls === 0x08) return 'usb-storage';
  if (cls === 0x03) return 'usbhid';
  if (cls === 0x09) return 'hub';
  return 'usbfs';
}

function ueventBytes(action: string, devpath: string, env: Record<string, string>, seq: number): Buffer {
  const fields = [`${action}@${devpath}`, `ACTION=${action}`, `DEVPATH=${devpath}`, 'SUBSYSTEM=usb'];
  for (const [k, v] of Object.entries(env)) fields.push(`${k}=${v}`);
  fields.push(`SEQNUM=${seq}`);
  return Buffer.from(fields.join('\0') + '\0', 'latin1');
}

/** Creates an empty tree with `bus/usb/devices` and the drivers_probe FIFO. */
export async function createFakeSysfs(): Promise<FakeSysfs> {
  const root = await mkdtemp(join(tmpdir(), 'seatguard-sysfs-'));
  await mkdir(join(root, BUS_DEVICES), { recursive: true });
  await mkdir(join(root, PCI_DIR), { recursive: true });
  await writeFile(join(root, PCI_DIR, 'uevent'), 'DRIVER=xhci_hcd\nPCI_CLASS=C0330\nPCI_ID=8086:A36D\nPCI_SLOT_NAME=0000:00:14.0\n');

  const probePath = join(root, 'bus/usb/drivers_probe');
  await run('mkfifo', [probePath]);
  // Reader first (non-blocking), then a writer of our own so the reader never sees EOF between probes.
  const readFd = openSync(probePath, fsc.O_RDONLY | fsc.O_NONBLOCK);
  const keepWriterFd = openSync(probePath, fsc.O_WRONLY);
  const reader = new Socket({ fd: readFd, readable: true, writable: false });
  const probes: ProbeRecord[] = [];
  let pending = '';
  reader.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const iface = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let authorizedAtProbe: string | null = null;
      try {
        authorizedAtProbe = readFileSync(join(root, BUS_DEVICES, iface, 'authorized'), 'latin1').trim();
      } catch {
        authorizedAtProbe = null;
      }
      probes.push({ iface, authorizedAtProbe });
    }
  });

  /** Real path (relative to root) of every device and root hub, by kernel name. */
  const paths = new Map<string, string>();
  let seq = 1000;
  let handlers: UeventHandlers | null = null;

  const emit = (buf: Buffer) => {
    if (handlers) handlers.onMessage(new Uint8Array(buf));
  };
  const devpathOf = (rel: string) => `/${rel}`;

  async function linkIntoBus(name: string, rel: string): Promise<void> {
    const link = join(root, BUS_DEVICES, name);
    await symlink(relative(dirname(link), join(root, rel)), link);
  }

  async function writeAttrs(dir: string, attrs: Record<string, string | Buffer>): Promise<void> {
    for (const [name, value] of Object.entries(attrs)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), value);
    }
  }

  const fake: FakeSysfs = {
    root,

    async addController(name = 'usb1', opts = {}) {
      const bus = Number(name.slice(3));
      const rel = `${PCI_DIR}/${name}`;
      const dir = join(root, rel);
      const hubIface: FakeInterfaceSpec = { cls: 0x09, sub: 0, proto: 0 };
      await mkdir(dir, { recursive: true });
      await writeAttrs(dir, {
        authorized: '1\n',
        authorized_default: '1\n',
        interface_authorized_default: `${opts.interfaceAuthorizedDefault ?? '1'}\n`,
        idVendor: '1d6b\n',
        idProduct: '0002\n',
        bcdDevice: '0601\n',
        manufacturer: 'Linux 6.1.0-28-amd64 xhci-hcd\n',
        product: 'xHCI Host Controller\n',
        serial: '0000:00:14.0\n',
        bConfigurationValue: '1\n',
        busnum: `${bus}\n`,
        devnum: '1\n',
        descriptors: buildDescriptors({ vendorId: 0x1d6b, productId: 0x0002, bcdDevice: 0x0601, deviceClass: 9, deviceProtocol: 1, configs: [{ value: 1, interfaces: [hubIface] }] }),
        uevent: `MAJOR=189\nMINOR=${(bus - 1) * 128}\nDEVNAME=bus/usb/${String(bus).padStart(3, '0')}/001\nDEVTYPE=usb_device\nDRIVER=usb\nPRODUCT=1d6b/2/601\nTYPE=9/0/1\nBUSNUM=${String(bus).padStart(3, '0')}\nDEVNUM=001\n`,
      });
      const ifName = `${bus}-0:1.0`;
      await writeAttrs(join(dir, ifName), {
        authorized: '1\n',
        bInterfaceClass: '09\n',
        bInterfaceSubClass: '00\n',
        bInterfaceProtocol: '00\n',
        bInterfaceNumber: '00\n',
        bAlternateSetting: ' 0\n',
        uevent: 'DEVTYPE=usb_interface\nDRIVER=hub\nPRODUCT=1d6b/2/601\nTYPE=9/0/1\nINTERFACE=9/0/0\n',
      });
      paths.set(name, rel);
      await linkIntoBus(name, rel);
      await linkIntoBus(ifName, `${rel}/${ifName}`);
      emit(ueventBytes('add', devpathOf(rel), { DEVTYPE: 'usb_device', PRODUCT: '1d6b/2/601' }, seq++));
      emit(ueventBytes('add', devpathOf(`${rel}/${ifName}`), { DEVTYPE: 'usb_interface', INTERFACE: '9/0/0' }, seq++));
    },

    async addDevice(spec) {
      const { port } = spec;
      const bus = Number(port.split('-')[0]);
      const dot = port.lastIndexOf('.');
      const parentName = dot === -1 ? `usb${bus}` : port.slice(0, dot);
      const parentRel = paths.get(parentName);
      if (!parentRel) throw new Error(`fake-sysfs: parent ${parentName} of ${port} does not exist`);
      const rel = `${parentRel}/${port}`;
      const dir = join(root, rel);
      const configs = spec.configs ?? [{ value: 1, interfaces: spec.interfaces ?? [] }];
      const active = configs[0] ?? { value: 1, interfaces: [] };
      const vid = parseInt(spec.vendorId, 16);
      const pid = parseInt(spec.productId, 16);
      const bcd = spec.bcdDevice ?? '0100';

      let descriptors: Buffer | null;
      if (spec.descriptors === 'unreadable') descriptors = null;
      else if (spec.descriptors === 'garbage') descriptors = Buffer.from([18, 1, 0, 2, 0, 0, 0, 64, 0x81, 0x07, 0x83, 0x55, 0, 1, 1, 2, 3, 1, 9, 2, 0x20, 0, 1, 1, 0, 0x80, 50, 0, 4, 0, 0]);
      else descriptors = spec.descriptors ?? buildDescriptors({ vendorId: vid, productId: pid, bcdDevice: parseInt(bcd, 16), deviceClass: spec.deviceClass, configs });

      await mkdir(dir, { recursive: true });
      const attrs: Record<string, string | Buffer> = {
        authorized: '1\n',
        remove: '',
        idVendor: `${spec.vendorId}\n`,
        idProduct: `${spec.productId}\n`,
        bcdDevice: `${bcd}\n`,
        bConfigurationValue: `${active.value}\n`,
        busnum: `${bus}\n`,
        devnum: `${paths.size + 1}\n`,
        uevent: `MAJOR=189\nMINOR=${paths.size}\nDEVTYPE=usb_device\nDRIVER=usb\nPRODUCT=${vid.toString(16)}/${pid.toString(16)}/${parseInt(bcd, 16).toString(16)}\nTYPE=${spec.deviceClass ?? 0}/0/0\n`,
      };
      if (descriptors) attrs.descriptors = descriptors;
      for (const key of ['serial', 'manufacturer', 'product'] as const) {
        const v = spec[key];
        if (v !== undefined && v !== null) attrs[key] = textAttr(v);
      }
      if (spec.connectType !== null) attrs['port/connect_type'] = `${spec.connectType ?? 'hotplug'}\n`;
      await writeAttrs(dir, attrs);
      if (spec.descriptors === 'unreadable') await mkdir(join(dir, 'descriptors'));

      const gate = await readFile(join(root, paths.get(`usb${bus}`) ?? '', 'interface_authorized_default'), 'latin1').catch(() => '1');
      const authorized = spec.authorizedInterfaces ?? gate.trim() !== '0';
      paths.set(port, rel);
      await linkIntoBus(port, rel);
      emit(ueventBytes('add', devpathOf(rel), { DEVTYPE: 'usb_device', PRODUCT: `${vid.toString(16)}/${pid.toString(16)}/1` }, seq++));

      for (const { spec: i, number: num, alt } of numberInterfaces(active.interfaces)) {
        if (alt !== 0) continue;
        const ifName = `${port}:${active.value}.${num}`;
        const ifDir = join(dir, ifName);
        await writeAttrs(ifDir, {
          authorized: authorized ? '1\n' : '0\n',
          bInterfaceClass: `${hex2(i.cls)}\n`,
          bInterfaceSubClass: `${hex2(i.sub)}\n`,
          bInterfaceProtocol: `${hex2(i.proto)}\n`,
          bInterfaceNumber: `${hex2(num)}\n`,
          bAlternateSetting: ' 0\n',
          uevent: `DEVTYPE=usb_interface\nINTERFACE=${i.cls}/${i.sub}/${i.proto}\n`,
        });
        if (authorized) {
          const drv = join(root, 'bus/usb/drivers', driverFor(i.cls));
          await mkdir(drv, { recursive: true });
          await symlink(relative(ifDir, drv), join(ifDir, 'driver'));
        }
        await linkIntoBus(ifName, `${rel}/${ifName}`);
        emit(ueventBytes('add', devpathOf(`${rel}/${ifName}`), { DEVTYPE: 'usb_interface', INTERFACE: `${i.cls}/${i.sub}/${i.proto}` }, seq++));
      }
    },

    async removeDevice(port) {
      const rel = paths.get(port);
      if (!rel) throw new Error(`fake-sysfs: no device ${port}`);
      // Children (deepest first), then their interfaces, then the device: the kernel's order.
      const doomed = [...paths.entries()].filter(([, r]) => r === rel || r.startsWith(`${rel}/`)).sort((a, b) => b[1].length - a[1].length);
      for (const [name, r] of doomed) {
        const links = (await readdirSafe(join(root, BUS_DEVICES))).filter((n) => n.startsWith(`${name}:`));
        for (const l of links) {
          await unlink(join(root, BUS_DEVICES, l));
          emit(ueventBytes('remove', devpathOf(`${r}/${l}`), { DEVTYPE: 'usb_interface' }, seq++));
        }
        await unlink(join(root, BUS_DEVICES, name));
        paths.delete(name);
        emit(ueventBytes('remove', devpathOf(r), { DEVTYPE: 'usb_device' }, seq++));
      }
      await rm(join(root, rel), { recursive: true, force: true });
    },

    read: (rel) => readFile(join(root, rel), 'utf8'),

    async writeRaw(rel, data) {
      await writeFile(join(root, rel), data);
    },

    async makeUnreadable(rel) {
      await rm(join(root, rel), { force: true });
      await mkdir(join(root, rel));
    },

    probed: () => probes.map((p) => p.iface),
    probes: () => probes.map((p) => ({ ...p })),

    uevents: {
      get running() {
        return handlers !== null;
      },
      async start(h: UeventHandlers) {
        if (handlers) throw new Error('fake uevent source already running');
        handlers = h;
      },
      async stop() {
        handlers = null;
      },
    },

    emitRaw(data) {
      emit(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
    },
    overrun() {
      handlers?.onOverrun('fake overrun');
    },
    failSource(err) {
      const h = handlers;
      handlers = null;
      h?.onError(err);
    },

    async cleanup() {
      handlers = null;
      reader.destroy();
      closeSync(keepWriterFd);
      await rm(root, { recursive: true, force: true });
    },
  };
  return fake;
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}
