import type { Alert } from './types.js';
import { formatCef, type CefOptions } from './cef.js';
import { alertHeader, formatRfc5424, type Rfc5424Options } from './rfc5424.js';
import { truncateUtf8, utf8Bytes } from './text.js';

/** Message body format of the syslog channel. */
export type SyslogFormat = 'rfc5424' | 'cef';

export interface SyslogFormatOptions extends Rfc5424Options {
  format: SyslogFormat;
  cefVendor: string;
  cefProduct: string;
  productVersion: string;
}

/**
 * The bytes of one syslog message (without transport framing), at most `maxBytes`.
 * CEF travels as the MSG of an RFC 5424 message with NILVALUE structured data and no BOM
 * (MSG-ANY), because SIEM CEF parsers expect the line to start with `CEF:`.
 */
export function formatSyslogMessage(alert: Alert, opts: SyslogFormatOptions, nowMs: number): Buffer {
  if (opts.format === 'rfc5424') return formatRfc5424(alert, opts, nowMs);
  const prefix = `${alertHeader(alert, opts, nowMs)} - `;
  const cefOpts: CefOptions = {
    vendor: opts.cefVendor,
    product: opts.cefProduct,
    productVersion: opts.productVersion,
    hostname: opts.hostname,
  };
  const cef = formatCef(alert, cefOpts, opts.maxBytes - utf8Bytes(prefix));
  if (cef !== null) return Buffer.from(prefix + cef, 'utf8');
  // Last resort for a budget smaller than the smallest CEF line: cut, and never end on a lone
  // escape backslash that would swallow nothing.
  const cut = truncateUtf8(Buffer.from(prefix + (formatCef(alert, cefOpts) ?? ''), 'utf8'), opts.maxBytes).toString('utf8');
  const trailing = /\\+$/.exec(cut)?.[0].length ?? 0;
  return Buffer.from(trailing % 2 === 1 ? cut.slice(0, -1) : cut, 'utf8');
}
