import { interfaceType } from '../../shared/domain/usb-core.js';
import type { UsbDeviceState, UsbInterfaceState } from '../platform/platform.js';

/**
 * The seam between enforcement and the rules that decide it. The default policy (default-policy.ts)
 * blocks mass storage; the USBGuard rule language (shared/rules) and time-limited grants replace or
 * wrap it later — a grant-aware policy is a UsbPolicy that consults its grant table before
 * delegating, so usb-lock.ts does not change when grants arrive.
 */

/**
 * Interfaces an exception applies to: a predicate, or USBGuard-style "cc:ss:pp" patterns where any
 * part may be "*" (e.g. "08:*:*" is every mass-storage interface).
 */
export type InterfaceMatcher = ((iface: UsbInterfaceState) => boolean) | readonly string[];

/** What to do with one device. */
export interface PolicyDecision {
  /**
   * allow: authorize every interface except `exceptInterfaces` (those stay unauthorized);
   * block: keep every interface unauthorized except `exceptInterfaces` (those are authorized);
   * reject: logically disconnect the whole device.
   */
  target: 'allow' | 'block' | 'reject';
  exceptInterfaces?: InterfaceMatcher;
  /** The rule that matched, in words; it goes into usb.blocked/usb.allowed `reason`. */
  rule: string;
}

/** Facts about the moment of the decision (grants will add theirs through their own policy wrapper). */
export interface PolicyContext {
  /** The device was attached before the agent started (boot race, agent restart). */
  presentAtStart: boolean;
  /** Wall-clock epoch ms from the injected Clock. */
  now: number;
}

/** Decides per device. Must be pure and fast; a throw is treated as "block everything" (fail closed). */
export interface UsbPolicy {
  readonly name: string;
  decide(device: UsbDeviceState, ctx: PolicyContext): PolicyDecision;
}

const PATTERN = /^([0-9a-f]{2}|\*):([0-9a-f]{2}|\*):([0-9a-f]{2}|\*)$/;

/** True when "cc:ss:pp" (each part hex or "*") matches the interface's class triple. Invalid patterns match nothing. */
export function matchInterfacePattern(pattern: string, iface: Pick<UsbInterfaceState, 'cls' | 'subclass' | 'protocol'>): boolean {
  const m = PATTERN.exec(pattern.toLowerCase());
  if (!m) return false;
  const actual = interfaceType(iface.cls, iface.subclass, iface.protocol).split(':');
  return [m[1], m[2], m[3]].every((part, i) => part === '*' || part === actual[i]);
}

/** Applies an InterfaceMatcher; undefined matches nothing. */
export function matchesInterface(matcher: InterfaceMatcher | undefined, iface: UsbInterfaceState): boolean {
  if (matcher === undefined) return false;
  if (typeof matcher === 'function') return matcher(iface);
  return matcher.some((p) => matchInterfacePattern(p, iface));
}
