import type { UsbDevice } from '../domain/usb.js';
import type { RuleDecision } from './evaluator.js';
import { interfaceMatches, type RuleDevice } from './match.js';

/**
 * seatguard's default policy: every device is allowed except its mass-storage interfaces (class
 * 0x08), so keyboards, headsets and hubs work and a composite device keeps its other functions.
 */
export const DEFAULT_POLICY = `# seatguard default policy: block USB mass storage, allow everything else.
# Composite devices keep their non-storage interfaces (seatguard extension: except-interface).
allow except-interface { 08:*:* }
`;

/** Per-interface outcome of a decision: allow authorizes, block leaves the interface unauthorized. */
export type InterfaceDecision = 'allow' | 'block';

/**
 * What to do with one interface (`cc:ss:pp`) of a device the ruleset decided on: `allow` →
 * authorize every interface except those matching except-interface; `block` and `reject` →
 * none (for reject the agent also removes the device).
 */
export function interfaceDecision(result: RuleDecision, ifaceType: string): InterfaceDecision {
  if (result.target !== 'allow') return 'block';
  for (const p of result.exceptInterfaces) if (interfaceMatches(p, ifaceType)) return 'block';
  return 'allow';
}

/** Splits a device's interfaces into those to authorize and those to leave blocked. */
export function partitionInterfaces(
  result: RuleDecision,
  interfaces: readonly string[],
): { authorize: string[]; block: string[] } {
  const authorize: string[] = [];
  const block: string[] = [];
  for (const i of interfaces) (interfaceDecision(result, i) === 'allow' ? authorize : block).push(i);
  return { authorize, block };
}

/**
 * The rule-language view of a device reported by an agent. Missing strings become '' (USBGuard's
 * convention) and connect type `unknown` becomes ''.
 */
export function toRuleDevice(d: UsbDevice): RuleDevice {
  return {
    id: `${d.vendor_id}:${d.product_id}`,
    hash: d.hash ?? '',
    parentHash: d.parent_hash ?? '',
    serial: d.serial ?? '',
    name: d.product ?? '',
    viaPort: [d.port],
    interfaces: d.interfaces,
    connectType: d.connect_type === 'unknown' ? '' : d.connect_type,
  };
}
