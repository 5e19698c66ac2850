import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Offline unlock codes (challenge/response) for a seat that cannot reach the collector.
 *
 *  1. At the seat, `seatguard agent request-unlock --offline` makes a CHALLENGE for one inserted
 *     device: 5 random bytes (nonce) + 5 bytes of the device fingerprint → 16 Crockford base32
 *     characters, read out to the maintainer ("K3Q9-…").
 *  2. The maintainer enters seat + challenge + duration in the console. The collector answers with
 *     a RESPONSE: 2 bytes duration in minutes + 10 bytes HMAC-SHA256 (truncated to 80 bits) over
 *     (agent id, nonce, fingerprint, duration) keyed with the seat's offline secret → 20 characters.
 *  3. The agent checks the response against its pending challenges, in constant time. A match
 *     consumes the challenge: a response works once, only on that seat, only for that device, and
 *     only while the challenge is fresh (the agent drops challenges after CHALLENGE_TTL_MS).
 *
 * 80 bits of MAC cannot be guessed online (the agent also limits attempts). The per-seat secret is
 * derived from the collector's master key and handed to the agent at enrollment, so a leaked seat
 * secret unlocks nothing on other seats.
 */

export const CHALLENGE_TTL_MS = 60 * 60_000;
const CONTEXT = 'seatguard-offline-v1';
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford: no I, L, O, U

export interface DeviceIdentity {
  vendor_id: string;
  product_id: string;
  serial: string | null;
  hash: string | null;
}

export interface Challenge {
  nonce: Buffer; // 5 bytes
  fingerprint: Buffer; // 5 bytes
}

/** 5-byte fingerprint of a device identity (vid:pid, serial, descriptor hash). */
export function deviceFingerprint(d: DeviceIdentity): Buffer {
  const h = createHash('sha256').update(`${d.vendor_id}:${d.product_id}\n${d.serial ?? ''}\n${d.hash ?? ''}`, 'utf8').digest();
  return h.subarray(0, 5);
}

export function base32Encode(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Decodes Crockford base32, accepting lowercase, I/L as 1 and O as 0, ignoring dashes and spaces. */
export function base32Decode(text: string): Buffer | null {
  const clean = text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  if (clean.length === 0 || clean.length > 64) return null;
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function group(s: string): string {
  return s.match(/.{1,4}/g)?.join('-') ?? s;
}

export function newChallenge(device: DeviceIdentity): Challenge {
  return { nonce: randomBytes(5), fingerprint: deviceFingerprint(device) };
}

export function formatChallenge(c: Challenge): string {
  return group(base32Encode(Buffer.concat([c.nonce, c.fingerprint])));
}

export function parseChallenge(code: string): Challenge | null {
  const buf = base32Decode(code);
  if (!buf || buf.length !== 10) return null;
  return { nonce: buf.subarray(0, 5), fingerprint: buf.subarray(5, 10) };
}

/** The seat's offline secret, derived from the collector's master key. */
export function deriveSeatSecret(masterKey: Buffer, agentId: string): Buffer {
  return createHmac('sha256', masterKey).update(`${CONTEXT}\nseat\n${agentId}`, 'utf8').digest();
}

function mac(secret: Buffer, agentId: string, c: Challenge, minutes: number): Buffer {
  const dur = Buffer.alloc(2);
  dur.writeUInt16BE(minutes);
  return createHmac('sha256', secret)
    .update(`${CONTEXT}\nresponse\n${agentId}\n`, 'utf8')
    .update(c.nonce)
    .update(c.fingerprint)
    .update(dur)
    .digest()
    .subarray(0, 10);
}

/** Collector side: the response code for a challenge, valid for `minutes` of unlock. */
export function makeResponse(secret: Buffer, agentId: string, c: Challenge, minutes: number): string {
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > 0xffff) throw new RangeError('minutes out of range');
  const dur = Buffer.alloc(2);
  dur.writeUInt16BE(minutes);
  return group(base32Encode(Buffer.concat([dur, mac(secret, agentId, c, minutes)])));
}

/**
 * Agent side: finds the pending challenge this response answers. Returns its index and the granted
 * minutes, or null. The caller deletes the challenge on success (single use).
 */
export function verifyResponse(
  secret: Buffer,
  agentId: string,
  pending: readonly Challenge[],
  response: string,
): { index: number; minutes: number } | null {
  const buf = base32Decode(response);
  if (!buf || buf.length !== 12) return null;
  const minutes = buf.readUInt16BE(0);
  const given = buf.subarray(2, 12);
  let found = -1;
  // Compare against every challenge, without an early exit, so timing does not say which matched.
  pending.forEach((c, i) => {
    if (timingSafeEqual(mac(secret, agentId, c, minutes), given) && found < 0) found = i;
  });
  return found < 0 || minutes < 1 ? null : { index: found, minutes };
}
