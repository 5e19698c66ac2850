import { createHmac, timingSafeEqual } from 'node:crypto';
import { base32Decode, base32Encode } from './offline-code.js';

/**
 * Maintenance codes: a collector-issued, short-lived, single-use permission to stop, uninstall or
 * upgrade the agent on ONE seat, checked by the agent without the collector (same per-seat offline
 * secret and HMAC pattern as offline unlock codes, shared/domain/offline-code.ts).
 *
 * Layout (15 bytes → 24 Crockford base32 characters, shown in groups of four):
 *   purpose (1) ‖ expiry in whole minutes since the epoch (uint32 BE, 4) ‖ nonce (3) ‖ MAC (7)
 * MAC = HMAC-SHA256(seat secret, context ‖ agent id ‖ the first 8 bytes), truncated to 56 bits.
 * 56 bits cannot be guessed online: the agent allows 5 attempts, then one a minute. The code id
 * (`mc_` + hex of the first 8 bytes) names the code on both ends without revealing the MAC.
 */

export const MAINTENANCE_PURPOSES = ['stop', 'uninstall', 'upgrade'] as const;
export type MaintenancePurpose = (typeof MAINTENANCE_PURPOSES)[number];

/** Longest lifetime a code may have; the agent refuses codes that claim more (a far expiry is a forgery sign). */
export const MAINTENANCE_MAX_TTL_MS = 24 * 3_600_000;
const CONTEXT = 'seatguard-maintenance-v1';
const PURPOSE_BYTE: Record<MaintenancePurpose, number> = { stop: 1, uninstall: 2, upgrade: 3 };
const HEADER_BYTES = 8;
const MAC_BYTES = 7;
const CODE_BYTES = HEADER_BYTES + MAC_BYTES;

export interface MaintenanceCodeFields {
  purpose: MaintenancePurpose;
  /** Expiry, ms since the epoch, rounded up to a whole minute by the encoding. */
  expiresAtMs: number;
  /** 3 random bytes. */
  nonce: Buffer;
}

function purposeOf(byte: number): MaintenancePurpose | null {
  for (const p of MAINTENANCE_PURPOSES) if (PURPOSE_BYTE[p] === byte) return p;
  return null;
}

function header(f: MaintenanceCodeFields): Buffer {
  if (f.nonce.length !== 3) throw new RangeError('nonce must be 3 bytes');
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt8(PURPOSE_BYTE[f.purpose], 0);
  h.writeUInt32BE(Math.ceil(f.expiresAtMs / 60_000), 1);
  f.nonce.copy(h, 5);
  return h;
}

function mac(secret: Buffer, agentId: string, head: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${CONTEXT}\n${agentId}\n`, 'utf8').update(head).digest().subarray(0, MAC_BYTES);
}

const group = (s: string): string => s.match(/.{1,4}/g)?.join('-') ?? s;

/** The id both ends use for a code (its header in hex): safe to log and store. */
export function maintenanceCodeId(head: Buffer): string {
  return `mc_${head.subarray(0, HEADER_BYTES).toString('hex')}`;
}

/** Collector side: the code for one seat and purpose. */
export function makeMaintenanceCode(secret: Buffer, agentId: string, f: MaintenanceCodeFields): { code: string; codeId: string; expiresAtMs: number } {
  const head = header(f);
  return { code: group(base32Encode(Buffer.concat([head, mac(secret, agentId, head)]))), codeId: maintenanceCodeId(head), expiresAtMs: head.readUInt32BE(1) * 60_000 };
}

export type MaintenanceCheck =
  | { ok: true; purpose: MaintenancePurpose; codeId: string; expiresAtMs: number }
  | { ok: false; why: 'malformed' | 'mac' | 'purpose' | 'expired' | 'too_far' };

/**
 * Agent side: checks a typed code for this seat and the wanted purpose at `nowMs` (wall clock).
 * Single use is the caller's job (it remembers spent code ids until they expire).
 */
export function checkMaintenanceCode(secret: Buffer, agentId: string, text: string, want: MaintenancePurpose, nowMs: number): MaintenanceCheck {
  const buf = base32Decode(text);
  if (!buf || buf.length !== CODE_BYTES) return { ok: false, why: 'malformed' };
  const head = buf.subarray(0, HEADER_BYTES);
  if (!timingSafeEqual(mac(secret, agentId, head), buf.subarray(HEADER_BYTES))) return { ok: false, why: 'mac' };
  const purpose = purposeOf(head.readUInt8(0));
  if (purpose !== want) return { ok: false, why: 'purpose' };
  const expiresAtMs = head.readUInt32BE(1) * 60_000;
  if (expiresAtMs <= nowMs) return { ok: false, why: 'expired' };
  // One minute of rounding plus a little clock skew on top of the longest lifetime the collector issues.
  if (expiresAtMs - nowMs > MAINTENANCE_MAX_TTL_MS + 10 * 60_000) return { ok: false, why: 'too_far' };
  return { ok: true, purpose, codeId: maintenanceCodeId(head), expiresAtMs };
}
