import os from 'node:os';
import { systemClock, type Clock } from '../../../shared/clock.js';
import type { Alert, Channel } from './types.js';
import { SyslogOptionsSchema, validateOptions, type SyslogOptions } from './config.js';
import { retryableError } from './delivery-errors.js';
import { DEFAULT_ENTERPRISE_ID, DEFAULT_FACILITY, DEFAULT_MAX_BYTES } from './rfc5424.js';
import { formatSyslogMessage, type SyslogFormatOptions } from './syslog-format.js';
import { createTcpTransport, createUdpTransport, type SyslogTransport } from './syslog-transport.js';

/** TCP has no datagram limit; 8 KiB keeps one alert per frame within what SIEM inputs accept by default. */
export const DEFAULT_TCP_MAX_BYTES = 8_192;

export interface SyslogChannelDeps {
  clock?: Clock;
  /** Used when options give no `procId` (default: the current pid). */
  pid?: number;
  /** Used when options give no `hostname` (default: os.hostname()). */
  hostname?: string;
}

/**
 * Syslog delivery: RFC 5424 (or CEF inside an RFC 5424 envelope) over UDP or octet-counted TCP.
 * Throws ALERT_ERR_CHANNEL_CONFIG on invalid options. UDP cannot detect a missing receiver.
 */
export function createSyslogChannel(options: SyslogOptions, deps: SyslogChannelDeps = {}): Channel {
  const opts = validateOptions(SyslogOptionsSchema, options, 'syslog');
  const clock = deps.clock ?? systemClock;
  const transportKind = opts.transport ?? 'udp';
  const port = opts.port ?? 514;
  const format: SyslogFormatOptions = Object.freeze({
    format: opts.format ?? 'rfc5424',
    facility: opts.facility ?? DEFAULT_FACILITY,
    hostname: opts.hostname ?? deps.hostname ?? os.hostname(),
    appName: opts.appName ?? 'seatguard',
    procId: opts.procId ?? String(deps.pid ?? process.pid),
    enterpriseId: opts.enterpriseId ?? DEFAULT_ENTERPRISE_ID,
    maxBytes: opts.maxMessageBytes ?? (transportKind === 'udp' ? DEFAULT_MAX_BYTES : DEFAULT_TCP_MAX_BYTES),
    cefVendor: 'Seatguard',
    cefProduct: 'seatguard',
    productVersion: opts.productVersion ?? 'unknown',
  });
  const transport: SyslogTransport =
    transportKind === 'udp'
      ? createUdpTransport(opts.host, port)
      : createTcpTransport({
          host: opts.host,
          port,
          connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
          writeTimeoutMs: opts.writeTimeoutMs ?? 10_000,
        });
  const name = opts.name;
  const target = `${transportKind}://${opts.host}:${port}`;

  return {
    name,
    kind: 'syslog',
    ...(opts.minSeverity === undefined ? {} : { minSeverity: opts.minSeverity }),
    async send(alert: Alert): Promise<void> {
      const message = formatSyslogMessage(alert, format, clock.now());
      try {
        await transport.send(message);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const reason = code ?? (err instanceof Error ? err.message : 'send failed');
        throw retryableError(name, `${target} ${reason}`, err);
      }
    },
    close: () => transport.close(),
  };
}
