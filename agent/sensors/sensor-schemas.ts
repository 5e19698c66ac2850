import { Type } from 'typebox';
import { SensorConfigBodySchema } from '../../shared/protocol/sensor-config-messages.js';

// Schemas of the files the sensors keep in the state dir. Only scripts/gen-validators.ts and tests
// load this module; the agent checks with the validators generated from it (sensor-checks.ts).

const State = Type.Union([Type.Literal('set'), Type.Literal('not_set'), Type.Literal('not_implemented'), Type.Literal('unknown')]);
const NullStr = Type.Union([Type.Null(), Type.String({ maxLength: 512 })]);
/** Schema of the persisted firmware baseline (for createJsonFileBaselineStore). */
export const FirmwareBaselineSchema = Type.Object({
  fields: Type.Object({ adminPassword: State, powerOnPassword: State, keyboardPassword: State, frontPanelReset: State }),
  bios: Type.Object({ vendor: NullStr, version: NullStr, date: NullStr }),
});

const NullStr1024 = Type.Union([Type.Null(), Type.String({ maxLength: 1024 })]);
/** Schema of the persisted inventory baseline (for createJsonFileBaselineStore). */
export const SoftwareBaselineSchema = Type.Array(
  Type.Object({
    name: Type.String({ maxLength: 1024 }),
    version: NullStr1024,
    arch: NullStr1024,
    publisher: NullStr1024,
    source: Type.Union([Type.Literal('dpkg'), Type.Literal('rpm'), Type.Literal('windows'), Type.Literal('fake')]),
  }),
  { maxItems: 200_000 },
);

/** The configuration file the sensor host keeps (sensor-host.ts). */
export const StoredConfigSchema = Type.Object(
  { saved_at: Type.String({ maxLength: 32 }), config: SensorConfigBodySchema },
  { additionalProperties: false },
);
