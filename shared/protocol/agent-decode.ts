import { decodeFrame, type Decoded, type EnvelopeCheck } from './decode-frame.js';
import type { CollectorMessage } from './messages.js';
import { AGENT_MESSAGE_CHECKS, COLLECTOR_MESSAGE_CHECKS } from './validators.gen.js';
import { MAX_FRAME_BYTES } from './version.js';

/**
 * The agent's side of the protocol checks, on the validators generated from the same TypeBox
 * schemas (validators.gen.ts): the agent never loads TypeBox's compiler and value engine, which
 * cost it ~680 modules and several MiB of resident memory (docs/benchmarks.md, "Agent
 * footprint"). The collector decodes with TypeBox itself (decode.ts), which names the failing
 * field; here a failure says only that the message does not match its schema.
 */

const NO_MATCH = 'does not match the message schema';

function withReason(checks: ReadonlyMap<string, (x: unknown) => boolean>): ReadonlyMap<string, EnvelopeCheck> {
  return new Map([...checks].map(([type, check]) => [type, (v: unknown) => (check(v) ? null : NO_MATCH)]));
}

const collectorChecks = withReason(COLLECTOR_MESSAGE_CHECKS);

/**
 * Validates one frame received by the agent. Unknown types from a newer collector are reported as
 * `ignored` so new command types can be added without breaking older agents.
 */
export function decodeCollectorMessage(
  raw: string | Uint8Array,
  maxBytes = MAX_FRAME_BYTES * 4,
): Decoded<CollectorMessage> | { ok: 'ignored'; type: string } {
  return decodeFrame<CollectorMessage>(raw, collectorChecks, maxBytes, true);
}

/** Checks a message built in code against its schema before it is sent (the outbox, tests). */
export function validateOutgoing(msg: { type: string }): string | null {
  const check = AGENT_MESSAGE_CHECKS.get(msg.type) ?? COLLECTOR_MESSAGE_CHECKS.get(msg.type);
  if (!check) return `unknown type ${msg.type}`;
  return check(msg) ? null : NO_MATCH;
}
