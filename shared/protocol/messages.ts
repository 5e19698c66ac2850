import { Type, type Static } from 'typebox';
import { UsbDevice, InterfaceType } from '../domain/usb.js';
import { AgentId, Seq, Timestamp, controlMessage, eventMessage } from './envelope.js';
import { PROTOCOL_ERROR_CODES } from './codes.js';
import { UNLOCK_AGENT_EVENTS, UNLOCK_COLLECTOR_MESSAGES } from './unlock-messages.js';
import { SENSOR_EVENT_MESSAGES } from './sensor-messages.js';
import { SENSOR_CONFIG_AGENT_EVENTS, SENSOR_CONFIG_COLLECTOR_MESSAGES } from './sensor-config-messages.js';
import { OUTBOX_AGENT_EVENTS } from './outbox-messages.js';
import { SOFTWARE_REQUEST_AGENT_EVENTS } from './software-request-messages.js';
import { AGENT_STARTED_SELFPROTECT_FIELDS, AGENT_STOPPING_SELFPROTECT_FIELDS, SELFPROTECT_AGENT_EVENTS } from './selfprotect-messages.js';

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** Whether the seat's USB storage gate is known to be closed. `unknown` is a state, never a guess. */
export const LockState = Type.Union([Type.Literal('locked'), Type.Literal('degraded'), Type.Literal('unknown')]);
export type LockState = Static<typeof LockState>;

export const Platform = Type.Union([Type.Literal('linux'), Type.Literal('windows'), Type.Literal('fake')]);

const ShortText = (max = 512) => Type.String({ maxLength: max });

export const ControllerState = Type.Object(
  {
    name: Type.String({ maxLength: 16, pattern: '^usb[0-9]{1,3}$' }),
    /** interface_authorized_default read back from the kernel; null when unreadable. */
    interface_authorized_default: Type.Union([Type.Null(), Type.Integer({ minimum: -1, maximum: 2 })]),
  },
  { additionalProperties: false },
);

// ---------------------------------------------------------------------------------------------
// Agent → collector: control
// ---------------------------------------------------------------------------------------------

