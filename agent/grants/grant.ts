import type { UsbDevice } from '../../shared/domain/usb.js';

/** Why a grant ended (the `grant.ended` reasons of the protocol). */
export type GrantEndReason = 'expired' | 'removed' | 'revoked' | 'expired_offline' | 'agent_restart_after_expiry';

/** The exact device a grant unlocks. */
export interface GrantDeviceMatch {
  vendor_id: string;
  product_id: string;
  serial: string | null;
  hash: string | null;
  /** Port the device was approved on; null only with anyPort. */
  port: string | null;
}

/** One grant as the agent keeps it (grants.db). Times: wall = epoch ms, mono = BootClock ms. */
export interface StoredGrant {
  grantId: string;
  requestId: string;
  /** `collector`: pushed by the collector; `offline`: created at the seat from an offline code. */
  source: 'collector' | 'offline';
  device: GrantDeviceMatch;
  anyPort: boolean;
  allowReinsert: boolean;
  executor: string;
  /** The collector's expires_at (epoch ms). The grant also ends when the wall clock passes it. */
  expiresAtWall: number;
  /** BootClock deadline: receipt time + min(duration, expires_at − send time). */
  deadlineMono: number;
  /** Boot the deadline belongs to; null when the boot id was unreadable (deadline not trusted after a restart). */
  bootId: string | null;
  warnBeforeMs: number;
  warned: boolean;
  receivedAtWall: number;
}

/**
 * True when `device` is the granted device: vendor, product, serial and descriptor hash equal
 * exactly (null only matches null), and the port equals unless the grant is for any port.
 * `boundPort` is where the grant is in use right now: while set, a twin elsewhere does not match.
 */
export function grantMatches(grant: Pick<StoredGrant, 'device' | 'anyPort'>, device: UsbDevice, boundPort: string | null = null): boolean {
  const g = grant.device;
  if (g.vendor_id !== device.vendor_id || g.product_id !== device.product_id) return false;
  if (g.serial !== device.serial || g.hash !== device.hash) return false;
  if (boundPort !== null && boundPort !== device.port) return false;
  if (grant.anyPort) return true;
  // SECURITY: a grant without a port and without any_port cannot say where it applies: match nothing.
  return g.port !== null && g.port === device.port;
}

/** Milliseconds left on a grant now: the earlier of the monotonic deadline and the wall-clock expiry. */
export function remainingMs(grant: Pick<StoredGrant, 'deadlineMono' | 'expiresAtWall'>, nowMono: number, nowWall: number): number {
  return Math.min(grant.deadlineMono - nowMono, grant.expiresAtWall - nowWall);
}
