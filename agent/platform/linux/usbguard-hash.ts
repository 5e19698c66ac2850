import { createHash } from 'node:crypto';
import type { ParsedDescriptors } from './usb-descriptors.js';

/** Raw sysfs attribute bytes as read (newline included); null when the attribute does not exist. */
export interface UsbguardHashInput {
  product: Uint8Array | null;
  idVendor: Uint8Array;
  idProduct: Uint8Array;
  serial: Uint8Array | null;
  /** The `descriptors` attribute; must be the blob `parsed` was parsed from. */
  descriptors: Uint8Array;
}

/**
 * USBGuard's device hash (rule attribute `hash`), so admins can paste `usbguard generate-policy`
 * output. Base64 (with padding) of SHA-256 over, in order and with no separators:
 *   1. the `product`, `idVendor`, `idProduct` and `serial` attributes, each as read with its last
 *      byte (the kernel's trailing newline) dropped; a missing product or serial adds nothing;
 *   2. every descriptor of `descriptors` in file order, i.e. the whole blob, except that for a
 *      Linux root hub (1d6b:0001..0003) the device descriptor's bcdDevice bytes are zeroed.
 * Source: USBGuard DevicePrivate::initializeHash, DeviceBase::parseUSBDescriptor,
 * SysFSDevice::readAttribute(strip_last_null). Checked against usbguard 1.1.2 (test fixture).
 * USBGuard rejects devices with strings over 253 bytes and so never hashes them; this function
 * still hashes them the same way (callers pass at most one 4 KiB page, as USBGuard reads).
 */
export function usbguardDeviceHash(input: UsbguardHashInput, parsed: ParsedDescriptors): string {
  const h = createHash('sha256');
  for (const field of [input.product, input.idVendor, input.idProduct, input.serial]) {
    if (field && field.length > 0) h.update(field.subarray(0, field.length - 1));
  }
  const blob = input.descriptors.subarray(0, parsed.length);
  if (parsed.isLinuxRootHub) {
    const copy = Buffer.from(blob);
    // Root hub bcdDevice is the running kernel's version; zeroing it keeps hashes stable across updates.
    copy[12] = 0;
    copy[13] = 0;
    h.update(copy);
  } else {
    h.update(blob);
  }
  return h.digest('base64');
}