export const Hello = controlMessage(
  'hello',
  Type.Object(
    {
      agent_id: AgentId,
      agent_version: Type.String({ maxLength: 32 }),
      platform: Platform,
      hostname: Type.String({ maxLength: 253 }),
      /** Highest seq the agent has assigned so far (0 when none). */
      last_seq: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
);

export const Heartbeat = controlMessage(
  'heartbeat',
  Type.Object(
    {
      uptime_s: Type.Integer({ minimum: 0 }),
      outbox_depth: Type.Integer({ minimum: 0 }),
      lock_state: LockState,
    },
    { additionalProperties: false },
  ),
);

// ---------------------------------------------------------------------------------------------
// Agent → collector: events (each carries seq and is stored exactly once)
// ---------------------------------------------------------------------------------------------

export const AgentStarted = eventMessage(
  'agent.started',
  Type.Object(
    {
      agent_version: Type.String({ maxLength: 32 }),
      platform: Platform,
      lock_state: LockState,
      /** Why the lock state is what it is (e.g. "usb1: interface_authorized_default unreadable"). */
      detail: ShortText(),
      ...AGENT_STARTED_SELFPROTECT_FIELDS,
    },
    { additionalProperties: false },
  ),
);

export const AgentStopping = eventMessage(
  'agent.stopping',
  Type.Object({ reason: ShortText(256), ...AGENT_STOPPING_SELFPROTECT_FIELDS }, { additionalProperties: false }),
);

export const LockStateChanged = eventMessage(
  'lock.state',
  Type.Object(
    {
      state: LockState,
      controllers: Type.Array(ControllerState, { maxItems: 64 }),
      detail: ShortText(),
    },
    { additionalProperties: false },
  ),
);

export const UsbInserted = eventMessage(
  'usb.inserted',
  Type.Object(
    {
      device: UsbDevice,
      /** True when the device was already attached when the agent started (boot race). */
      present_at_start: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
);

export const UsbBlocked = eventMessage(
  'usb.blocked',
  Type.Object(
    {
      device: UsbDevice,
      /** Interfaces left unauthorized, as "cc:ss:pp". */
      blocked_interfaces: Type.Array(InterfaceType, { maxItems: 32 }),
      /** Interfaces authorized on the same device (e.g. the HID half of a composite stick). */
      allowed_interfaces: Type.Array(InterfaceType, { maxItems: 32 }),
      /** Why: the matching rule, or the fail-closed reason. */
      reason: ShortText(),
    },
    { additionalProperties: false },
  ),
);

export const UsbAllowed = eventMessage(
  'usb.allowed',
  Type.Object(
    {
      device: UsbDevice,
      allowed_interfaces: Type.Array(InterfaceType, { maxItems: 32 }),
      reason: ShortText(),
    },
    { additionalProperties: false },
  ),
);

export const UsbRemoved = eventMessage(
  'usb.removed',
  Type.Object({ device: UsbDevice }, { additionalProperties: false }),
);

// ---------------------------------------------------------------------------------------------
// Collector → agent
// ---------------------------------------------------------------------------------------------

export const Welcome = controlMessage(
  'welcome',
  Type.Object(
    {
      agent_id: AgentId,
      /** Highest seq the collector has committed for this agent: the agent may drop everything ≤ it. */
      last_seq: Type.Integer({ minimum: 0 }),
      heartbeat_interval_ms: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
      server_time: Timestamp,
    },
    { additionalProperties: false },
  ),
);

export const Ack = controlMessage(
  'ack',
  Type.Object(
    {
      /** Sequence numbers now committed (or already stored: duplicates are acknowledged too). */
      seqs: Type.Array(Seq, { minItems: 1, maxItems: 10_000 }),
    },
    { additionalProperties: false },
  ),
);

export const ProtocolErrorMessage = controlMessage(
  'error',
  Type.Object(
    {
      code: Type.Enum(PROTOCOL_ERROR_CODES),
      /** The id of the offending message, when it could be read. */
      ref_id: Type.Optional(Type.String({ maxLength: 64 })),
      detail: ShortText(1024),
    },
    { additionalProperties: false },
  ),
);

export const SlowDown = controlMessage(
  'slow_down',
  Type.Object({ retry_after_ms: Type.Integer({ minimum: 0, maximum: 600_000 }) }, { additionalProperties: false }),
);

// ---------------------------------------------------------------------------------------------
// Registries: the one place that says which types exist in which direction.
// ---------------------------------------------------------------------------------------------

export const AGENT_CONTROL_MESSAGES = { hello: Hello, heartbeat: Heartbeat } as const;

export const AGENT_EVENT_MESSAGES = {
  'agent.started': AgentStarted,
  'agent.stopping': AgentStopping,
  'lock.state': LockStateChanged,
  'usb.inserted': UsbInserted,
  'usb.blocked': UsbBlocked,
  'usb.allowed': UsbAllowed,
  'usb.removed': UsbRemoved,
  ...UNLOCK_AGENT_EVENTS,
  ...SENSOR_EVENT_MESSAGES,
  ...SENSOR_CONFIG_AGENT_EVENTS,
  ...OUTBOX_AGENT_EVENTS,
  ...SOFTWARE_REQUEST_AGENT_EVENTS,
  ...SELFPROTECT_AGENT_EVENTS,
} as const;

export const AGENT_MESSAGES = { ...AGENT_CONTROL_MESSAGES, ...AGENT_EVENT_MESSAGES } as const;

export const COLLECTOR_MESSAGES = {
  welcome: Welcome,
  ack: Ack,
  error: ProtocolErrorMessage,
  slow_down: SlowDown,
  ...UNLOCK_COLLECTOR_MESSAGES,
  ...SENSOR_CONFIG_COLLECTOR_MESSAGES,
} as const;

export type AgentMessageType = keyof typeof AGENT_MESSAGES;
export type AgentEventType = keyof typeof AGENT_EVENT_MESSAGES;
export type CollectorMessageType = keyof typeof COLLECTOR_MESSAGES;

export type AgentMessage = { [K in AgentMessageType]: Static<(typeof AGENT_MESSAGES)[K]> }[AgentMessageType];
export type AgentEvent = { [K in AgentEventType]: Static<(typeof AGENT_EVENT_MESSAGES)[K]> }[AgentEventType];
export type CollectorMessage = { [K in CollectorMessageType]: Static<(typeof COLLECTOR_MESSAGES)[K]> }[CollectorMessageType];

export type MessageOf<T extends AgentMessageType | CollectorMessageType> = T extends AgentMessageType
  ? Static<(typeof AGENT_MESSAGES)[T]>
  : T extends CollectorMessageType
    ? Static<(typeof COLLECTOR_MESSAGES)[T]>
    : never;

/** Body type of an agent event, for producers. */
export type EventBody<T extends AgentEventType> = Static<(typeof AGENT_EVENT_MESSAGES)[T]>['body'];

export function isAgentEventType(t: string): t is AgentEventType {
  return Object.hasOwn(AGENT_EVENT_MESSAGES, t);
}
