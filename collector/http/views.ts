import type { AgentRow } from '../store/agents-repo.js';
import type { EventRow } from '../store/events-repo.js';

/** What the API shows of a seat: an allowlist of columns (no key material). */
export function seatView(a: AgentRow) {
  return {
    agent_id: a.agent_id,
    seat_name: a.seat_name,
    hostname: a.hostname,
    platform: a.platform,
    department: a.department,
    agent_version: a.agent_version,
    online: a.online === 1,
    last_seen: a.last_seen,
    lock_state: a.lock_state,
    outbox_depth: a.outbox_depth,
    last_seq: a.last_seq,
    enrolled_at: a.enrolled_at,
    revoked_at: a.revoked_at,
  };
}

/** What the API shows of a stored event, with the body parsed back to JSON. */
export function eventView(e: EventRow) {
  // The body was validated against its schema before it was stored; it is our own JSON.
  const body: unknown = JSON.parse(e.body);
  return { id: e.id, agent_id: e.agent_id, seq: e.seq, type: e.type, ts: e.ts, received_at: e.received_at, body };
}
