import type { UsbChange } from '../platform.js';
import { isDevicePort, isRootHub, parseInterfaceName } from './usb-names.js';

/** One kernel uevent: `ACTION@DEVPATH` header plus its KEY=VALUE environment. */
export interface Uevent {
  action: string;
  devpath: string;
  env: ReadonlyMap<string, string>;
}

/** The kernel caps one uevent at 2 KiB (UEVENT_BUFFER_SIZE); a bit of slack, then refuse. */
export const UEVENT_MAX_BYTES = 8192;

const ACTIONS = new Set(['add', 'remove', 'change', 'move', 'online', 'offline', 'bind', 'unbind']);
const HEADER_RE = /^([a-z]+)@(\/[\x21-\x7e]{1,1024})$/;
const KEY_RE = /^[A-Za-z0-9_]{1,64}$/;
const MAX_FIELDS = 64;

/**
 * Parses a raw kernel uevent datagram (`ACTION@DEVPATH\0KEY=VAL\0…`). Returns null for anything
 * that is not exactly that shape (udev's "libudev" frames, garbage, truncated fields, an ACTION or
 * DEVPATH that contradicts the header), so a malformed message is dropped, never half-used.
 */
export function parseUevent(raw: Uint8Array): Uevent | null {
  if (raw.length === 0 || raw.length > UEVENT_MAX_BYTES) return null;
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  const parts = text.split('\0');
  // A well-formed message ends with NUL, leaving one empty trailing part; tolerate its absence.
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length > MAX_FIELDS + 1) return null;

  const header = HEADER_RE.exec(parts[0] as string);
  if (!header) return null;
  const action = header[1] as string;
  const devpath = header[2] as string;
  if (!ACTIONS.has(action)) return null;

  const env = new Map<string, string>();
  for (const field of parts.slice(1)) {
    const eq = field.indexOf('=');
    if (eq <= 0) return null;
    const key = field.slice(0, eq);
    if (!KEY_RE.test(key) || env.has(key)) return null;
    env.set(key, field.slice(eq + 1));
  }
  if (env.has('ACTION') && env.get('ACTION') !== action) return null;
  if (env.has('DEVPATH') && env.get('DEVPATH') !== devpath) return null;
  return { action, devpath, env };
}

function basename(devpath: string): string {
  return devpath.slice(devpath.lastIndexOf('/') + 1);
}

/**
 * Translates a uevent into the platform's change vocabulary; null for events the USB seam does not
 * care about. An interface `bind` is reported like an `add`: a driver attaching is exactly when
 * enforcement must look at the interface again (it is idempotent, so a repeat costs nothing).
 */
export function ueventToChange(ev: Uevent): UsbChange | null {
  if (ev.env.get('SUBSYSTEM') !== 'usb' || !ev.devpath.startsWith('/devices/')) return null;
  const name = basename(ev.devpath);
  const devtype = ev.env.get('DEVTYPE');

  if (devtype === 'usb_device') {
    if (isRootHub(name)) {
      if (ev.action === 'add') return { kind: 'controller-added', name };
      // No "controller-removed" in the seam: let the agent rescan what is left.
      if (ev.action === 'remove') return { kind: 'resync', reason: `controller ${name} removed` };
      return null;
    }
    if (!isDevicePort(name)) return null;
    if (ev.action === 'add') return { kind: 'device-added', port: name };
    if (ev.action === 'remove') return { kind: 'device-removed', port: name };
    return null;
  }

  if (devtype === 'usb_interface' && (ev.action === 'add' || ev.action === 'bind')) {
    const iface = parseInterfaceName(name);
    if (!iface) return null;
    return { kind: 'interface-added', port: iface.port, iface: name };
  }
  return null;
}
