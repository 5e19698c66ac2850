import { Type } from 'typebox';
import { AgentId } from '../shared/protocol/envelope.js';

/**
 * Schemas of the agent's identity files and enrollment answer. Only scripts/gen-validators.ts and
 * tests load this module; identity.ts checks with the validators generated from it.
 */

export const IdentityFile = Type.Object(
  {
    agent_id: AgentId,
    collector_url: Type.String({ maxLength: 2048 }),
    seat_name: Type.Optional(Type.Union([Type.Null(), Type.String({ maxLength: 64 })])),
    ca_fingerprint: Type.Optional(Type.Union([Type.Null(), Type.String({ pattern: '^sha256:[0-9a-f]{64}$' })])),
  },
  { additionalProperties: false },
);

export const EnrollResponse = Type.Object({ agent_id: AgentId, seat_name: Type.String({ maxLength: 64 }) });
// 16–64 bytes in standard base64; the collector derives 32 (shared/domain/offline-code.ts).
export const OfflineSecretB64 = Type.String({ minLength: 24, maxLength: 88, pattern: '^[A-Za-z0-9+/]+={0,2}$' });
