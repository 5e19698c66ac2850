import { Type, type Static } from 'typebox';
import { SoftwareCategory, SoftwarePolicyMode } from '../domain/software-policy.js';
import { eventMessage } from './envelope.js';

/**
 * Agent → collector events of the compliance sensors (firmware, software, processes, network).
 * The lead registers SENSOR_EVENT_MESSAGES in AGENT_EVENT_MESSAGES (messages.ts). Every string here
 * came from the seat (package databases, /proc, firmware) and is hostile: the agent sanitizes it and
 * the patterns below refuse control and invisible characters at the collector as well.
 */

const NO_CONTROL = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\u200b-\\u200f\\ufeff]*$';

/** Sanitized seat text of at most `max` code points (maxLength counts UTF-16 units, hence ×2). */
const SafeText = (max: number) => Type.String({ maxLength: max * 2, pattern: NO_CONTROL });
const NullableText = (max: number) => Type.Union([Type.Null(), SafeText(max)]);

export const PasswordStateSchema = Type.Union([
  Type.Literal('set'),
  Type.Literal('not_set'),
  Type.Literal('not_implemented'),
  Type.Literal('unknown'),
]);

export const PasswordFieldSchema = Type.Union([
  Type.Literal('admin_password'),
  Type.Literal('power_on_password'),
  Type.Literal('keyboard_password'),
  Type.Literal('front_panel_reset'),
]);
export type PasswordFieldName = Static<typeof PasswordFieldSchema>;

/** The resolved value of one field and the source that decided it ("none" when no source spoke). */
const ResolvedField = Type.Object(
  { state: PasswordStateSchema, source: SafeText(96) },
  { additionalProperties: false },
);

const FirmwareSource = Type.Object(
  {
    name: SafeText(96),
    authority: Type.Union([Type.Literal('vendor'), Type.Literal('smbios')]),
    available: Type.Boolean(),
    detail: SafeText(512),
  },
  { additionalProperties: false },
);

/** Two sources said different things about one field; the more authoritative one won. */
const Disagreement = Type.Object(
  {
    field: PasswordFieldSchema,
    chosen_source: SafeText(96),
    chosen_state: PasswordStateSchema,
    other_source: SafeText(96),
    other_state: PasswordStateSchema,
  },
  { additionalProperties: false },
);

export const BiosSchema = Type.Object(
  { vendor: NullableText(128), version: NullableText(128), date: NullableText(64) },
  { additionalProperties: false },
);

export const FirmwareStateEvent = eventMessage(
  'firmware.state',
  Type.Object(
    {
      /** initial: first reading since start; changed: a field, a source or the BIOS identity changed. */
      reason: Type.Union([Type.Literal('initial'), Type.Literal('changed')]),
      admin_password: ResolvedField,
      power_on_password: ResolvedField,
      keyboard_password: ResolvedField,
      front_panel_reset: ResolvedField,
      sources: Type.Array(FirmwareSource, { maxItems: 16 }),
      disagreements: Type.Array(Disagreement, { maxItems: 32 }),
      bios: BiosSchema,
    },
    { additionalProperties: false },
  ),
);

export const FirmwarePasswordRemovedEvent = eventMessage(
  'firmware.password_removed',
  Type.Object(
    {
      field: PasswordFieldSchema,
      /** Always 'set': this event is the set → not_set transition. */
      previous: PasswordStateSchema,
      current: PasswordStateSchema,
      source: SafeText(96),
    },
    { additionalProperties: false },
  ),
);

export const FirmwareBiosChangedEvent = eventMessage(
  'firmware.bios_changed',
  Type.Object(
    {
      previous: BiosSchema,
      current: BiosSchema,
      /** Why it matters: a reflash or a reset to defaults can clear the passwords. */
      detail: SafeText(256),
    },
    { additionalProperties: false },
  ),
);

export const PackageSourceSchema = Type.Union([
  Type.Literal('dpkg'),
  Type.Literal('rpm'),
  Type.Literal('windows'),
  Type.Literal('fake'),
]);

const PackageRef = Type.Object(
  {
    name: SafeText(128),
    version: NullableText(128),
    arch: NullableText(32),
    source: PackageSourceSchema,
    /** Set on upgrades and downgrades. */
    previous_version: Type.Optional(NullableText(128)),
  },
  { additionalProperties: false },
);
export type PackageRef = Static<typeof PackageRef>;

const Verdict = {
  rule_id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' }),
  category: Type.Union([Type.Null(), SoftwareCategory]),
  reason: SafeText(256),
  mode: SoftwarePolicyMode,
};

export const SoftwareInventoryEvent = eventMessage(
  'software.inventory',
  Type.Object(
    {
      /** First complete inventory since start when no earlier baseline was stored. */
      sources: Type.Array(PackageSourceSchema, { maxItems: 4 }),
      installed: Type.Integer({ minimum: 0 }),
      denied: Type.Integer({ minimum: 0 }),
    },
    { additionalProperties: false },
  ),
);

export const SoftwareInstalledEvent = eventMessage(
  'software.installed',
  Type.Object(
    {
      /** Newly installed packages, and version changes (with previous_version). Split across events to stay under the frame limit. */
      packages: Type.Array(PackageRef, { minItems: 1, maxItems: 500 }),
    },
    { additionalProperties: false },
  ),
);

export const SoftwareRemovedEvent = eventMessage(
  'software.removed',
  Type.Object({ packages: Type.Array(PackageRef, { minItems: 1, maxItems: 500 }) }, { additionalProperties: false }),
);

