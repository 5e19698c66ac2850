import type { DeviceMatch, SetOperator, ValueSet } from './ast.js';

/**
 * A device as the rule language sees it. Hex is lowercase (`'046d:c52b'`, `'08:06:50'`); a value
 * the device does not report is the empty string, as in USBGuard.
 */
export interface RuleDevice {
  /** `vvvv:pppp` */
  readonly id: string;
  readonly hash: string;
  readonly parentHash: string;
  readonly serial: string;
  /** The product string. */
  readonly name: string;
  /** Port path(s), e.g. `['2-1']`. */
  readonly viaPort: readonly string[];
  /** Interface types `cc:ss:pp` in descriptor order. */
  readonly interfaces: readonly string[];
  readonly connectType: 'hotplug' | 'hardwired' | '';
}

type Eq = (pattern: string, value: string) => boolean;

function eqString(pattern: string, value: string): boolean {
  return pattern === value;
}

/** `vvvv:pppp` pattern with `*` parts against a concrete id; no allocation. */
export function deviceIdMatches(pattern: string, id: string): boolean {
  if (pattern === '*:*') return true;
  if (pattern.length === 6 && pattern.charCodeAt(5) === 0x2a /* vvvv:* */) {
    if (id.length !== 9) return false;
    for (let i = 0; i < 5; i++) if (pattern.charCodeAt(i) !== id.charCodeAt(i)) return false;
    return true;
  }
  return pattern === id;
}

/** `cc:ss:pp` pattern with `*` subclass/protocol against a concrete interface type. */
export function interfaceMatches(pattern: string, iface: string): boolean {
  if (iface.length !== 8 || pattern.charCodeAt(0) !== iface.charCodeAt(0) || pattern.charCodeAt(1) !== iface.charCodeAt(1)) {
    return false;
  }
  if (pattern.charCodeAt(3) === 0x2a) return true; // cc:*:*
  if (pattern.charCodeAt(3) !== iface.charCodeAt(3) || pattern.charCodeAt(4) !== iface.charCodeAt(4)) return false;
  if (pattern.charCodeAt(6) === 0x2a) return true; // cc:ss:*
  return pattern.charCodeAt(6) === iface.charCodeAt(6) && pattern.charCodeAt(7) === iface.charCodeAt(7);
}

// Single-valued device attributes are passed as a string to avoid wrapping them in arrays.
type Values = string | readonly string[];

function count(values: Values): number {
  return typeof values === 'string' ? 1 : values.length;
}

function at(values: Values, i: number): string {
  return typeof values === 'string' ? values : (values[i] as string);
}

function anyValueMatches(pattern: string, values: Values, eq: Eq): boolean {
  const n = count(values);
  for (let i = 0; i < n; i++) if (eq(pattern, at(values, i))) return true;
  return false;
}

function anyPatternMatches(patterns: readonly string[], value: string, eq: Eq): boolean {
  for (const p of patterns) if (eq(p, value)) return true;
  return false;
}

/**
 * Compares a rule's value set with a device's values (USBGuard's set operators):
 * all-of: every rule value matches a device value; one-of: at least one does; none-of: none does;
 * equals: same number of values and every rule value and every device value has a partner;
 * equals-ordered: same length, position by position; match-all: every device value is matched.
 */
export function setMatches(op: SetOperator, patterns: readonly string[], values: Values, eq: Eq): boolean {
  switch (op) {
    case 'all-of':
      for (const p of patterns) if (!anyValueMatches(p, values, eq)) return false;
      return true;
    case 'one-of':
      for (const p of patterns) if (anyValueMatches(p, values, eq)) return true;
      return false;
    case 'none-of':
      for (const p of patterns) if (anyValueMatches(p, values, eq)) return false;
      return true;
    case 'equals': {
      const n = count(values);
      if (patterns.length !== n) return false;
      for (const p of patterns) if (!anyValueMatches(p, values, eq)) return false;
      // USBGuard checks one direction only; checking both makes { 08:*:* 08:06:50 } unequal to
      // a device with 08:06:50 and 03:01:01, as the manual's "exactly the same set" says.
      for (let i = 0; i < n; i++) if (!anyPatternMatches(patterns, at(values, i), eq)) return false;
      return true;
    }
    case 'equals-ordered': {
      const n = count(values);
      if (patterns.length !== n) return false;
      for (let i = 0; i < n; i++) if (!eq(patterns[i] as string, at(values, i))) return false;
      return true;
    }
    case 'match-all': {
      const n = count(values);
      for (let i = 0; i < n; i++) if (!anyPatternMatches(patterns, at(values, i), eq)) return false;
      return true;
    }
  }
}

function attr(set: ValueSet | undefined, values: Values, eq: Eq): boolean {
  return set === undefined || setMatches(set.op, set.values, values, eq);
}

/** True when every attribute of `match` applies to the device (conditions and label not considered). */
export function deviceMatches(match: DeviceMatch, d: RuleDevice): boolean {
  return (
    attr(match.id, d.id, deviceIdMatches) &&
    attr(match.serial, d.serial, eqString) &&
    attr(match.name, d.name, eqString) &&
    attr(match.hash, d.hash, eqString) &&
    attr(match.parentHash, d.parentHash, eqString) &&
    attr(match.viaPort, d.viaPort, eqString) &&
    attr(match.withInterface, d.interfaces, interfaceMatches) &&
    attr(match.withConnectType, d.connectType, eqString)
  );
}
