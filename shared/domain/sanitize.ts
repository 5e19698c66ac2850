/**
 * Strings that come from a USB device (vendor, product, serial), an agent or a browser are hostile.
 * They are made safe to store and to log here, at the boundary; HTML escaping happens on output.
 */

/** Longest device string kept, in code points. Real descriptors hold at most 126 UTF-16 units. */
export const DEVICE_STRING_MAX = 128;

const REPLACEMENT = '\uFFFD';
const TRUNCATION_MARK = '…';

// C0/C1 controls, DEL, line/paragraph separators, bidi overrides and isolates (text spoofing),
// zero-width characters and the BOM. Everything else, including CJK, is kept.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/gu;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** True when a string needs no change by {@link sanitizeText} at the given cap. */
export function isSafeText(s: string, max = DEVICE_STRING_MAX): boolean {
  UNSAFE.lastIndex = 0;
  LONE_SURROGATE.lastIndex = 0;
  return !UNSAFE.test(s) && !LONE_SURROGATE.test(s) && [...s].length <= max;
}

/**
 * Replaces control and invisible characters with U+FFFD, trims surrounding whitespace and caps the
 * length (the last kept character becomes '…' when cut). Idempotent.
 */
export function sanitizeText(input: string, max = DEVICE_STRING_MAX): string {
  let s = input.replace(LONE_SURROGATE, REPLACEMENT).replace(UNSAFE, REPLACEMENT).trim();
  const chars = [...s];
  if (chars.length > max) s = chars.slice(0, max - 1).join('') + TRUNCATION_MARK;
  return s;
}

/** Decodes raw bytes (e.g. a sysfs attribute) as UTF-8 with replacement, then sanitizes. */
export function sanitizeBytes(buf: Uint8Array, max = DEVICE_STRING_MAX): string {
  // Cap the bytes decoded first so a 1 MB attribute costs no more than a short one.
  const slice = buf.subarray(0, max * 4 + 4);
  return sanitizeText(new TextDecoder('utf-8', { fatal: false }).decode(slice), max);
}

/** Like sanitizeText, but empty strings become null (a device that reports no serial). */
export function sanitizeOptional(input: string | null | undefined, max = DEVICE_STRING_MAX): string | null {
  if (input == null) return null;
  const s = sanitizeText(input, max);
  return s.length === 0 ? null : s;
}
