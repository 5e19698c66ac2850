import type { UsbDevice } from './usb.js';

export type { UsbDevice };

/**
 * The USB helpers that are plain functions and constants, kept apart from the TypeBox schemas in
 * usb.ts (which re-exports them) so the agent can use them without loading TypeBox.
 */

/** USB interface class of mass storage (USB-IF class code 0x08). */
export const USB_CLASS_MASS_STORAGE = 0x08;

/** Formats an interface triple as "cc:ss:pp". */
export function interfaceType(cls: number, subclass: number, protocol: number): string {
  const h = (n: number) => (n & 0xff).toString(16).padStart(2, '0');
  return `${h(cls)}:${h(subclass)}:${h(protocol)}`;
}

export function isMassStorageInterface(type: string): boolean {
  return type.startsWith('08:');
}

/**
 * A stable key for "this physical device" used by grants, history and the console:
 * vid:pid plus serial, or the descriptor hash when there is no serial. Not a secret, not unique
 * against spoofing (serials can be cloned) — grants also bind the port and hash.
 */
export function deviceKey(d: Pick<UsbDevice, 'vendor_id' | 'product_id' | 'serial' | 'hash'>): string {
  const id = `${d.vendor_id}:${d.product_id}`;
  if (d.serial) return `${id}:s:${d.serial}`;
  if (d.hash) return `${id}:h:${d.hash}`;
  return `${id}:anon`;
}
