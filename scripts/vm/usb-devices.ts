import fs from 'node:fs';
import path from 'node:path';
import type { GuestShell } from './command-channel.js';
import type { QmpClient } from './qmp-client.js';

/** What a plug did, with the host time right after QEMU accepted device_add. */
export interface Plugged {
  id: string;
  kind: 'stick' | 'keyboard';
  serial: string | null;
  /** performance.now() when device_add returned. */
  addedAt: number;
  /** Block node to delete after unplug (sticks only). */
  node: string | null;
}

const SECTOR = 512;

/**
 * Writes a sparse stick image with an MBR and one FAT32-LBA partition entry, so an exposed stick
 * shows up as sdX plus sdX1 like a real one.
 */
export function createStickImage(file: string, sizeMb = 16): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, sizeMb * 1024 * 1024);
    const mbr = Buffer.alloc(SECTOR);
    const start = 2048;
    const count = (sizeMb * 1024 * 1024) / SECTOR - start;
    const e = 446;
    mbr[e + 4] = 0x0c;
    mbr.writeUInt32LE(start, e + 8);
    mbr.writeUInt32LE(count, e + 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    fs.writeSync(fd, mbr, 0, SECTOR, 0);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}

/**
 * Hot-plugs an emulated USB stick (usb-storage, BOT, removable) on the guest's xHCI bus. The image
 * is attached as its own blockdev node because device_del would delete a `-drive` backend.
 */
export async function plugStick(
  qmp: QmpClient,
  opts: { id: string; serial: string; image: string; bus: string },
): Promise<Plugged> {
  const node = `${opts.id}-node`;
  await qmp.execute('blockdev-add', {
    'node-name': node,
    driver: 'raw',
    file: { driver: 'file', filename: opts.image },
  });
  await qmp.execute('device_add', {
    driver: 'usb-storage',
    id: opts.id,
    bus: opts.bus,
    drive: node,
    serial: opts.serial,
    removable: true,
  });
  return { id: opts.id, kind: 'stick', serial: opts.serial, addedAt: performance.now(), node };
}

/** Hot-plugs QEMU's usb-kbd (one HID boot-keyboard interface, class 03). */
export async function plugKeyboard(qmp: QmpClient, opts: { id: string; bus: string }): Promise<Plugged> {
  await qmp.execute('device_add', { driver: 'usb-kbd', id: opts.id, bus: opts.bus });
  return { id: opts.id, kind: 'keyboard', serial: null, addedAt: performance.now(), node: null };
}

/** Unplugs a device and waits for QEMU's DEVICE_DELETED (the guest acknowledged the removal). */
export async function unplug(qmp: QmpClient, p: Plugged, timeoutMs = 30_000): Promise<void> {
  const mark = qmp.eventMark();
  await qmp.execute('device_del', { id: p.id });
  await qmp.waitForEvent((e) => e.event === 'DEVICE_DELETED' && e.data.device === p.id, timeoutMs, mark);
  if (p.node) await qmp.execute('blockdev-del', { 'node-name': p.node });
}

/** A configfs gadget on dummy_hcd: a composite device with a HID keyboard and a mass-storage LUN. */
export interface CompositeGadget {
  serial: string;
  attach(): Promise<void>;
  detach(): Promise<void>;
}

const GADGET_DIR = '/sys/kernel/config/usb_gadget/sg';

/**
 * Loads dummy_hcd (a second, hot-added USB controller) and libcomposite, and builds the gadget in
 * configfs (not yet attached). Returns the names of root hubs the dummy controller added.
 */
export async function createCompositeGadget(shell: GuestShell, opts: { serial: string }): Promise<CompositeGadget> {
  if (!/^[A-Za-z0-9-]{1,32}$/.test(opts.serial)) throw new Error('gadget serial must be [A-Za-z0-9-]{1,32}');
  // HID report descriptor of a boot keyboard (the kernel docs' gadget_hid example).
  const reportDesc =
    '\\005\\001\\011\\006\\241\\001\\005\\007\\031\\340\\051\\347\\025\\000\\045\\001\\165\\001\\225\\010\\201\\002' +
    '\\225\\001\\165\\010\\201\\003\\225\\006\\165\\010\\025\\000\\045\\145\\005\\007\\031\\000\\051\\145\\201\\000\\300';
  await shell.check(
    `set -e
modprobe dummy_hcd
modprobe libcomposite
modprobe usb_f_mass_storage
modprobe usb_f_hid
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
G=${GADGET_DIR}
mkdir -p $G
cd $G
echo 0x1d6b > idVendor
echo 0x0104 > idProduct
mkdir -p strings/0x409 configs/c.1 functions/mass_storage.0 functions/hid.usb0
echo ${opts.serial} > strings/0x409/serialnumber
echo SeatguardLab > strings/0x409/manufacturer
echo StickPlusKeyboard > strings/0x409/product
dd if=/dev/zero of=/tmp/gadget-lun.img bs=1M count=8 2>/dev/null
echo /tmp/gadget-lun.img > functions/mass_storage.0/lun.0/file
echo 1 > functions/mass_storage.0/lun.0/removable
echo 1 > functions/hid.usb0/protocol
echo 1 > functions/hid.usb0/subclass
echo 8 > functions/hid.usb0/report_length
printf '${reportDesc}' > functions/hid.usb0/report_desc
ln -s $G/functions/hid.usb0 configs/c.1/
ln -s $G/functions/mass_storage.0 configs/c.1/
`,
    { timeoutMs: 60_000 },
  );
  return {
    serial: opts.serial,
    attach: async () => {
      await shell.check(`ls /sys/class/udc | head -1 > ${GADGET_DIR}/UDC`, { timeoutMs: 20_000 });
    },
    detach: async () => {
      await shell.check(`echo "" > ${GADGET_DIR}/UDC`, { timeoutMs: 20_000 });
    },
  };
}

/**
 * Removes dummy_hcd and loads it again with the gadget attached in the same guest command: a
 * controller that arrives with a device already plugged in (a dock, a PCIe card), so the device
 * enumerates while udev may not yet have handled the new root hub. The gadget must be detached.
 * Returns performance.now() when the command returned.
 */
export async function reloadControllerWithGadget(shell: GuestShell): Promise<number> {
  await shell.check(`rmmod dummy_hcd && modprobe dummy_hcd && ls /sys/class/udc | head -1 > ${GADGET_DIR}/UDC`, { timeoutMs: 30_000 });
  return performance.now();
}

/** Names of the root hubs whose controller is dummy_hcd (the emulated gadget's host side). */
export async function dummyRootHubs(shell: GuestShell): Promise<string[]> {
  const out = await shell.check(
    'for h in /sys/bus/usb/devices/usb*; do case "$(readlink -f $h)" in */dummy_hcd*) echo ${h##*/};; esac; done',
    { timeoutMs: 10_000 },
  );
  return out.split('\n').filter((l) => /^usb\d+$/.test(l));
}
