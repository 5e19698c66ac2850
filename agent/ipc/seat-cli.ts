import { userInfo } from 'node:os';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import { isAppError } from '../../shared/errors.js';
import { ipcCall } from './ipc-client.js';
import { IPC_MAX_DURATION_MS, IPC_MIN_DURATION_MS, type IpcDevice, type IpcRequest, type IpcResponse } from './ipc-protocol.js';

/**
 * The seat user's side of the local socket: `seatguard agent request-unlock` and
 * `seatguard agent unlock-code`. Returns exit codes (0 ok, 1 refused by the agent, 2 usage,
 * 3 agent unreachable); agent/main.ts maps them onto the process.
 */
export interface SeatCliIo {
  out(line: string): void;
  err(line: string): void;
}

export interface RequestUnlockOptions {
  socketPath: string;
  device?: string;
  list?: boolean;
  offline?: boolean;
  reason?: string;
  duration?: string;
  /** Default: the OS account this CLI runs as. */
  osUser?: string;
}

export const SEAT_EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "2h", "1d" (or a bare number of minutes) → ms; null when malformed. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d{1,6})\s*([smhd]?)\s*$/i.exec(text);
  if (!m) return null;
  const ms = Number(m[1]) * (UNITS[(m[2] || 'm').toLowerCase()] ?? 60_000);
  return ms > 0 ? ms : null;
}

/** The OS account name as a claim for the request (Node cannot read a unix socket peer's uid). */
export function currentOsUser(): string {
  try {
    return sanitizeText(userInfo().username, 64) || 'unknown';
  } catch {
    return 'unknown';
  }
}

