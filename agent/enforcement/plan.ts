import { interfaceType, USB_CLASS_MASS_STORAGE } from '../../shared/domain/usb-core.js';
import type { UsbDeviceState, UsbInterfaceState } from '../platform/platform.js';
import { matchesInterface, type PolicyDecision } from './policy.js';

/** What enforcement wants for one interface: authorized, unauthorized, or untouched. */
export type InterfaceWant = 'allow' | 'block' | 'leave';

export interface InterfacePlan {
  iface: UsbInterfaceState;
  /** "cc:ss:pp". */
  type: string;
  want: InterfaceWant;
  /** The write needed to get there from the state read, if any. */
  action: 'authorize' | 'deauthorize' | null;
}

export interface DevicePlan {
  reject: boolean;
  interfaces: InterfacePlan[];
  reason: string;
  /** True when the plan was forced by a failure (unreadable descriptors, policy error), not by a rule. */
  failClosed: boolean;
}

/** True for a mass-storage interface (class 08). */
export function isStorage(iface: Pick<UsbInterfaceState, 'cls'>): boolean {
  return iface.cls === USB_CLASS_MASS_STORAGE;
}

function actionFor(iface: UsbInterfaceState, want: InterfaceWant): InterfacePlan['action'] {
  // SECURITY: an interface whose state is unreadable (null) is never authorized, but it is
  // deauthorized when it must be blocked: writing 0 can only close it.
  if (want === 'allow') return iface.authorized === false ? 'authorize' : null;
  if (want === 'block') return iface.authorized === false ? null : 'deauthorize';
  return null;
}

/**
 * Turns a device and the policy's decision into per-interface writes. `decision` is null when the
 * descriptors could not be read: then nothing is authorized and storage interfaces are closed
 * (fail closed), while interfaces already working (a keyboard) are left as they are.
 */
export function planDevice(device: UsbDeviceState, decision: PolicyDecision | null, failReason?: string): DevicePlan {
  const mk = (iface: UsbInterfaceState, want: InterfaceWant): InterfacePlan => ({
    iface,
    type: interfaceType(iface.cls, iface.subclass, iface.protocol),
    want,
    action: actionFor(iface, want),
  });
  if (decision === null) {
    return {
      reject: false,
      interfaces: device.interfaces.map((i) => mk(i, isStorage(i) ? 'block' : 'leave')),
      reason: `fail closed: ${failReason ?? device.problem ?? 'descriptors unreadable'}`,
      failClosed: true,
    };
  }
  if (decision.target === 'reject') {
    return { reject: true, interfaces: device.interfaces.map((i) => mk(i, 'block')), reason: decision.rule, failClosed: false };
  }
  const base: InterfaceWant = decision.target === 'allow' ? 'allow' : 'block';
  const other: InterfaceWant = base === 'allow' ? 'block' : 'allow';
  return {
    reject: false,
    interfaces: device.interfaces.map((i) => mk(i, matchesInterface(decision.exceptInterfaces, i) ? other : base)),
    reason: decision.rule,
    failClosed: false,
  };
}
