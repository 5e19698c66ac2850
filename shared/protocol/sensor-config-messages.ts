import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import {
  DEFAULT_SOFTWARE_POLICY,
  SoftwarePolicy,
  SoftwarePolicyMode,
  compileSoftwarePolicy,
  type CompiledSoftwarePolicy,
} from '../domain/software-policy.js';
import { controlMessage, eventMessage } from './envelope.js';
import { NetworkPlanSchema } from './sensor-messages.js';

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

/** A configuration that passed every check, with its policy compiled in the effective mode. */
export interface CheckedSensorConfig {
  config: SensorConfigBody;
  policy: CompiledSoftwarePolicy;
}

const checkBody = Compile(SensorConfigBodySchema);

/** Most errors listed for one configuration; more only repeat the same mistake. */
const MAX_ERRORS = 50;

/**
 * Validates untrusted configuration data (HTTP body, ws frame, state file) and compiles the
 * policy with `mode = software_mode`. Lists every error it finds.
 */
export function checkSensorConfig(input: unknown): { ok: true; value: CheckedSensorConfig } | { ok: false; errors: string[] } {
  if (!checkBody.Check(input)) {
    const errors = checkBody
      .Errors(input)
      .slice(0, MAX_ERRORS)
      .map((e) => `${e.instancePath || '/'} ${e.message}`);
    return { ok: false, errors: errors.length > 0 ? errors : ['/ invalid'] };
  }
  const errors: string[] = [];
  if (input.must_be_offline && input.reachability_target === null) {
    errors.push('/reachability_target is required when must_be_offline is true');
  }
  // software_mode is authoritative: a policy edited elsewhere cannot silently flip the seat to enforce.
  const compiled = compileSoftwarePolicy({ ...input.software_policy, mode: input.software_mode });
  if (!compiled.ok) errors.push(...compiled.errors.map((e) => `/software_policy ${e}`));
  const ifaces = new Set<string>();
  input.network_plan.forEach((p, i) => {
    if (ifaces.has(p.iface)) errors.push(`/network_plan/${i} duplicate interface ${p.iface}`);
    ifaces.add(p.iface);
  });
  if (errors.length > 0 || !compiled.ok) return { ok: false, errors: errors.slice(0, MAX_ERRORS) };
  return { ok: true, value: { config: input, policy: compiled.policy } };
}

/**
 * The configuration in force before the collector sends one (and the collector's answer for a seat
 * with nothing configured): version 0, built-in denylist in audit mode, no plan, not offline.
 */
export function builtinSensorConfig(): SensorConfigBody {
  return {
    version: 0,
    software_policy: structuredClone({ ...DEFAULT_SOFTWARE_POLICY, mode: 'audit' }),
    software_mode: 'audit',
    network_plan: [],
    must_be_offline: false,
    reachability_target: null,
  };
}
