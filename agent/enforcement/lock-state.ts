import type { LockState } from '../../shared/protocol/messages.js';
import type { UsbControllerState } from '../platform/platform.js';

/** The seat's storage gate as one value plus the reasons behind it. */
export interface AggregateLock {
  state: LockState;
  detail: string;
}

const DETAIL_MAX = 512;

/**
 * SECURITY: 'locked' only when there is at least one controller and every controller read back
 * interface_authorized_default = 0 and no storage interface is known to be open. A value read back
 * as anything else is 'degraded' (known open); an unreadable one is 'unknown' (never guessed).
 * degraded wins over unknown: a known hole is the more urgent fact.
 */
export function aggregateLockState(controllers: readonly UsbControllerState[], openStorage: readonly string[] = []): AggregateLock {
  const open: string[] = [];
  const unreadable: string[] = [];
  for (const c of controllers) {
    if (c.interfaceAuthorizedDefault === null) unreadable.push(`${c.name}: interface_authorized_default unreadable`);
    else if (c.interfaceAuthorizedDefault !== 0) open.push(`${c.name}: interface_authorized_default is ${c.interfaceAuthorizedDefault}`);
  }
  for (const port of openStorage) open.push(`${port}: storage interface could not be deauthorized`);
  const cap = (parts: string[]) => parts.join('; ').slice(0, DETAIL_MAX);
  if (open.length > 0) return { state: 'degraded', detail: cap([...open, ...unreadable]) };
  if (controllers.length === 0) return { state: 'unknown', detail: 'no USB controllers found' };
  if (unreadable.length > 0) return { state: 'unknown', detail: cap(unreadable) };
  return { state: 'locked', detail: `${controllers.length} controller(s) locked` };
}
