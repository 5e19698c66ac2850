import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { SOFTWARE_POLICY_CHECK, SoftwarePolicy, SoftwarePolicyMode } from '../domain/software-policy.js';
import type { SchemaCheck } from '../schema-check.js';
import { controlMessage, eventMessage } from './envelope.js';
import { checkSensorConfigWith, type CheckedSensorConfig } from './sensor-config-check.js';
import { NetworkPlanSchema } from './sensor-messages.js';

// The checks that need no schema engine live in sensor-config-check.ts, so the agent can run them
// on its generated validators; re-exported so the collector's imports stay as they were.
export { builtinSensorConfig, type CheckedSensorConfig } from './sensor-config-check.js';

/**
 * Per-seat configuration of the compliance sensors, pushed by the collector (`sensor.config`) and
 * acknowledged by the agent (`sensor.config_applied`). The same checks run on both ends:
 * `checkSensorConfig` validates the schema and compiles the software policy.
 */

/** "This seat must be offline": the TCP target that must NOT answer. Host name or IP literal. */
export const ReachabilityTargetSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9._:-]+$' }),
    port: Type.Integer({ minimum: 1, maximum: 65_535 }),
  },
  { additionalProperties: false },
);
export type ReachabilityTargetBody = Static<typeof ReachabilityTargetSchema>;

/**
 * Sensor periods in ms; absent means the agent default (firmware 15 min, software rescan 1 h,
 * processes 10 s, network 30 s). Bounds keep a bad config from turning a seat into a busy loop.
 */
export const SensorIntervalsSchema = Type.Object(
  {
    firmware_ms: Type.Optional(Type.Integer({ minimum: 60_000, maximum: 86_400_000 })),
    software_ms: Type.Optional(Type.Integer({ minimum: 60_000, maximum: 86_400_000 })),
    process_ms: Type.Optional(Type.Integer({ minimum: 1_000, maximum: 3_600_000 })),
    network_ms: Type.Optional(Type.Integer({ minimum: 5_000, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);
export type SensorIntervals = Static<typeof SensorIntervalsSchema>;

/** The body of `sensor.config` and of the collector's stored configurations. */
export const SensorConfigBodySchema = Type.Object(
  {
    /** Collector-assigned id of the stored configuration; 0 is the built-in default. */
    version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    /** Software allow/deny policy (shared/domain/software-policy.ts). Its `mode` is overridden by `software_mode`. */
    software_policy: SoftwarePolicy,
    /** audit: report only; enforce: also kill denied processes. */
    software_mode: SoftwarePolicyMode,
    network_plan: NetworkPlanSchema,
    must_be_offline: Type.Boolean(),
    reachability_target: Type.Union([Type.Null(), ReachabilityTargetSchema]),
    intervals: Type.Optional(SensorIntervalsSchema),
  },
  { additionalProperties: false },
);
export type SensorConfigBody = Static<typeof SensorConfigBodySchema>;

/** Collector → agent: the seat's effective sensor configuration (after `welcome` and on every change). */
export const SensorConfigMessage = controlMessage('sensor.config', SensorConfigBodySchema);

/** Agent → collector: the outcome of a `sensor.config` (or of the stored one at start). */
export const SensorConfigAppliedEvent = eventMessage(
  'sensor.config_applied',
  Type.Object(
    {
      /** The version the agent was sent; 0 when it could not be read from a refused config. */
      version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
      ok: Type.Boolean(),
      /** The mode now in force (after a refusal: the mode of the configuration kept). */
      software_mode: SoftwarePolicyMode,
      /** The version now in force (equals `version` when ok). */
      active_version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
      /** Why it was refused (every error), or a short summary. */
      detail: Type.String({ maxLength: 1024 }),
    },
    { additionalProperties: false },
  ),
);

/** Collector → agent registry entry, spread into COLLECTOR_MESSAGES. */
export const SENSOR_CONFIG_COLLECTOR_MESSAGES = { 'sensor.config': SensorConfigMessage } as const;
/** Agent → collector registry entry, spread into AGENT_EVENT_MESSAGES. */
export const SENSOR_CONFIG_AGENT_EVENTS = { 'sensor.config_applied': SensorConfigAppliedEvent } as const;

const checkBody = Compile(SensorConfigBodySchema);

const SENSOR_CONFIG_BODY_CHECK: SchemaCheck<SensorConfigBody> = {
  check: (input): input is SensorConfigBody => checkBody.Check(input),
  errors: (input) => checkBody.Errors(input).map((e) => `${e.instancePath || '/'} ${e.message}`),
};

/**
 * Validates untrusted configuration data (HTTP body, ws frame, state file) with TypeBox, whose
 * errors name the failing field, and compiles the policy with `mode = software_mode`.
 */
export function checkSensorConfig(input: unknown): { ok: true; value: CheckedSensorConfig } | { ok: false; errors: string[] } {
  return checkSensorConfigWith(input, { body: SENSOR_CONFIG_BODY_CHECK, policy: SOFTWARE_POLICY_CHECK });
}
