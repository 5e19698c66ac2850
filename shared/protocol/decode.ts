import { Compile } from 'typebox/compile';
import { decodeFrame, fail, type Decoded, type EnvelopeCheck } from './decode-frame.js';
import { AGENT_MESSAGES, type AgentMessage } from './messages.js';
import { MAX_FRAME_BYTES } from './version.js';

export type { Decoded } from './decode-frame.js';
// The agent's decoder and the outgoing check run on generated validators (agent-decode.ts);
// re-exported so either end can import the protocol's checks from here.
export { decodeCollectorMessage, validateOutgoing } from './agent-decode.js';

// Compiled once at module load, on the collector only: decoding is on the ingest hot path, and
// TypeBox names the failing field, which the collector reports back to the agent.
const agentChecks: ReadonlyMap<string, EnvelopeCheck> = new Map(
  Object.entries(AGENT_MESSAGES).map(([type, schema]) => {
    const v = Compile(schema);
    const check: EnvelopeCheck = (value) => {
      if (v.Check(value)) return null;
      const first = v.Errors(value)[0];
      return first ? `${first.instancePath || '/'} ${first.message}` : 'invalid';
    };
    return [type, check];
  }),
);

/**
 * Validates one frame received by the collector. Unknown types are refused
 * (PROTO_ERR_UNKNOWN_TYPE): agent messages are security events and silence is worse than an error.
 */
export function decodeAgentMessage(raw: string | Uint8Array, maxBytes = MAX_FRAME_BYTES): Decoded<AgentMessage> {
  const r = decodeFrame<AgentMessage>(raw, agentChecks, maxBytes, false);
  return r.ok === 'ignored' ? fail('PROTO_ERR_UNKNOWN_TYPE', r.type) : r;
}