export const SoftwareDeniedEvent = eventMessage(
  'software.denied',
  Type.Object({ package: PackageRef, ...Verdict }, { additionalProperties: false }),
);

export const ProcessActionSchema = Type.Union([
  /** audit mode: reported only. */
  Type.Literal('alerted'),
  /** enforce mode: re-verified and killed. */
  Type.Literal('killed'),
  /** exited before it could be killed. */
  Type.Literal('gone'),
  /** its executable or start time changed between detection and re-verification: not killed. */
  Type.Literal('changed'),
  Type.Literal('kill_failed'),
  /** denied but protected (pid 1, the agent itself): never killed. */
  Type.Literal('protected'),
]);
export type ProcessAction = Static<typeof ProcessActionSchema>;

export const ProcessDeniedEvent = eventMessage(
  'process.denied',
  Type.Object(
    {
      pid: Type.Integer({ minimum: 0, maximum: 2 ** 32 }),
      name: NullableText(64),
      path: NullableText(512),
      sha256: Type.Union([Type.Null(), Type.String({ pattern: '^[0-9a-f]{64}$' })]),
      uid: Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: 2 ** 32 })]),
      ...Verdict,
      action: ProcessActionSchema,
      detail: SafeText(256),
    },
    { additionalProperties: false },
  ),
);

const Mac = Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' });
const Ipv4 = Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$' });
const Ipv6 = Type.String({ maxLength: 64, pattern: '^[0-9a-fA-F:.]+$' });
const IfaceName = SafeText(32);

export const NetInterfaceSchema = Type.Object(
  {
    mac: Type.Union([Type.Null(), Mac]),
    ipv4: Type.Union([Type.Null(), Type.Array(Ipv4, { maxItems: 32 })]),
    ipv6: Type.Union([Type.Null(), Type.Array(Ipv6, { maxItems: 32 })]),
  },
  { additionalProperties: false },
);
export type NetInterfaceBody = Static<typeof NetInterfaceSchema>;

export const NetworkChangedEvent = eventMessage(
  'network.changed',
  Type.Object(
    {
      iface: IfaceName,
      /** null: the interface appeared (previous) or disappeared (current). */
      previous: Type.Union([Type.Null(), NetInterfaceSchema]),
      current: Type.Union([Type.Null(), NetInterfaceSchema]),
    },
    { additionalProperties: false },
  ),
);

export const NetworkProblemSchema = Type.Union([Type.Literal('missing'), Type.Literal('ipv4'), Type.Literal('mac')]);

export const NetworkPlanMismatchEvent = eventMessage(
  'network.plan_mismatch',
  Type.Object(
    {
      iface: IfaceName,
      expected: Type.Object(
        { ipv4: Type.Union([Type.Null(), Ipv4]), mac: Type.Union([Type.Null(), Mac]) },
        { additionalProperties: false },
      ),
      actual: Type.Union([Type.Null(), NetInterfaceSchema]),
      /** Empty with resolved=true when the interface matches the plan again. */
      problems: Type.Array(NetworkProblemSchema, { maxItems: 3 }),
      resolved: Type.Boolean(),
    },
    { additionalProperties: false },
  ),
);

export const NetworkReachabilityEvent = eventMessage(
  'network.reachability',
  Type.Object(
    {
      /** "host:port" probed. */
      target: SafeText(300),
      state: Type.Union([Type.Literal('reachable'), Type.Literal('unreachable'), Type.Literal('unknown')]),
      /** The seat must be offline, so 'reachable' is a violation. */
      expected: Type.Literal('offline'),
      violation: Type.Boolean(),
      detail: SafeText(256),
    },
    { additionalProperties: false },
  ),
);

/**
 * The expected network plan of a seat, supplied by the collector (the lead wires it into a
 * collector → agent command). Each managed interface may pin an IPv4 address and/or a MAC.
 */
export const NetworkPlanSchema = Type.Array(
  Type.Object(
    {
      iface: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_.:@-]+$' }),
      ipv4: Type.Optional(Ipv4),
      mac: Type.Optional(Mac),
    },
    { additionalProperties: false },
  ),
  { maxItems: 64 },
);
export type NetworkPlan = Static<typeof NetworkPlanSchema>;

/** Registry of the sensor events, to be spread into AGENT_EVENT_MESSAGES. */
export const SENSOR_EVENT_MESSAGES = {
  'firmware.state': FirmwareStateEvent,
  'firmware.password_removed': FirmwarePasswordRemovedEvent,
  'firmware.bios_changed': FirmwareBiosChangedEvent,
  'software.inventory': SoftwareInventoryEvent,
  'software.installed': SoftwareInstalledEvent,
  'software.removed': SoftwareRemovedEvent,
  'software.denied': SoftwareDeniedEvent,
  'process.denied': ProcessDeniedEvent,
  'network.changed': NetworkChangedEvent,
  'network.plan_mismatch': NetworkPlanMismatchEvent,
  'network.reachability': NetworkReachabilityEvent,
} as const;

export type SensorEventType = keyof typeof SENSOR_EVENT_MESSAGES;

/** Body of a sensor event, for producers. */
export type SensorEventBody<T extends SensorEventType> = Static<(typeof SENSOR_EVENT_MESSAGES)[T]>['body'];

/** How a sensor hands an event to the agent core (which assigns seq and queues it in the outbox). */
export type SensorEmit = <T extends SensorEventType>(type: T, body: SensorEventBody<T>) => void | Promise<void>;
