import type { Alert } from './types.js';
import { capChars, multiLine, oneLine } from './text.js';

/** Longest subject kept, in code points (RFC 5322 recommends lines under 78 characters; clients wrap). */
export const SUBJECT_MAX = 200;
/** Longest detail kept in a mail body, in code points. */
export const DETAIL_MAX = 10_000;
const FIELD_MAX = 512;

/** HTML-escapes text for element content and double- or single-quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** A link target only when it parses as an absolute http(s) URL; anything else is shown as text. */
export function safeHttpUrl(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

const field = (s: string | null | undefined): string => capChars(oneLine(s ?? '—'), FIELD_MAX);

/** Seat as one line: "seat-name (hostname, agent id)". */
function seatLine(a: Alert): string {
  if (!a.seat) return '—';
  const extras = [a.seat.hostname, `agent ${a.seat.agent_id}`].filter((x): x is string => x !== null && x.length > 0);
  return field(`${a.seat.seat_name ?? a.seat.hostname ?? a.seat.agent_id} (${extras.join(', ')})`);
}

function deviceLine(a: Alert): string | null {
  if (!a.device) return null;
  const d = a.device;
  return field(`${d.vendor_id}:${d.product_id} serial ${d.serial ?? '—'} product ${d.product ?? '—'}`);
}

/**
 * Subject without CR/LF or other controls (header injection), capped at {@link SUBJECT_MAX}:
 * `[seatguard] CRITICAL open: <title> (<seat>)`.
 */
export function emailSubject(a: Alert, prefix: string): string {
  const seat = a.seat ? ` (${a.seat.seat_name ?? a.seat.hostname ?? a.seat.agent_id})` : '';
  return capChars(oneLine(`${prefix} ${a.severity.toUpperCase()} ${a.state}: ${a.title}${seat}`).trim(), SUBJECT_MAX);
}

/** Label/value rows shared by the text and HTML bodies; every value is already one line. */
function rows(a: Alert): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['Severity', field(a.severity)],
    ['State', field(a.state)],
    ['Rule', field(a.rule)],
    ['Seat', seatLine(a)],
  ];
  const dev = deviceLine(a);
  if (dev) out.push(['Device', dev]);
  out.push(['Count', field(String(a.count))], ['First seen', field(a.first_seen)], ['Last seen', field(a.last_seen)], ['Alert', field(a.id)]);
  return out;
}

/** Plain-text body: label lines, a blank line, then the detail (its line breaks kept). */
export function emailText(a: Alert): string {
  const lines = [field(a.title), '', ...rows(a).map(([k, v]) => `${k}: ${v}`)];
  const url = safeHttpUrl(a.url);
  if (url) lines.push(`Console: ${url}`);
  lines.push('', capChars(multiLine(a.detail), DETAIL_MAX), '');
  return lines.join('\n');
}

/** Minimal HTML body; every interpolated value goes through {@link escapeHtml}. */
export function emailHtml(a: Alert): string {
  const tr = rows(a)
    .map(([k, v]) => `<tr><th align="left">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const url = safeHttpUrl(a.url);
  const link = url ? `<p><a href="${escapeHtml(url)}">Open in the seatguard console</a></p>` : '';
  return (
    '<!doctype html><html><head><meta charset="utf-8"></head><body>' +
    `<h2>${escapeHtml(field(a.title))}</h2>` +
    `<table>${tr}</table>` +
    `<pre style="white-space:pre-wrap">${escapeHtml(capChars(multiLine(a.detail), DETAIL_MAX))}</pre>` +
    link +
    '</body></html>'
  );
}
