import { Type } from 'typebox';
import { MAX_BURST_CYCLES } from './fake-platform.js';

// Schemas of the fake platform's inputs (device-spec.ts, fake-script.ts). Only
// scripts/gen-validators.ts and tests load this module; the fake checks with the generated validators.

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

/** One JSON line of a fake script (fake-script.ts). */
export const FakeCommand = Type.Union([
  Type.Object({ op: Type.Literal('insert'), device: FakeDeviceSpec, port: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false }),
  Type.Object({ op: Type.Literal('remove'), port: Type.String({ maxLength: 32 }) }, { additionalProperties: false }),
  Type.Object({ op: Type.Literal('fail_reads'), port: Type.String({ maxLength: 32 }) }, { additionalProperties: false }),
  Type.Object({ op: Type.Literal('add_controller'), name: Type.String({ pattern: '^usb[0-9]{1,3}$' }) }, { additionalProperties: false }),
  Type.Object(
    { op: Type.Literal('set_controller_default'), name: Type.String({ pattern: '^usb[0-9]{1,3}$' }), value: Type.Integer({ minimum: -1, maximum: 2 }) },
    { additionalProperties: false },
  ),
  Type.Object({ op: Type.Literal('resync') }, { additionalProperties: false }),
  // N insert/remove cycles in the agent process: 50 000 events through stdin line by line would
  // need one round trip per plug; a burst keeps the pipe quiet and the agent's own code path busy.
  Type.Object(
    {
      op: Type.Literal('burst'),
      count: Type.Integer({ minimum: 1, maximum: MAX_BURST_CYCLES }),
      device: FakeDeviceSpec,
      port: Type.Optional(Type.String({ maxLength: 32 })),
    },
    { additionalProperties: false },
  ),
]);
