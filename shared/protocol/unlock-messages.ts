import { Type } from 'typebox';
import { Hex4, InterfaceType, PortPath, UsbDevice, DeviceString } from '../domain/usb.js';
import { Timestamp, controlMessage, eventMessage } from './envelope.js';

/** Grant, request and policy ids are opaque collector-chosen strings. */
export const GrantId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });

/** Which device a grant unlocks. Serial and hash must match exactly; port unless any_port. */
export const GrantDevice = Type.Object(
  {
    vendor_id: Hex4,
    product_id: Hex4,
    serial: DeviceString,
    hash: Type.Union([Type.Null(), Type.String({ pattern: '^[A-Za-z0-9+/]{43}=$' })]),
    port: Type.Union([Type.Null(), PortPath]),
  },
  { additionalProperties: false },
);

export const GrantSpec = Type.Object(
  {
    grant_id: GrantId,
    request_id: GrantId,
    device: GrantDevice,
    /** Match the device on any port (default: only the port it was requested on). */
    any_port: Type.Boolean(),
    /** Keep the grant after the device is removed, so it may be re-inserted before expiry. */
    allow_reinsert: Type.Boolean(),
    /** Collector times. The agent measures the remaining duration on its monotonic clock. */
    issued_at: Timestamp,
    expires_at: Timestamp,
    duration_ms: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3_600_000 }),
    warn_before_ms: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
    executor: Type.String({ minLength: 1, maxLength: 64 }),
  },
  { additionalProperties: false },
);

const EndReason = Type.Enum(['expired', 'removed', 'revoked', 'expired_offline', 'agent_restart_after_expiry']);

// Collector → agent ---------------------------------------------------------------------------

export const UnlockGranted = controlMessage('unlock.granted', GrantSpec);

export const UnlockRevoked = controlMessage(
  'unlock.revoked',
  Type.Object({ grant_id: GrantId, reason: Type.String({ maxLength: 512 }) }, { additionalProperties: false }),
);

/** Sent after welcome: the grants the collector considers active for this seat. Others are dropped. */
export const GrantsSync = controlMessage(
  'grants.sync',
  Type.Object({ grants: Type.Array(GrantSpec, { maxItems: 256 }) }, { additionalProperties: false }),
);

export const PolicyUpdated = controlMessage(
  'policy.updated',
  Type.Object(
    {
      version: Type.Integer({ minimum: 1 }),
      /** Rules in the USBGuard language (with seatguard extensions), one per line. */
      rules: Type.String({ maxLength: 128 * 1024 }),
      sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    },
    { additionalProperties: false },
  ),
);

// Agent → collector events ----------------------------------------------------------------------

export const UnlockRequested = eventMessage(
  'unlock.requested',
  Type.Object(
    {
      /** Agent-chosen id so the request is created once even if the event is delivered twice. */
      request_ref: GrantId,
      device: UsbDevice,
      reason: Type.String({ minLength: 1, maxLength: 1024 }),
      duration_ms: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3_600_000 }),
      /** OS account that asked at the seat (sanitized). */
      os_user: DeviceString,
    },
    { additionalProperties: false },
  ),
);

export const GrantAccepted = eventMessage(
  'grant.accepted',
  Type.Object(
    { grant_id: GrantId, expires_in_ms: Type.Integer({ minimum: 0 }), device_present: Type.Boolean() },
    { additionalProperties: false },
  ),
);

export const GrantApplied = eventMessage(
  'grant.applied',
  Type.Object(
    { grant_id: GrantId, device: UsbDevice, authorized_interfaces: Type.Array(InterfaceType, { maxItems: 32 }) },
    { additionalProperties: false },
  ),
);

export const GrantWarning = eventMessage(
  'grant.warning',
  Type.Object({ grant_id: GrantId, expires_in_ms: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
);

export const GrantEnded = eventMessage(
  'grant.ended',
  Type.Object(
    {
      grant_id: GrantId,
      reason: EndReason,
      relocked_interfaces: Type.Array(InterfaceType, { maxItems: 32 }),
    },
    { additionalProperties: false },
  ),
);

export const OfflineUnlockUsed = eventMessage(
  'offline.unlock_used',
  Type.Object(
    {
      grant_id: GrantId,
      challenge: Type.String({ maxLength: 32 }),
      minutes: Type.Integer({ minimum: 1, maximum: 0xffff }),
      device: UsbDevice,
    },
    { additionalProperties: false },
  ),
);

export const PolicyApplied = eventMessage(
  'policy.applied',
  Type.Object(
    {
      version: Type.Integer({ minimum: 0 }),
      sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      ok: Type.Boolean(),
      detail: Type.String({ maxLength: 1024 }),
    },
    { additionalProperties: false },
  ),
);

export const UNLOCK_COLLECTOR_MESSAGES = {
  'unlock.granted': UnlockGranted,
  'unlock.revoked': UnlockRevoked,
  'grants.sync': GrantsSync,
  'policy.updated': PolicyUpdated,
} as const;

export const UNLOCK_AGENT_EVENTS = {
  'unlock.requested': UnlockRequested,
  'grant.accepted': GrantAccepted,
  'grant.applied': GrantApplied,
  'grant.warning': GrantWarning,
  'grant.ended': GrantEnded,
  'offline.unlock_used': OfflineUnlockUsed,
  'policy.applied': PolicyApplied,
} as const;
