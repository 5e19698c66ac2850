import type { Alert, AlertSeverity } from './types.js';
import { capChars, fitText, oneLine, printUsAscii, truncateUtf8 } from './text.js';

/**
 * RFC 5424 syslog messages for alerts:
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [alert@PEN …][seat@PEN …][usb@PEN …] BOM+MSG`.
 */

/** Facility local4 (20), a common choice for security appliances; configurable 0–23. */
export const DEFAULT_FACILITY = 20;
/** RFC 5612 documentation enterprise number; set a real Private Enterprise Number in production. */
export const DEFAULT_ENTERPRISE_ID = 32473;
/** RFC 5424 §6.1: a UDP receiver SHOULD accept 2048 octets. */
export const DEFAULT_MAX_BYTES = 2048;
/** RFC 5426 §3.2: every IPv4 receiver MUST accept 480 octets; we never format below that. */
export const MIN_MAX_BYTES = 480;
/** Longest SD PARAM-VALUE kept, in code points, so the header never crowds out MSG. */
export const SD_VALUE_MAX = 256;

const BOM = '\uFEFF';

/** Alert severity → syslog severity (RFC 5424 table 2): critical→2 crit … low→5 notice. */
export const SYSLOG_SEVERITY: Readonly<Record<AlertSeverity, number>> = Object.freeze({
  critical: 2,
  high: 3,
  medium: 4,
  low: 5,
});

export interface SyslogHeaderFields {
  facility: number;
  severity: number;
  timestampMs: number;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
}

/** PRI = facility × 8 + severity (RFC 5424 §6.2.1). */
export function syslogPri(facility: number, severity: number): number {
  return facility * 8 + severity;
}

/** HEADER with VERSION 1; fields are reduced to PRINTUSASCII and capped at the RFC lengths. */
export function syslogHeader(f: SyslogHeaderFields): string {
  return [
    `<${syslogPri(f.facility, f.severity)}>1`,
    new Date(f.timestampMs).toISOString(),
    printUsAscii(f.hostname, 255),
    printUsAscii(f.appName, 48),
    printUsAscii(f.procId, 128),
    printUsAscii(f.msgId, 32),
  ].join(' ');
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\' and ']' get a backslash. */
export function escapeSdValue(s: string): string {
  return s.replace(/["\\\]]/g, '\\$&');
}

/** SD-NAME: printable ASCII without '=', SP, ']', '"', at most 32 characters. */
function sdName(s: string): string {
  return printUsAscii(s.replace(/[= \]"]/g, ''), 32, 'x');
}

/** One SD-ELEMENT; null/undefined params are left out, values are single-lined, capped and escaped. */
export function sdElement(id: string, params: ReadonlyArray<readonly [string, string | number | null | undefined]>): string {
  const parts = [sdName(id)];
  for (const [name, value] of params) {
    if (value === null || value === undefined) continue;
    parts.push(`${sdName(name)}="${escapeSdValue(capChars(oneLine(String(value)), SD_VALUE_MAX))}"`);
  }
  return `[${parts.join(' ')}]`;
}

export interface Rfc5424Options {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  enterpriseId: number;
  maxBytes: number;
}

/** STRUCTURED-DATA for an alert, from the richest form to the smallest (used when space runs out). */
function structuredData(alert: Alert, pen: number): string[] {
  const a = sdElement(`alert@${pen}`, [
    ['id', alert.id],
    ['rule', alert.rule],
    ['severity', alert.severity],
    ['state', alert.state],
    ['count', alert.count],
    ['first_seen', alert.first_seen],
    ['last_seen', alert.last_seen],
    ['url', alert.url],
  ]);
  const seat = alert.seat
    ? sdElement(`seat@${pen}`, [
        ['agent_id', alert.seat.agent_id],
        ['seat_name', alert.seat.seat_name],
        ['hostname', alert.seat.hostname],
      ])
    : '';
  const usb = alert.device
    ? sdElement(`usb@${pen}`, [
        ['vendor_id', alert.device.vendor_id],
        ['product_id', alert.device.product_id],
        ['serial', alert.device.serial],
        ['product', alert.device.product],
      ])
    : '';
  const minimal = sdElement(`alert@${pen}`, [
    ['id', alert.id],
    ['rule', alert.rule],
    ['severity', alert.severity],
  ]);
  return [a + seat + usb, minimal, '-'];
}

/** The header fields of an alert message (MSGID is the rule name). */
export function alertHeader(alert: Alert, opts: Omit<Rfc5424Options, 'enterpriseId' | 'maxBytes'>, nowMs: number): string {
  return syslogHeader({
    facility: opts.facility,
    severity: SYSLOG_SEVERITY[alert.severity],
    timestampMs: nowMs,
    hostname: opts.hostname,
    appName: opts.appName,
    procId: opts.procId,
    msgId: alert.rule,
  });
}

/**
 * A complete RFC 5424 message of at most `maxBytes` octets. MSG is `title: detail` on one line,
 * UTF-8 with a BOM (§6.4); when too long, MSG is cut first, then structured data is reduced.
 */
export function formatRfc5424(alert: Alert, opts: Rfc5424Options, nowMs: number): Buffer {
  const header = alertHeader(alert, opts, nowMs);
  const text = oneLine(`${alert.title}: ${alert.detail}`);
  for (const sd of structuredData(alert, opts.enterpriseId)) {
    const fitted = fitText(text, opts.maxBytes, (t) => (t.length > 0 ? `${header} ${sd} ${BOM}${t}` : `${header} ${sd}`));
    if (fitted !== null) return Buffer.from(fitted, 'utf8');
  }
  // Only reachable when maxBytes is below the header length itself; cut on a character boundary.
  return truncateUtf8(Buffer.from(`${header} -`, 'utf8'), opts.maxBytes);
}
