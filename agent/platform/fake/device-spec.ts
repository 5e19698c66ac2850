import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { AppError, formatError } from '../../../shared/errors.js';

/**
 * The description of a device the fake platform can "plug in": the identity and interface triples a
 * real device reports (test/fixtures/devices/*.json). Strings are raw, i.e. possibly hostile: the
 * fake sanitizes them in readDevice() exactly as a real adapter must.
 */
export const FakeInterfaceSpec = Type.Object(
  {
    number: Type.Integer({ minimum: 0, maximum: 255 }),
    class: Type.Integer({ minimum: 0, maximum: 255 }),
    subclass: Type.Integer({ minimum: 0, maximum: 255 }),
    protocol: Type.Integer({ minimum: 0, maximum: 255 }),
  },
  { additionalProperties: false },
);
export type FakeInterfaceSpec = Static<typeof FakeInterfaceSpec>;

const Hex4 = Type.String({ pattern: '^[0-9a-fA-F]{4}$' });
// Raw device strings may be long and hostile (that is what tests feed in); 64 KiB keeps a typo from
// allocating without limit.
const RawString = Type.Union([Type.Null(), Type.String({ maxLength: 65_536 })]);

export const FakeDeviceSpec = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    vendor_id: Hex4,
    product_id: Hex4,
    bcd_device: Type.Optional(Type.Union([Type.Null(), Hex4])),
    manufacturer: Type.Optional(RawString),
    product: Type.Optional(RawString),
    serial: Type.Optional(RawString),
    connect_type: Type.Optional(Type.Union([Type.Literal('hotplug'), Type.Literal('hardwired'), Type.Literal('unknown')])),
    interfaces: Type.Array(FakeInterfaceSpec, { maxItems: 255 }),
  },
  { additionalProperties: false },
);
export type FakeDeviceSpec = Static<typeof FakeDeviceSpec>;

const checkSpec = Compile(FakeDeviceSpec);

/** Validates an untrusted value (fixture file, stdin command) as a device spec; throws FAKE_ERR_SCRIPT. */
export function parseFakeDeviceSpec(value: unknown): FakeDeviceSpec {
  if (checkSpec.Check(value)) return value;
  const first = checkSpec.Errors(value)[0];
  const where = first ? `${first.instancePath || '/'} ${first.message}` : 'invalid';
  throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `device spec: ${where}`.slice(0, 200)));
}

/**
 * Builds the raw descriptor bytes a kernel would expose in sysfs `descriptors` (device descriptor,
 * then one configuration with the interface descriptors), so the fake's hash behaves like a real one:
 * same device → same hash, any interface change → different hash.
 */
export function syntheticDescriptors(spec: FakeDeviceSpec): Buffer {
  const vid = parseInt(spec.vendor_id, 16);
  const pid = parseInt(spec.product_id, 16);
  const bcd = spec.bcd_device ? parseInt(spec.bcd_device, 16) : 0;
  const dev = Buffer.from([18, 1, 0x00, 0x02, 0, 0, 0, 64, vid & 0xff, vid >> 8, pid & 0xff, pid >> 8, bcd & 0xff, bcd >> 8, 1, 2, spec.serial ? 3 : 0, 1]);
  const ifaces = spec.interfaces.map((i) => Buffer.from([9, 4, i.number, 0, 0, i.class, i.subclass, i.protocol, 0]));
  const total = 9 + ifaces.length * 9;
  const cfg = Buffer.from([9, 2, total & 0xff, (total >> 8) & 0xff, spec.interfaces.length & 0xff, 1, 0, 0x80, 50]);
  return Buffer.concat([dev, cfg, ...ifaces]);
}

/** Base64 SHA-256 over identity + descriptors, the shape of USBGuard's `hash` attribute. */
export function fakeDeviceHash(spec: FakeDeviceSpec): string {
  return createHash('sha256')
    .update(`${spec.vendor_id.toLowerCase()}:${spec.product_id.toLowerCase()}\0${spec.serial ?? ''}\0`)
    .update(syntheticDescriptors(spec))
    .digest('base64');
}

/** Reads every *.json device spec in a folder, keyed by file name without extension. */
export function loadDeviceFixtures(dir: string): Map<string, FakeDeviceSpec> {
  const out = new Map<string, FakeDeviceSpec>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let value: unknown;
    try {
      value = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (err) {
      throw new AppError('FAKE_ERR_SCRIPT', formatError('FAKE_ERR_SCRIPT', `${file} is not JSON`), { cause: err });
    }
    out.set(file.slice(0, -'.json'.length), parseFakeDeviceSpec(value));
  }
  return out;
}
