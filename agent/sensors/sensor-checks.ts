import type { Static } from 'typebox';
import type { SoftwarePolicy } from '../../shared/domain/software-policy.js';
import { compileSoftwarePolicyWith, type CompiledSoftwarePolicy } from '../../shared/domain/software-policy-core.js';
import { checkSensorConfigWith, type CheckedSensorConfig } from '../../shared/protocol/sensor-config-check.js';
import type { SensorConfigBody } from '../../shared/protocol/sensor-config-messages.js';
import type { NetworkPlan } from '../../shared/protocol/sensor-messages.js';
import { generatedCheck } from '../generated-checks.js';
import type { FirmwareBaselineSchema, SoftwareBaselineSchema, StoredConfigSchema } from './sensor-schemas.js';

/**
 * The sensors' schema checks on the generated validators: the same rules as the collector's
 * compileSoftwarePolicy / checkSensorConfig (shared/), without loading TypeBox in the agent. A
 * refusal names the schema, not the failing field (the collector, which checked the same
 * configuration before sending it, reports the field to whoever edited it).
 */

const SOFTWARE_POLICY_CHECK = generatedCheck<SoftwarePolicy>('software_policy', 'software policy');
const SENSOR_CONFIG_BODY_CHECK = generatedCheck<SensorConfigBody>('sensor_config_body', 'sensor configuration');

export const NETWORK_PLAN_CHECK = generatedCheck<NetworkPlan>('network_plan', 'network plan');
export const FIRMWARE_BASELINE_CHECK = generatedCheck<Static<typeof FirmwareBaselineSchema>>('firmware_baseline', 'firmware baseline');
export const SOFTWARE_BASELINE_CHECK = generatedCheck<Static<typeof SoftwareBaselineSchema>>('software_baseline', 'software baseline');
export const STORED_SENSOR_CONFIG_CHECK = generatedCheck<Static<typeof StoredConfigSchema>>('stored_sensor_config', 'stored sensor configuration');

/** Validates untrusted policy data and compiles it (shared/domain/software-policy-core.ts). */
export function compileSoftwarePolicy(input: unknown): { ok: true; policy: CompiledSoftwarePolicy } | { ok: false; errors: string[] } {
  return compileSoftwarePolicyWith(input, SOFTWARE_POLICY_CHECK);
}

/** Validates an untrusted sensor configuration and compiles its policy (shared/protocol/sensor-config-check.ts). */
export function checkSensorConfig(input: unknown): { ok: true; value: CheckedSensorConfig } | { ok: false; errors: string[] } {
  return checkSensorConfigWith(input, { body: SENSOR_CONFIG_BODY_CHECK, policy: SOFTWARE_POLICY_CHECK });
}
