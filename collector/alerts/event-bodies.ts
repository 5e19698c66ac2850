import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { AgentStarted, AgentStopping, LockStateChanged, UsbBlocked } from '../../shared/protocol/messages.js';
import {
  FirmwareBiosChangedEvent,
  FirmwarePasswordRemovedEvent,
  FirmwareStateEvent,
  NetworkChangedEvent,
  NetworkPlanMismatchEvent,
  NetworkReachabilityEvent,
  ProcessDeniedEvent,
  SoftwareDeniedEvent,
  SoftwareInstalledEvent,
  SoftwareRemovedEvent,
} from '../../shared/protocol/sensor-messages.js';
import { PolicyApplied } from '../../shared/protocol/unlock-messages.js';
import { AgentIntegrity, AgentUninstalled } from '../../shared/protocol/selfprotect-messages.js';
import { OutboxDroppedEvent } from '../../shared/protocol/outbox-messages.js';

/**
 * Body guards for the event types the alert rules read. Stored bodies were checked at ingest, but
 * the rules re-check them: a row written by an older collector, or by hand, must not be trusted.
 */

type EnvelopeSchema = TSchema & { properties: { body: TSchema } };
type BodyOf<S extends EnvelopeSchema> = Static<S['properties']['body']>;

/** A compiled type guard for the `body` of one event envelope schema. */
export type BodyGuard<S extends EnvelopeSchema> = (v: unknown) => v is BodyOf<S>;

function guard<S extends EnvelopeSchema>(schema: S): BodyGuard<S> {
  const validator = Compile(schema.properties.body);
  return (v: unknown): v is BodyOf<S> => validator.Check(v);
}

/** Guards by event type, compiled once at module load (the rules run on the ingest path). */
export const BODY = {
  'agent.started': guard(AgentStarted),
  'agent.stopping': guard(AgentStopping),
  'lock.state': guard(LockStateChanged),
  'usb.blocked': guard(UsbBlocked),
  'firmware.state': guard(FirmwareStateEvent),
  'firmware.password_removed': guard(FirmwarePasswordRemovedEvent),
  'firmware.bios_changed': guard(FirmwareBiosChangedEvent),
  'software.denied': guard(SoftwareDeniedEvent),
  'software.installed': guard(SoftwareInstalledEvent),
  'software.removed': guard(SoftwareRemovedEvent),
  'process.denied': guard(ProcessDeniedEvent),
  'network.changed': guard(NetworkChangedEvent),
  'network.plan_mismatch': guard(NetworkPlanMismatchEvent),
  'network.reachability': guard(NetworkReachabilityEvent),
  'policy.applied': guard(PolicyApplied),
  'agent.integrity': guard(AgentIntegrity),
  'agent.uninstalled': guard(AgentUninstalled),
  'outbox.dropped': guard(OutboxDroppedEvent),
} as const;

export type WatchedEventType = keyof typeof BODY;

export function isWatchedEventType(t: string): t is WatchedEventType {
  return Object.hasOwn(BODY, t);
}
