import { Type, type Static } from 'typebox';

// Query/params schemas for the API. Fastify validates them with coercion (query strings are text)
// and without removing unknown keys: an unknown parameter is a 400, not silently dropped.

const AgentIdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' });
const EventType = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9_.]*$' });

export const SeatListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);
export type SeatListQuery = Static<typeof SeatListQuery>;

export const AgentParams = Type.Object({ agent_id: AgentIdParam }, { additionalProperties: false });
export type AgentParams = Static<typeof AgentParams>;

export const SeatEventsQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    type: Type.Optional(EventType),
  },
  { additionalProperties: false },
);
export type SeatEventsQuery = Static<typeof SeatEventsQuery>;

export const EventsQuery = Type.Object(
  {
    type: Type.Optional(EventType),
    agent_id: Type.Optional(AgentIdParam),
    after_id: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const ChallengeQuery = Type.Object({ agent_id: AgentIdParam }, { additionalProperties: false });
export type ChallengeQuery = Static<typeof ChallengeQuery>;

// No control or invisible characters in anything an enrolling agent names itself.
const HOSTNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

/** Body of POST /agent/v1/enroll; checked with a compiled TypeBox validator (no coercion). */
export const EnrollBody = Type.Object(
  {
    token: Type.String({ minLength: 8, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }),
    public_key: Type.String({ minLength: 16, maxLength: 200, pattern: '^[A-Za-z0-9+/]+={0,2}$' }),
    hostname: Type.String({ minLength: 1, maxLength: 253, pattern: HOSTNAME_PATTERN }),
    platform: Type.Union([Type.Literal('linux'), Type.Literal('windows'), Type.Literal('fake')]),
    seat_name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: HOSTNAME_PATTERN })),
    // Ed25519 signature over token + public_key (shared/protocol/agent-auth.ts); optional for older agents.
    proof: Type.Optional(Type.String({ minLength: 86, maxLength: 88, pattern: '^[A-Za-z0-9+/]+={0,2}$' })),
  },
  { additionalProperties: false },
);
export type EnrollBody = Static<typeof EnrollBody>;
