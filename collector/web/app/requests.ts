import { apiGet, withQuery } from './api.js';
import { get, listOf, str, text, type Obj } from './json.js';
import { can, currentUser } from './session.js';

// What the two request pages (unlocks, software) show the same way about seats and people.

/** Fills `into` with agent_id → seat name, for rows that carry only the id (needs seat.read). */
export async function loadSeatNames(into: Map<string, string>): Promise<void> {
  if (!can('seat.read')) return;
  const res = await apiGet(withQuery('/api/v1/seats', { limit: 500 }));
  for (const s of listOf(res, 'seats')) {
    const id = str(get(s, 'agent_id'));
    const name = str(get(s, 'seat_name'));
    if (id !== null && name !== null) into.set(id, name);
  }
}

/** A user id as shown: the logged-in user's own id as their username. */
export function who(id: string | null): string | null {
  const u = currentUser();
  if (id !== null && u && id === u.id) return u.username;
  return id;
}

/** True when the logged-in user raised this request (they may not decide on it). */
export function isOwn(r: Obj): boolean {
  const u = currentUser();
  if (!u) return false;
  const by = text(r.requested_by);
  return by !== null && (by === u.id || by === u.username);
}
