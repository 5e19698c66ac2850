import type { Alert, AlertSeverity } from './types.js';
import { capChars, fitText, oneLine } from './text.js';

/**
 * ArcSight Common Event Format, version 0:
 * `CEF:0|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
 * Escaping (CEF implementation standard): in header fields `\` → `\\` and `|` → `\|`, and line
 * breaks are not allowed; in extension values `\` → `\\`, `=` → `\=`, CR → `\r`, LF → `\n`.
 */

/** Alert severity → CEF severity 0–10. */
export const CEF_SEVERITY: Readonly<Record<AlertSeverity, number>> = Object.freeze({
  low: 3,
  medium: 5,
  high: 8,
  critical: 10,
});

// Field caps from the ArcSight CEF key dictionary, so SIEM parsers do not truncate arbitrarily.
// Values are held to 256 code points so that a hostile serial or hostname cannot crowd out the rest.
const CAP = { vendor: 63, product: 63, version: 31, signatureId: 100, name: 512, shortName: 128, value: 256, msg: 1023 } as const;
const MINIMAL_KEYS = new Set(['rt', 'cnt', 'externalId', 'cat', 'dvchost', 'cs3Label', 'cs3']);

/** Header field escaping; line breaks and other controls are flattened first (not allowed in the header). */
export function escapeCefHeader(s: string): string {
  return oneLine(s).replace(/[\\|]/g, '\\$&');
}

/**
 * Extension value escaping: `\`, `=`, CR and LF are escaped; other controls become U+FFFD.
 * A `|` needs no escape in the extension.
 */
export function escapeCefValue(s: string): string {
  const escaped = s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r\n|\r|\n/g, (m) => (m === '\r\n' ? '\\r\\n' : m === '\r' ? '\\r' : '\\n'));
  return oneLine(escaped);
}

export interface CefOptions {
  vendor: string;
  product: string;
  productVersion: string;
  /** The collector's host name (`dvchost`). */
  hostname: string;
}

function epochMs(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** Extension pairs before `msg`, in a stable order; missing values are left out. */
function extensionPairs(alert: Alert, opts: CefOptions): Array<[string, string]> {
  const pairs: Array<[string, string | number | null | undefined]> = [
    ['rt', epochMs(alert.last_seen)],
    ['start', epochMs(alert.first_seen)],
    ['end', epochMs(alert.last_seen)],
    ['cnt', alert.count],
    ['externalId', alert.id],
    ['cat', alert.rule],
    ['dvchost', opts.hostname],
    ['shost', alert.seat?.hostname],
    ['cs1Label', alert.seat ? 'agentId' : null],
    ['cs1', alert.seat?.agent_id],
    ['cs2Label', alert.seat?.seat_name != null ? 'seatName' : null],
    ['cs2', alert.seat?.seat_name],
    ['cs3Label', 'alertState'],
    ['cs3', alert.state],
    ['cs4Label', alert.device ? 'usbVidPid' : null],
    ['cs4', alert.device ? `${alert.device.vendor_id}:${alert.device.product_id}` : null],
    ['cs5Label', alert.device?.serial != null ? 'usbSerial' : null],
    ['cs5', alert.device?.serial],
    ['cs6Label', alert.device?.product != null ? 'usbProduct' : null],
    ['cs6', alert.device?.product],
    ['request', alert.url],
  ];
  const out: Array<[string, string]> = [];
  for (const [k, v] of pairs) if (v !== null && v !== undefined) out.push([k, String(v)]);
  return out;
}

/**
 * One CEF line of at most `maxBytes` UTF-8 bytes, or null if even the smallest form does not fit.
 * `msg` (the alert detail) comes last and is cut before escaping, so no escape is ever split.
 */
export function formatCef(alert: Alert, opts: CefOptions, maxBytes = Number.POSITIVE_INFINITY): string | null {
  const pairs = extensionPairs(alert, opts);
  const detail = capChars(alert.detail, CAP.msg);
  // From the richest form to the smallest: full extension, then only the identifying keys with a
  // shorter name. The first that fits wins.
  const variants: Array<{ nameCap: number; keep: (k: string) => boolean }> = [
    { nameCap: CAP.name, keep: () => true },
    { nameCap: CAP.shortName, keep: (k) => MINIMAL_KEYS.has(k) },
    { nameCap: 32, keep: (k) => MINIMAL_KEYS.has(k) },
  ];
  for (const v of variants) {
    const header = [
      'CEF:0',
      escapeCefHeader(capChars(opts.vendor, CAP.vendor)),
      escapeCefHeader(capChars(opts.product, CAP.product)),
      escapeCefHeader(capChars(opts.productVersion, CAP.version)),
      escapeCefHeader(capChars(alert.rule, CAP.signatureId)),
      escapeCefHeader(capChars(alert.title, v.nameCap)),
      String(CEF_SEVERITY[alert.severity]),
    ].join('|');
    const ext = pairs
      .filter(([k]) => v.keep(k))
      .map(([k, val]) => `${k}=${escapeCefValue(capChars(val, CAP.value))}`)
      .join(' ');
    const line = fitText(detail, maxBytes, (t) => `${header}|${ext}${t.length > 0 ? ` msg=${escapeCefValue(t)}` : ''}`);
    if (line !== null) return line;
  }
  return null;
}
