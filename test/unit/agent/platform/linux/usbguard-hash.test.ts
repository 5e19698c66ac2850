import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseUsbDescriptors } from '../../../../../agent/platform/linux/usb-descriptors.js';
import { usbguardDeviceHash, type UsbguardHashInput } from '../../../../../agent/platform/linux/usbguard-hash.js';

interface Vector {
  port?: string;
  idVendor?: string;
  idProduct?: string;
  vendorId?: string;
  productId?: string;
  serial: string | null;
  product: string;
  descriptors: string;
  hash: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../../../fixtures/sysfs/usbguard-1.1.2-vectors.json', import.meta.url), 'utf8')) as {
  controller: Vector;
  devices: Vector[];
};

/** Attribute bytes as the kernel presents them: text plus a trailing newline. */
const attr = (s: string) => Buffer.from(`${s}\n`, 'utf8');

function hashOf(v: Vector): string {
  const descriptors = Buffer.from(v.descriptors, 'hex');
  const parsed = parseUsbDescriptors(descriptors);
  if (!parsed.ok) throw new Error(parsed.problem);
  const input: UsbguardHashInput = {
    product: attr(v.product),
    idVendor: attr((v.idVendor ?? v.vendorId) as string),
    idProduct: attr((v.idProduct ?? v.productId) as string),
    serial: v.serial === null ? null : attr(v.serial),
    descriptors,
  };
  return usbguardDeviceHash(input, parsed.value);
}

describe('usbguardDeviceHash', () => {
  it.each(vectors.devices.map((v) => [v.port as string, v] as const))('matches usbguard 1.1.2 generate-policy for device %s', (_port, v) => {
    expect(hashOf(v)).toBe(v.hash);
  });

  it('matches usbguard 1.1.2 for a Linux root hub (bcdDevice left out)', () => {
    expect(hashOf(vectors.controller)).toBe(vectors.controller.hash);
  });

  it('gives the same hash for the same input every time', () => {
    const v = vectors.devices[0] as Vector;
    expect(hashOf(v)).toBe(hashOf({ ...v }));
  });

  it('changes when the serial changes', () => {
    const v = vectors.devices[0] as Vector;
    expect(hashOf({ ...v, serial: `${v.serial}X` })).not.toBe(v.hash);
  });

  it('ignores a root hub bcdDevice change (kernel upgrade) but not a device bcdDevice change', () => {
    const bump = (hex: string) => {
      const b = Buffer.from(hex, 'hex');
      b[12] = (b[12] as number) ^ 0xff;
      return b.toString('hex');
    };
    const hub = vectors.controller;
    expect(hashOf({ ...hub, descriptors: bump(hub.descriptors) })).toBe(hub.hash);
    const dev = vectors.devices[0] as Vector;
    expect(hashOf({ ...dev, descriptors: bump(dev.descriptors) })).not.toBe(dev.hash);
  });

  it('treats a missing serial like an empty one, as USBGuard does', () => {
    const v = vectors.devices[1] as Vector;
    expect(v.serial).toBeNull();
    const withEmpty = { ...v, serial: '' };
    expect(hashOf(withEmpty)).toBe(v.hash);
  });

  it('produces base64 of a 32-byte digest', () => {
    expect(hashOf(vectors.devices[0] as Vector)).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});
