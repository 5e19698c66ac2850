import { Type } from 'typebox';
import { DeviceString } from '../domain/usb.js';
import { eventMessage } from './envelope.js';
import { GrantId } from './unlock-messages.js';

/**
 * Software install requests raised at the seat (`seatguard agent request-software`). The collector
 * turns each into a software request case (docs/software-requests.md); the approval reaches the seat
 * as an allow rule in its next `sensor.config`, so there is no collector → agent message of its own.
 */

// Seat text is hostile: no control, bidi or zero-width characters (as in sensor-messages.ts).
const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\u200b-\\u200f\\ufeff]*$';

export const SoftwareRequested = eventMessage(
  'software.requested',
  Type.Object(
    {
      /** Agent-chosen id so the case is created once even if the event is delivered twice. */
      request_ref: GrantId,
      /** Exact package name (dpkg/rpm name, Windows DisplayName); no globs. */
      package: Type.String({ minLength: 1, maxLength: 128, pattern: NO_CONTROL }),
      /** Debian-style version range, e.g. ">= 1.2, << 2"; null = any version. */
      versions: Type.Union([Type.Null(), Type.String({ minLength: 1, maxLength: 128, pattern: NO_CONTROL })]),
      reason: Type.String({ minLength: 1, maxLength: 1024 }),
      /** OS account that asked at the seat (a claim of the seat CLI, sanitized). */
      os_user: DeviceString,
    },
    { additionalProperties: false },
  ),
);

export const SOFTWARE_REQUEST_AGENT_EVENTS = {
  'software.requested': SoftwareRequested,
} as const;
