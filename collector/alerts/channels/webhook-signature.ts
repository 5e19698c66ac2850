import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signature scheme. The signed material is the ASCII decimal Unix timestamp in seconds,
 * a full stop, then the raw request body bytes: `${timestamp}.${body}`. The signature header is
 * `sha256=` followed by the lowercase hex HMAC-SHA256 of that material under the channel secret.
 */

export const SIGNATURE_HEADER = 'x-seatguard-signature';
export const TIMESTAMP_HEADER = 'x-seatguard-timestamp';
/** Same value on every retry of one delivery, so receivers can drop duplicates. */
export const DELIVERY_HEADER = 'x-seatguard-delivery';
/** Receivers should refuse timestamps further than this from their clock (default 300 s). */
export const DEFAULT_TOLERANCE_SEC = 300;

/** `sha256=<hex>` over `${timestamp}.${body}`. */
export function signWebhook(secret: string, timestamp: string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`, 'utf8');
  mac.update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `sha256=${mac.digest('hex')}`;
}

export interface VerifyInput {
  secret: string;
  timestamp: string | undefined;
  signature: string | undefined;
  body: string | Uint8Array;
  nowMs: number;
  toleranceSec?: number;
}

/** Receiver-side check: well-formed headers, timestamp within tolerance, constant-time MAC compare. */
export function verifyWebhookSignature(v: VerifyInput): boolean {
  if (v.timestamp === undefined || v.signature === undefined) return false;
  if (!/^[0-9]{1,12}$/.test(v.timestamp) || !/^sha256=[0-9a-f]{64}$/.test(v.signature)) return false;
  const skewSec = Math.abs(v.nowMs / 1000 - Number(v.timestamp));
  if (skewSec > (v.toleranceSec ?? DEFAULT_TOLERANCE_SEC)) return false;
  const expected = Buffer.from(signWebhook(v.secret, v.timestamp, v.body), 'utf8');
  const given = Buffer.from(v.signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
