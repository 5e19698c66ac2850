/**
 * Quoted strings of the rule language: decoding (`\"`, `\\`, `\xHH` — the escapes USBGuard's
 * unescapeString accepts) and canonical encoding. Device strings are hostile, so the encoder
 * writes every invisible or control character as `\xHH` bytes instead of passing it through.
 */

// C0/C1 controls, DEL, unusual spaces, line/paragraph separators, bidi marks, embeddings,
// overrides and isolates, zero-width characters and the BOM: anything that could hide, fake or
// reorder text on an admin's screen.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u00a0\u00ad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2069\u3000\ufeff]/u;

const encoder = new TextEncoder();

/** True for a code point that must be written as `\xHH` bytes in rule text. */
function isInvisible(ch: string): boolean {
  return INVISIBLE.test(ch);
}

function hexBytes(ch: string): string {
  let out = '';
  for (const b of encoder.encode(ch)) out += '\\x' + b.toString(16).padStart(2, '0');
  return out;
}

/**
 * Encodes a string value as rule text, quotes included. Inside an allowed-matches(...) argument
 * (`inArgument`) the characters `"`, `(` and `)` are written as `\xHH` too, because USBGuard's
 * grammar ends the argument at the first `)` and does not accept `\"` there.
 */
export function quoteRuleString(value: string, inArgument = false): string {
  let out = '"';
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += inArgument ? '\\x22' : '\\"';
    else if (inArgument && (ch === '(' || ch === ')')) out += hexBytes(ch);
    else if (isInvisible(ch)) out += hexBytes(ch);
    else out += ch;
  }
  return out + '"';
}

/**
 * Renders untrusted text for an error message or a terminal: invisible characters become `\xHH`,
 * and the result is cut to `max` code points.
 */
export function displayText(value: string, max = 40): string {
  let out = '';
  let n = 0;
  for (const ch of value) {
    if (n === max) return out + '…';
    out += isInvisible(ch) ? hexBytes(ch) : ch;
    n++;
  }
  return out;
}

/** Replaces invisible characters with '?' one for one so a caret under the line stays aligned. */
export function displayLine(line: string): string {
  let out = '';
  for (const ch of line) out += ch === '\t' ? ' ' : isInvisible(ch) ? '?' : ch;
  return out;
}
