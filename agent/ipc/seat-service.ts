import { randomBytes } from 'node:crypto';
import { CHALLENGE_TTL_MS } from '../../shared/domain/offline-code.js';
import { sanitizeOptional, sanitizeText } from '../../shared/domain/sanitize.js';
import { AppError, formatError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { isStorage } from '../enforcement/plan.js';
import type { EmitFn } from '../enforcement/usb-lock.js';
import type { GrantManager } from '../grants/grant-manager.js';
import type { OfflineUnlock } from '../grants/offline-unlock.js';
import type { UsbDeviceState, UsbPlatform } from '../platform/platform.js';
import type { IpcDevice, IpcRequest, IpcResponse } from './ipc-protocol.js';

/**
 * What the seat may ask the agent over the local socket: list its USB storage devices, request an
 * unlock (sent to the collector as unlock.requested), get an offline challenge, redeem an offline
 * code. Only a device whose storage is blocked right now can be the subject of a request.
 */
export interface SeatServiceDeps {
  platform: Pick<UsbPlatform, 'listDevices' | 'readDevice'>;
  grants: GrantManager;
  offline: OfflineUnlock;
  emit: EmitFn;
  log: Logger;
  /** Unique ids for requests and offline grants. Default: random hex. */
  newId?: (prefix: 'rq' | 'off') => string;
}

const MAX_LISTED = 64;

function fail(code: ErrorCode, message: string): IpcResponse {
  return { ok: false, code, message: message.slice(0, 512) };
}

type StorageState = 'none' | 'blocked' | 'open';

function storageState(d: UsbDeviceState): StorageState {
  const storage = d.interfaces.filter((i) => isStorage(i));
  if (storage.length === 0) return 'none';
  // An unreadable `authorized` (null) is kept closed by enforcement, so it counts as blocked.
  return storage.some((i) => i.authorized === true) ? 'open' : 'blocked';
}

/** Builds the request handler the IPC server calls. */
export function createSeatService(deps: SeatServiceDeps): (req: IpcRequest) => Promise<IpcResponse> {
  const log = deps.log.child({ component: 'seat-requests' });
  const newId = deps.newId ?? ((prefix) => `${prefix}_${randomBytes(12).toString('hex')}`);

  /** The device at `port` if its storage is blocked and it could be read; else an error response. */
  async function blockedDevice(port: string): Promise<UsbDeviceState | IpcResponse> {
    let d: UsbDeviceState | null;
    try {
      d = await deps.platform.readDevice(port);
    } catch (err) {
      log.warn({ err, port }, 'could not read the device named in a local request');
      d = null;
    }
    if (!d) return fail('IPC_ERR_DEVICE', formatError('IPC_ERR_DEVICE', port, 'no device on this port'));
    if (!d.descriptorsReadable || d.info.hash === null) {
      return fail('IPC_ERR_DEVICE', formatError('IPC_ERR_DEVICE', port, 'the device could not be identified'));
    }
    const state = storageState(d);
    if (state === 'none') return fail('IPC_ERR_DEVICE', formatError('IPC_ERR_DEVICE', port, 'the device has no storage interface'));
    if (state === 'open') return fail('IPC_ERR_DEVICE', formatError('IPC_ERR_DEVICE', port, 'its storage is not blocked'));
    return d;
  }

  async function list(): Promise<IpcResponse> {
    const ports = (await deps.platform.listDevices()).slice(0, 256);
    const grants = deps.grants.list();
    const devices: IpcDevice[] = [];
    for (const port of ports) {
      if (devices.length >= MAX_LISTED) break;
      const d = await deps.platform.readDevice(port).catch(() => null);
      if (!d) continue;
      const state = storageState(d);
      if (state === 'none') continue;
      const g = grants.find((v) => v.boundPort === port);
      devices.push({
        port: d.port,
        vendor_id: d.info.vendor_id,
        product_id: d.info.product_id,
        serial: d.info.serial,
        manufacturer: d.info.manufacturer,
        product: d.info.product,
        storage: state === 'blocked' ? 'blocked' : g ? 'unlocked' : 'open',
        grant_id: g ? g.grant.grantId : null,
        expires_in_ms: g ? g.remainingMs : null,
      });
    }
    return { ok: true, op: 'list', devices };
  }

  async function request(req: Extract<IpcRequest, { op: 'request' }>): Promise<IpcResponse> {
    const reason = sanitizeText(req.reason, 1024);
    if ([...reason].length < 2) return fail('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', 'a work reason is required'));
    const d = await blockedDevice(req.port);
    if ('ok' in d) return d;
    const ref = newId('rq');
    // The OS user is what the client claims (a unix socket peer's uid is not available to Node).
    const osUser = sanitizeOptional(req.os_user, 64);
    deps.emit('unlock.requested', { request_ref: ref, device: d.info, reason, duration_ms: req.duration_ms, os_user: osUser });
    log.info({ request_ref: ref, port: d.port, duration_ms: req.duration_ms }, 'unlock requested at the seat');
    return { ok: true, op: 'request', request_ref: ref };
  }

  async function softwareRequest(req: Extract<IpcRequest, { op: 'software_request' }>): Promise<IpcResponse> {
    const reason = sanitizeText(req.reason, 1024);
    if ([...reason].length < 2) return fail('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', 'a work reason is required'));
    // The collector checks the name too (exact, no globs); refusing here gives the seat user the answer at once.
    const pkg = sanitizeText(req.package, 128);
    if (pkg.length === 0 || pkg !== req.package || /[*?[\]{}\\]/.test(pkg)) {
      return fail('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', 'give the exact package name (no * ? [ ] { } or control characters)'));
    }
    const versions = req.versions === null ? null : sanitizeText(req.versions, 128) || null;
    const ref = newId('rq');
    deps.emit('software.requested', { request_ref: ref, package: pkg, versions, reason, os_user: sanitizeOptional(req.os_user, 64) });
    log.info({ request_ref: ref, package: pkg }, 'software install requested at the seat');
    return { ok: true, op: 'software_request', request_ref: ref };
  }

  async function challenge(req: Extract<IpcRequest, { op: 'offline_challenge' }>): Promise<IpcResponse> {
    const d = await blockedDevice(req.port);
    if ('ok' in d) return d;
    const text = deps.offline.challenge(d.info);
    log.info({ port: d.port, pending: deps.offline.pendingCount() }, 'offline challenge issued');
    return { ok: true, op: 'offline_challenge', challenge: text, expires_in_ms: CHALLENGE_TTL_MS };
  }

  async function redeem(req: Extract<IpcRequest, { op: 'unlock_code' }>): Promise<IpcResponse> {
    const r = deps.offline.redeem(req.code);
    if (!r.ok) {
      log.warn({ code: r.code }, 'offline unlock code refused');
      if (r.code === 'OFFLINE_ERR_NO_SECRET') return fail(r.code, formatError(r.code, 'not enrolled, or the collector sent no offline secret'));
      return fail(r.code, formatError(r.code));
    }
    const grantId = newId('off');
    const device = r.device;
    try {
      deps.emit('offline.unlock_used', { grant_id: grantId, challenge: r.challenge, minutes: r.minutes, device });
    } catch (err) {
      // No audit record, no unlock: the code is spent either way (it was single use).
      throw new AppError('IPC_ERR_INTERNAL', formatError('IPC_ERR_INTERNAL'), { cause: err });
    }
    await deps.grants.addLocal({
      grantId,
      device: { vendor_id: device.vendor_id, product_id: device.product_id, serial: device.serial, hash: device.hash, port: device.port },
      durationMs: r.minutes * 60_000,
      executor: `offline:${sanitizeText(req.os_user, 40)}`,
    });
    return { ok: true, op: 'unlock_code', grant_id: grantId, minutes: r.minutes, port: device.port };
  }

  return async (req) => {
    switch (req.op) {
      case 'list':
        return list();
      case 'request':
        return request(req);
      case 'offline_challenge':
        return challenge(req);
      case 'unlock_code':
        return redeem(req);
      case 'software_request':
        return softwareRequest(req);
      default:
        // Other operations (maintenance) are answered by their own handlers before this one.
        return fail('IPC_ERR_BAD_REQUEST', formatError('IPC_ERR_BAD_REQUEST', `operation ${req.op} is not handled here`));
    }
  };
}