function minutes(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.ceil(ms / 1000)} s`;
}

function describe(d: IpcDevice): string {
  const name = [d.manufacturer, d.product].filter((s) => s !== null).join(' ') || '(no name)';
  const grant = d.grant_id ? `  grant ${d.grant_id}, ${minutes(d.expires_in_ms ?? 0)} left` : '';
  return `${d.port.padEnd(10)} ${d.vendor_id}:${d.product_id}  ${d.storage.padEnd(8)} ${name}  serial ${d.serial ?? '-'}${grant}`;
}

async function call(socketPath: string, req: IpcRequest, io: SeatCliIo): Promise<IpcResponse | number> {
  try {
    const res = await ipcCall(socketPath, req);
    if (!res.ok) {
      io.err(`${res.code}: ${res.message}`);
      return SEAT_EXIT.refused;
    }
    return res;
  } catch (err) {
    io.err(isAppError(err) ? `${err.code}: ${err.message}` : String(err));
    return SEAT_EXIT.unavailable;
  }
}

/** `request-unlock --list | --device PORT --reason TEXT --duration D | --offline --device PORT`. */
export async function runRequestUnlock(opts: RequestUnlockOptions, io: SeatCliIo): Promise<number> {
  const osUser = opts.osUser ?? currentOsUser();
  if (opts.list) {
    const res = await call(opts.socketPath, { v: 1, op: 'list' }, io);
    if (typeof res === 'number') return res;
    if (res.ok && res.op === 'list') {
      if (res.devices.length === 0) io.out('No USB storage device is attached.');
      for (const d of res.devices) io.out(describe(d));
    }
    return SEAT_EXIT.ok;
  }
  if (!opts.device) {
    io.err('CLI_ERR_USAGE: --device PORT is required (see --list for the ports)');
    return SEAT_EXIT.usage;
  }
  if (opts.offline) {
    const res = await call(opts.socketPath, { v: 1, op: 'offline_challenge', port: opts.device, os_user: osUser }, io);
    if (typeof res === 'number') return res;
    if (res.ok && res.op === 'offline_challenge') {
      io.out(`Offline challenge: ${res.challenge}`);
      io.out(`Read it to the IT maintainer; the code they give back works once, on this seat, for this device, within ${minutes(res.expires_in_ms)}.`);
      io.out('Then run: seatguard agent unlock-code CODE');
    }
    return SEAT_EXIT.ok;
  }
  const reason = opts.reason?.trim() ?? '';
  if (reason.length < 2) {
    io.err('CLI_ERR_USAGE: --reason TEXT is required (the work reason for the unlock)');
    return SEAT_EXIT.usage;
  }
  const durationMs = parseDuration(opts.duration ?? '');
  if (durationMs === null || durationMs < IPC_MIN_DURATION_MS || durationMs > IPC_MAX_DURATION_MS) {
    io.err('CLI_ERR_USAGE: --duration must be like 30m, 2h or 90s (at most 7 days)');
    return SEAT_EXIT.usage;
  }
  const res = await call(opts.socketPath, { v: 1, op: 'request', port: opts.device, reason: reason.slice(0, 1024), duration_ms: durationMs, os_user: osUser }, io);
  if (typeof res === 'number') return res;
  if (res.ok && res.op === 'request') {
    io.out(`Unlock request sent: ${res.request_ref}`);
    io.out('It needs approval by your supervisor; the device unlocks by itself once a maintainer executes it.');
  }
  return SEAT_EXIT.ok;
}

/** `unlock-code CODE`: redeems an offline code for a pending challenge. */
export async function runUnlockCode(opts: { socketPath: string; code: string; osUser?: string }, io: SeatCliIo): Promise<number> {
  const code = opts.code.trim();
  if (!/^[A-Za-z0-9 -]{1,64}$/.test(code)) {
    io.err('CLI_ERR_USAGE: the code is letters, digits and dashes, as the maintainer read it out');
    return SEAT_EXIT.usage;
  }
  const res = await call(opts.socketPath, { v: 1, op: 'unlock_code', code, os_user: opts.osUser ?? currentOsUser() }, io);
  if (typeof res === 'number') return res;
  if (res.ok && res.op === 'unlock_code') io.out(`Unlocked the device on ${res.port} for ${res.minutes} min (grant ${res.grant_id}).`);
  return SEAT_EXIT.ok;
}

export interface RequestSoftwareOptions {
  socketPath: string;
  package?: string;
  /** Debian-style version range, e.g. ">= 7.4"; absent = any version. */
  version?: string;
  reason?: string;
  /** Default: the OS account this CLI runs as. */
  osUser?: string;
}

/** `request-software --package NAME [--version RANGE] --reason TEXT`: asks for approval to install a package. */
export async function runRequestSoftware(opts: RequestSoftwareOptions, io: SeatCliIo): Promise<number> {
  const pkg = opts.package?.trim() ?? '';
  if (pkg.length === 0 || pkg.length > 128) {
    io.err('CLI_ERR_USAGE: --package NAME is required (the exact package name, at most 128 characters)');
    return SEAT_EXIT.usage;
  }
  const reason = opts.reason?.trim() ?? '';
  if (reason.length < 2) {
    io.err('CLI_ERR_USAGE: --reason TEXT is required (the work reason for the install)');
    return SEAT_EXIT.usage;
  }
  const version = opts.version?.trim() ?? '';
  if (version.length > 128) {
    io.err('CLI_ERR_USAGE: --versions is at most 128 characters, e.g. ">= 7.4" or ">= 1.2, << 2"');
    return SEAT_EXIT.usage;
  }
  const res = await call(
    opts.socketPath,
    { v: 1, op: 'software_request', package: pkg, versions: version === '' ? null : version, reason: reason.slice(0, 1024), os_user: opts.osUser ?? currentOsUser() },
    io,
  );
  if (typeof res === 'number') return res;
  if (res.ok && res.op === 'software_request') {
    io.out(`Software request sent: ${sanitizeText(pkg, 128)} (${res.request_ref})`);
    io.out('It needs approval by someone other than you; once approved, the package is allowed on this seat.');
  }
  return SEAT_EXIT.ok;
}
