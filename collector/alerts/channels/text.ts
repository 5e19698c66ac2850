/**
 * Text helpers every output format uses on hostile alert strings: neutralise control and
 * invisible characters, cap lengths, and fit a message into a byte budget without cutting a
 * UTF-8 sequence or an escape in half.
 */

// Line breaks and tabs become a space so one alert can never forge a second log line.
// eslint-disable-next-line no-control-regex
const LINE_BREAKS = /\r\n|[\r\n\t\u000b\u000c\u0085\u2028\u2029]/g;
// Remaining C0/C1 controls, DEL, bidi overrides/isolates (display spoofing), zero-width chars, BOM.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/g;
// eslint-disable-next-line no-control-regex
const INVISIBLE_BUT_LF = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Single-line form: line breaks/tabs → space, other control or invisible characters → U+FFFD. */
export function oneLine(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD').replace(LINE_BREAKS, ' ').replace(INVISIBLE, '\uFFFD');
}

/** Multi-line form: keeps `\n` (CRLF, CR and Unicode line breaks become `\n`), tab → space, other controls → U+FFFD. */
export function multiLine(s: string): string {
  return s
    .replace(LONE_SURROGATE, '\uFFFD')
    // eslint-disable-next-line no-control-regex
    .replace(/\r\n?|[\u000b\u000c\u0085\u2028\u2029]/g, '\n')
    .replace(/\t/g, ' ')
    .replace(INVISIBLE_BUT_LF, '\uFFFD');
}

/** Caps at `max` code points; a cut string ends with '…'. */
export function capChars(s: string, max: number): string {
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  return chars.slice(0, Math.max(0, max - 1)).join('') + '…';
}

/** Keeps only printable US-ASCII (33–126), as RFC 5424 header fields require; empty → fallback. */
export function printUsAscii(s: string, max: number, fallback = '-'): string {
  const out = s.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return out.length > 0 ? out : fallback;
}

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Finds the longest prefix of `text` (in code points) for which `build(prefix)` fits in `maxBytes`
 * UTF-8 bytes, marking a cut with '…'. Escaping happens inside `build`, so an escape sequence is
 * never split. Returns null when even an empty text does not fit.
 */
export function fitText(text: string, maxBytes: number, build: (text: string) => string): string | null {
  const whole = build(text);
  if (utf8Bytes(whole) <= maxBytes) return whole;
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length - 1;
  let best: string | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const candidate = build(chars.slice(0, mid).join('') + '…');
    if (utf8Bytes(candidate) <= maxBytes) {
      best = candidate;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (best !== null) return best;
  const empty = build('');
  return utf8Bytes(empty) <= maxBytes ? empty : null;
}

/** Cuts a UTF-8 buffer to at most `maxBytes` without splitting a multi-byte character. */
export function truncateUtf8(buf: Buffer, maxBytes: number): Buffer {
  if (buf.length <= maxBytes) return buf;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end);
}
