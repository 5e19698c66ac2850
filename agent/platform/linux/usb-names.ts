/**
 * Kernel naming of USB objects under /sys/bus/usb/devices: root hubs `usbN`, devices
 * `BUS-PORT[.PORT…]` and interfaces `DEVICE:CONFIG.INTERFACE`. Names also arrive from uevents, so
 * every check is a strict whole-string match before a name is joined into a path.
 */

// Same shape as shared/domain/usb.ts PortPath; ports are 1-based, "N-0" is the root hub's own name.
const DEVICE_RE = /^([0-9]{1,3})-([1-9][0-9]{0,2}(?:\.[1-9][0-9]{0,2}){0,6})$/;
const ROOT_HUB_RE = /^usb([1-9][0-9]{0,2})$/;
const INTERFACE_RE = /^([0-9]{1,3}-[1-9][0-9]{0,2}(?:\.[1-9][0-9]{0,2}){0,6}):([0-9]{1,3})\.([0-9]{1,3})$/;

/** True for a device port path such as "2-1.3" (root hubs and interfaces excluded). */
export function isDevicePort(name: string): boolean {
  return DEVICE_RE.test(name);
}

/** True for a root hub name such as "usb2". */
export function isRootHub(name: string): boolean {
  return ROOT_HUB_RE.test(name);
}

/** Splits an interface name "2-1.3:1.0"; null when it is not one (root hub interfaces included). */
export function parseInterfaceName(name: string): { port: string; config: number; number: number } | null {
  const m = INTERFACE_RE.exec(name);
  if (!m) return null;
  return { port: m[1] as string, config: Number(m[2]), number: Number(m[3]) };
}

/** Parent of a device: the hub port it hangs off, or the root hub ("2-1" → "usb2"). */
export function parentOf(port: string): string | null {
  const m = DEVICE_RE.exec(port);
  if (!m) return null;
  const dot = port.lastIndexOf('.');
  return dot === -1 ? `usb${Number(m[1])}` : port.slice(0, dot);
}

function portKey(port: string): number[] {
  const [bus, chain] = port.split('-') as [string, string];
  return [Number(bus), ...chain.split('.').map(Number)];
}

/** Orders ports numerically by bus then port chain, parents before children: 1-1 < 1-1.2 < 1-2 < 1-10 < 2-1. */
export function comparePorts(a: string, b: string): number {
  const ka = portKey(a);
  const kb = portKey(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const d = (ka[i] as number) - (kb[i] as number);
    if (d !== 0) return d;
  }
  return ka.length - kb.length;
}

/** Orders root hubs numerically: usb2 < usb10. */
export function compareRootHubs(a: string, b: string): number {
  return Number(a.slice(3)) - Number(b.slice(3));
}
