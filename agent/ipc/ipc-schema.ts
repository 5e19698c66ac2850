import { Type } from 'typebox';
import { DeviceString, PortPath } from '../../shared/domain/usb.js';
import { IPC_MAX_DURATION_MS, IPC_MIN_DURATION_MS, IPC_VERSION } from './ipc-limits.js';

/**
 * Schemas of the local request protocol (ipc-protocol.ts). Only scripts/gen-validators.ts and tests
 * load this module; the agent and the seat CLI check with the validators generated from it.
 */

const OsUser = Type.String({ minLength: 1, maxLength: 64 });

/** Ask for a software install (sent to the collector as software.requested; docs/software-requests.md). */
export const IpcSoftwareRequest = Type.Object(
  {
    v: Type.Literal(IPC_VERSION),
    op: Type.Literal('software_request'),
    package: Type.String({ minLength: 1, maxLength: 128 }),
    versions: Type.Union([Type.Null(), Type.String({ minLength: 1, maxLength: 128 })]),
    reason: Type.String({ minLength: 1, maxLength: 1024 }),
    os_user: OsUser,
  },
  { additionalProperties: false },
);

export const IpcRequest = Type.Union([
  IpcSoftwareRequest,
  Type.Object({ v: Type.Literal(IPC_VERSION), op: Type.Literal('list') }, { additionalProperties: false }),
  Type.Object(
    {
      v: Type.Literal(IPC_VERSION),
      op: Type.Literal('request'),
      port: PortPath,
      reason: Type.String({ minLength: 1, maxLength: 1024 }),
      duration_ms: Type.Integer({ minimum: IPC_MIN_DURATION_MS, maximum: IPC_MAX_DURATION_MS }),
      /** The OS account the CLI runs as: a claim by the client, not verified by the agent. */
      os_user: OsUser,
    },
    { additionalProperties: false },
  ),
  Type.Object({ v: Type.Literal(IPC_VERSION), op: Type.Literal('offline_challenge'), port: PortPath, os_user: OsUser }, { additionalProperties: false }),
  Type.Object(
    { v: Type.Literal(IPC_VERSION), op: Type.Literal('unlock_code'), code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9 -]+$' }), os_user: OsUser },
    { additionalProperties: false },
  ),
  // Self-protection (agent/selfprotect): stop, uninstall or upgrade with a collector-issued maintenance code.
  Type.Object(
    {
      v: Type.Literal(IPC_VERSION),
      op: Type.Literal('maintenance'),
      purpose: Type.Union([Type.Literal('stop'), Type.Literal('uninstall'), Type.Literal('upgrade')]),
      code: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9 -]+$' }),
      os_user: OsUser,
    },
    { additionalProperties: false },
  ),
]);

export const IpcDevice = Type.Object(
  {
    port: PortPath,
    vendor_id: Type.String({ pattern: '^[0-9a-f]{4}$' }),
    product_id: Type.String({ pattern: '^[0-9a-f]{4}$' }),
    serial: DeviceString,
    manufacturer: DeviceString,
    product: DeviceString,
    /** blocked: no storage interface authorized; unlocked: a grant holds it open; open: authorized otherwise. */
    storage: Type.Union([Type.Literal('blocked'), Type.Literal('unlocked'), Type.Literal('open')]),
    grant_id: Type.Union([Type.Null(), Type.String({ maxLength: 64 })]),
    expires_in_ms: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
  },
  { additionalProperties: false },
);

const ErrorCode = Type.String({ pattern: '^[A-Z][A-Z0-9]*_ERR_[A-Z0-9_]+$', maxLength: 64 });

export const IpcSoftwareResponse = Type.Object(
  { ok: Type.Literal(true), op: Type.Literal('software_request'), request_ref: Type.String({ maxLength: 64 }) },
  { additionalProperties: false },
);

export const IpcResponse = Type.Union([
  IpcSoftwareResponse,
  Type.Object({ ok: Type.Literal(true), op: Type.Literal('list'), devices: Type.Array(IpcDevice, { maxItems: 64 }) }, { additionalProperties: false }),
  Type.Object({ ok: Type.Literal(true), op: Type.Literal('request'), request_ref: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
  Type.Object(
    { ok: Type.Literal(true), op: Type.Literal('offline_challenge'), challenge: Type.String({ maxLength: 32 }), expires_in_ms: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { ok: Type.Literal(true), op: Type.Literal('unlock_code'), grant_id: Type.String({ maxLength: 64 }), minutes: Type.Integer({ minimum: 1 }), port: PortPath },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      ok: Type.Literal(true),
      op: Type.Literal('maintenance'),
      purpose: Type.Union([Type.Literal('stop'), Type.Literal('uninstall'), Type.Literal('upgrade')]),
      code_id: Type.String({ pattern: '^mc_[0-9a-f]{16}$' }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ ok: Type.Literal(false), code: ErrorCode, message: Type.String({ maxLength: 512 }) }, { additionalProperties: false }),
]);
