/**
 * Parser for the raw `descriptors` sysfs attribute of a USB device: the 18-byte device descriptor
 * followed by every configuration's full descriptor set (as the device sent it). The bytes come
 * from the device, so they are hostile: every length is bounds-checked and any inconsistency is a
 * parse failure (the caller then authorizes nothing on the device).
 *
 * The acceptance rules mirror USBGuard's USBDescriptorParser so a blob we accept is one USBGuard
 * can hash: standard descriptors must have their exact sizes (device 18, configuration 9,
 * interface 9, endpoint 7 or 9) and appear under their parents; other types are skipped whole.
 */

export const DESCRIPTOR_TYPE_DEVICE = 1;
export const DESCRIPTOR_TYPE_CONFIGURATION = 2;
export const DESCRIPTOR_TYPE_INTERFACE = 4;
export const DESCRIPTOR_TYPE_ENDPOINT = 5;

const DEVICE_DESCRIPTOR_LENGTH = 18;
const CONFIGURATION_DESCRIPTOR_LENGTH = 9;
const INTERFACE_DESCRIPTOR_LENGTH = 9;

/** Vendor ID of the Linux Foundation, used by the kernel's emulated root hubs. */
const LINUX_FOUNDATION_VID = 0x1d6b;

/** One interface descriptor, in the order it appears (alternate settings included). */
export interface ParsedInterface {
  /** bConfigurationValue of the configuration this interface belongs to. */
  configValue: number;
  number: number;
  alternate: number;
  cls: number;
  subclass: number;
  protocol: number;
}

export interface ParsedDescriptors {
  vendorId: number;
  productId: number;
  bcdDevice: number;
  deviceClass: number;
  configurations: Array<{ value: number; numInterfaces: number }>;
  /** Every interface descriptor of every configuration, in file order (USBGuard's with-interface). */
  interfaces: ParsedInterface[];
  /** 1d6b:0001..0003, whose bcdDevice (the kernel version) USBGuard leaves out of the hash. */
  isLinuxRootHub: boolean;
  /** Bytes consumed; always the whole input when parsing succeeds. */
  length: number;
}

export type DescriptorParseResult = { ok: true; value: ParsedDescriptors } | { ok: false; problem: string };

const fail = (problem: string): DescriptorParseResult => ({ ok: false, problem });

/** Parses a `descriptors` blob; never throws, whatever the bytes. */
export function parseUsbDescriptors(buf: Uint8Array): DescriptorParseResult {
  if (buf.length === 0) return fail('descriptors are empty');
  const u16 = (i: number) => (buf[i] ?? 0) | ((buf[i + 1] ?? 0) << 8);

  let device: Omit<ParsedDescriptors, 'configurations' | 'interfaces' | 'length'> | null = null;
  const configurations: ParsedDescriptors['configurations'] = [];
  const interfaces: ParsedInterface[] = [];
  let currentConfig: number | null = null;
  let interfaceSeenInConfig = false;

  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 2) return fail(`truncated descriptor header at offset ${off}`);
    const len = buf[off] as number;
    const type = buf[off + 1] as number;
    if (len < 2) return fail(`descriptor length ${len} at offset ${off} is shorter than its header`);
    if (off + len > buf.length) {
      return fail(`descriptor at offset ${off} (length ${len}) runs past the end (${buf.length - off} bytes left)`);
    }
    if (off === 0 && (type !== DESCRIPTOR_TYPE_DEVICE || len !== DEVICE_DESCRIPTOR_LENGTH)) {
      return fail(`first descriptor is type ${type} length ${len}, expected a ${DEVICE_DESCRIPTOR_LENGTH}-byte device descriptor`);
    }

    switch (type) {
      case DESCRIPTOR_TYPE_DEVICE: {
        if (device) return fail(`second device descriptor at offset ${off}`);
        if (len !== DEVICE_DESCRIPTOR_LENGTH) return fail(`device descriptor length ${len}`);
        const vendorId = u16(off + 8);
        const productId = u16(off + 10);
        device = {
          vendorId,
          productId,
          bcdDevice: u16(off + 12),
          deviceClass: buf[off + 4] as number,
          isLinuxRootHub: vendorId === LINUX_FOUNDATION_VID && productId >= 1 && productId <= 3,
        };
        break;
      }
      case DESCRIPTOR_TYPE_CONFIGURATION: {
        if (len !== CONFIGURATION_DESCRIPTOR_LENGTH) return fail(`configuration descriptor length ${len} at offset ${off}`);
        currentConfig = buf[off + 5] as number;
        interfaceSeenInConfig = false;
        configurations.push({ value: currentConfig, numInterfaces: buf[off + 4] as number });
        break;
      }
      case DESCRIPTOR_TYPE_INTERFACE: {
        if (currentConfig === null) return fail(`interface descriptor at offset ${off} outside a configuration`);
        if (len !== INTERFACE_DESCRIPTOR_LENGTH) return fail(`interface descriptor length ${len} at offset ${off}`);
        interfaceSeenInConfig = true;
        interfaces.push({
          configValue: currentConfig,
          number: buf[off + 2] as number,
          alternate: buf[off + 3] as number,
          cls: buf[off + 5] as number,
          subclass: buf[off + 6] as number,
          protocol: buf[off + 7] as number,
        });
        break;
      }
      case DESCRIPTOR_TYPE_ENDPOINT: {
        // 9 bytes is the audio-class endpoint layout; USBGuard accepts exactly these two sizes.
        if (len !== 7 && len !== 9) return fail(`endpoint descriptor length ${len} at offset ${off}`);
        if (!interfaceSeenInConfig) return fail(`endpoint descriptor at offset ${off} outside an interface`);
        break;
      }
      default:
        // Class-specific, string, IAD, BOS…: not needed for classification; skipped by length.
        break;
    }
    off += len;
  }

  if (!device) return fail('no device descriptor');
  return { ok: true, value: { ...device, configurations, interfaces, length: off } };
}
