import type { SoftwarePolicy } from '../domain/software-policy.js';
import { DEFAULT_SOFTWARE_POLICY, compileSoftwarePolicyWith, type CompiledSoftwarePolicy } from '../domain/software-policy-core.js';
import type { SchemaCheck } from '../schema-check.js';
import type { SensorConfigBody } from './sensor-config-messages.js';

/**
 * The sensor configuration checks that need no schema engine: the caller passes the schema checks
 * (TypeBox on the collector, sensor-config-messages.ts checkSensorConfig; generated validators on
 * the agent), so the agent runs the same rules without loading TypeBox.
 */

/** A configuration that passed every check, with its policy compiled in the effective mode. */
export interface CheckedSensorConfig {
  config: SensorConfigBody;
  policy: CompiledSoftwarePolicy;
}

/** Most errors listed for one configuration; more only repeat the same mistake. */
const MAX_ERRORS = 50;

/**
 * Validates untrusted configuration data (HTTP body, ws frame, state file) with `checks` and
 * compiles the policy with `mode = software_mode`. Lists every error it finds.
 */
export function checkSensorConfigWith(
  input: unknown,
  checks: { body: SchemaCheck<SensorConfigBody>; policy: SchemaCheck<SoftwarePolicy> },
): { ok: true; value: CheckedSensorConfig } | { ok: false; errors: string[] } {
  if (!checks.body.check(input)) {
    const errors = checks.body.errors(input).slice(0, MAX_ERRORS);
    return { ok: false, errors: errors.length > 0 ? errors : ['/ invalid'] };
  }
  const errors: string[] = [];
  if (input.must_be_offline && input.reachability_target === null) {
    errors.push('/reachability_target is required when must_be_offline is true');
  }
  // software_mode is authoritative: a policy edited elsewhere cannot silently flip the seat to enforce.
  const compiled = compileSoftwarePolicyWith({ ...input.software_policy, mode: input.software_mode }, checks.policy);
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
