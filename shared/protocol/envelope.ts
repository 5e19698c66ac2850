import { Type, type Static, type TSchema } from 'typebox';
import { PROTOCOL_VERSION } from './version.js';

/** Message ids are chosen by the sender; ack/error point back to them. */
export const MessageId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
/** ISO-8601 UTC timestamp as produced by Date.prototype.toISOString(). */
export const Timestamp = Type.String({ maxLength: 32, pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,6})?Z$' });
/** Per-agent event sequence number: 1, 2, 3, … assigned when the event enters the outbox. */
export const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
export const AgentId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });

/** A control message: no sequence number, never stored as an event. */
export function controlMessage<T extends string, B extends TSchema>(type: T, body: B) {
  return Type.Object(
    { v: Type.Literal(PROTOCOL_VERSION), type: Type.Literal(type), id: MessageId, ts: Timestamp, body },
    { additionalProperties: false },
  );
}

/** An agent event: carries `seq`, is stored once per (agent, seq) and acknowledged after commit. */
export function eventMessage<T extends string, B extends TSchema>(type: T, body: B) {
  return Type.Object(
    { v: Type.Literal(PROTOCOL_VERSION), type: Type.Literal(type), id: MessageId, ts: Timestamp, seq: Seq, body },
    { additionalProperties: false },
  );
}

export type EnvelopeBase = { v: typeof PROTOCOL_VERSION; type: string; id: string; ts: string; body: unknown; seq?: number };
export type StaticOf<S extends TSchema> = Static<S>;
