import { DEFAULT_SOFTWARE_POLICY, type CompiledSoftwarePolicy } from '../../shared/domain/software-policy-core.js';
import { AppError, formatError } from '../../shared/errors.js';
import { compileSoftwarePolicy } from './sensor-checks.js';

let cached: CompiledSoftwarePolicy | null = null;

/** The built-in policy (default denylist, audit mode), compiled once. */
export function defaultCompiledPolicy(): CompiledSoftwarePolicy {
  if (cached) return cached;
  const r = compileSoftwarePolicy(DEFAULT_SOFTWARE_POLICY);
  if (!r.ok) throw new AppError('SOFT_ERR_POLICY', formatError('SOFT_ERR_POLICY', r.errors.join('; ')));
  cached = r.policy;
  return cached;
}
