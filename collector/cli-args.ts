import { AppError, formatError } from '../shared/errors.js';

const usage = (what: string) => new AppError('CLI_ERR_USAGE', formatError('CLI_ERR_USAGE', what));

/** Parses `HOST:PORT` (IPv6 as `[::1]:PORT`); throws CLI_ERR_USAGE. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  const host = m ? (m[1] ?? m[2]) : undefined;
  if (!host || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw usage(`--listen must be HOST:PORT (got ${JSON.stringify(value.slice(0, 80))})`);
  }
  return { host, port };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration like `90s`, `30m`, `24h`, `7d` (or `500ms`) into milliseconds; throws CLI_ERR_USAGE. */
export function parseDuration(value: string): number {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(value.trim());
  const unit = m?.[2] ? UNIT_MS[m[2]] : undefined;
  if (!m || unit === undefined || Number(m[1]) === 0) {
    throw usage(`duration must look like 90s, 30m, 24h or 7d (got ${JSON.stringify(value.slice(0, 40))})`);
  }
  return Number(m[1]) * unit;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** Validates a `--log-level` value; throws CLI_ERR_USAGE. */
export function parseLogLevel(value: string): LogLevelName {
  const found = LOG_LEVELS.find((l) => l === value);
  if (!found) throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return found;
}
