import { Type, type Static } from 'typebox';
import { DEVICE_STRING_MAX } from './sanitize.js';

export * from './usb-core.js';

/** A device string after sanitizing: no control/invisible characters, capped. */
export const DeviceString = Type.Union([
  Type.Null(),
  // The pattern rejects C0/C1 controls and bidi/zero-width characters, so an agent that skipped
  // sanitizing is refused at the collector as well.
  Type.String({ maxLength: DEVICE_STRING_MAX * 2, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\u200b-\\u200f\\ufeff]*$' }),
]);

/** "cc:ss:pp" in lowercase hex: interface class, subclass, protocol (USBGuard's with-interface form). */
export const InterfaceType = Type.String({ pattern: '^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$' });

/** Kernel port path ("2-1.3"); opaque on other platforms but kept to this shape. */
export const PortPath = Type.String({ pattern: '^[0-9]{1,3}-[0-9]{1,3}(\\.[0-9]{1,3}){0,6}$' });

export const Hex4 = Type.String({ pattern: '^[0-9a-f]{4}$' });

/** Identity of one USB device as reported by an agent. */
export const UsbDevice = Type.Object(
  {
    port: PortPath,
    vendor_id: Hex4,
    product_id: Hex4,
    bcd_device: Type.Union([Type.Null(), Hex4]),
    serial: DeviceString,
    manufacturer: DeviceString,
    product: DeviceString,
    /** USBGuard-compatible device hash (base64 SHA-256), null when descriptors were unreadable. */
    hash: Type.Union([Type.Null(), Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })]),
    parent_hash: Type.Union([Type.Null(), Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })]),
    interfaces: Type.Array(InterfaceType, { maxItems: 32 }),
    connect_type: Type.Union([Type.Literal('hotplug'), Type.Literal('hardwired'), Type.Literal('unknown')]),
  },
  { additionalProperties: false },
);
export type UsbDevice = Static<typeof UsbDevice>;
