import type { UsbPolicy } from './policy.js';

/** The rule text reported when the default policy keeps a storage interface closed. */
export const DEFAULT_POLICY_RULE = 'default policy: mass-storage interfaces (class 08) are blocked, all other interfaces are allowed';

/**
 * SECURITY: the built-in policy. Every interface of class 08 stays unauthorized; everything else
 * (keyboards, headsets, hubs, the HID half of a composite stick) is authorized so the seat keeps
 * working. Matching is on the interface class, never on vendor/product id (house-style §1.8).
 */
export function createDefaultPolicy(): UsbPolicy {
  return {
    name: 'default',
    decide: () => ({ target: 'allow', exceptInterfaces: ['08:*:*'], rule: DEFAULT_POLICY_RULE }),
  };
}
