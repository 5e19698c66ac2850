import { Type, type Static } from 'typebox';
import { Seq } from './envelope.js';
import { eventMessage } from './envelope.js';

/**
 * `outbox.dropped`: the agent's bounded outbox summarized and dropped low-severity events
 * (agent/store/outbox.ts). The report itself is security-relevant, so the bounds never drop it; the
 * collector stores it like any event and raises an alert, since the seat's history now has a gap.
 */

/** Why the events went: the queue hit its event-count bound, or they outlived its age bound. */
export const OutboxDropReason = Type.Union([Type.Literal('max_events'), Type.Literal('max_age')]);
export type OutboxDropReason = Static<typeof OutboxDropReason>;

export const OutboxDroppedEvent = eventMessage(
  'outbox.dropped',
  Type.Object(
    {
      /** Dropped events per event type. Only low-severity types are ever dropped, so the map is small. */
      counts: Type.Record(Type.String({ maxLength: 64, pattern: '^[a-z][a-z0-9_.]*$' }), Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
        minProperties: 1,
        maxProperties: 32,
      }),
      /** Lowest and highest seq among the dropped events (the gap is inside this range). */
      from_seq: Seq,
      to_seq: Seq,
      reason: OutboxDropReason,
    },
    { additionalProperties: false },
  ),
);
export type OutboxDroppedBody = Static<typeof OutboxDroppedEvent>['body'];

/** Registry of the outbox events, spread into AGENT_EVENT_MESSAGES. */
export const OUTBOX_AGENT_EVENTS = { 'outbox.dropped': OutboxDroppedEvent } as const;
