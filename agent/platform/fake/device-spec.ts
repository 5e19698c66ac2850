import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Static } from 'typebox';
import { AppError, formatError } from '../../../shared/errors.js';
import { generatedCheck } from '../../generated-checks.js';
import type { FakeDeviceSpec as FakeDeviceSpecSchema, FakeInterfaceSpec as FakeInterfaceSpecSchema } from './fake-schema.js';

// The schemas are in fake-schema.ts; device strings there are raw, i.e. possibly hostile: the fake
// sanitizes them in readDevice() exactly as a real adapter must.
export type FakeInterfaceSpec = Static<typeof FakeInterfaceSpecSchema>;
export type FakeDeviceSpec = Static<typeof FakeDeviceSpecSchema>;

const checkSpec = generatedCheck<FakeDeviceSpec>('fake_device_spec', 'fake device spec');

/** Validates an untrusted value (fixture file, stdin command) as a device spec; throws FAKE_ERR_SCRIPT. */
export function parseFakeDeviceSpec(value: unknown): FakeDeviceSpec {
  if (checkSpec.check(value)) return value;
  const where = checkSpec.errors(value).join('; ');
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
