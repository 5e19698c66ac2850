import type { AuditRecord } from '../audit/audit-log.js';
import type { PolicyRollout, PolicyRow } from '../store/policy-repo.js';
import type { OfflineCodeRow, OfflineUseRow, UnlockRow } from '../store/unlock-repo.js';

// What the API shows. Every JSON column here was written by this collector (validated input,
// sanitized strings), so parsing it back is parsing our own data.
const parse = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));

/** A console user as the unlock views name them: people read names, the ids stay for machines. */
export interface PersonView {
  id: string;
  username: string;
  display_name: string;
}

/** Resolves a stored actor id to its user; null for non-users ('seat:<agent>', 'system') and unknown ids. */
export type PersonLookup = (id: string) => PersonView | null;

/**
 * A lookup over the users table that remembers each id for its own lifetime: make one per
 * request, so a list of 50 cases with the same approver reads that user once.
 */
export function personLookup(users: { get(id: string): { id: string; username: string; display_name: string } | undefined }): PersonLookup {
  const seen = new Map<string, PersonView | null>();
  return (id) => {
    if (!seen.has(id)) {
      const u = users.get(id);
      seen.set(id, u ? { id: u.id, username: u.username, display_name: u.display_name } : null);
    }
    return seen.get(id) ?? null;
  };
}

const noPeople: PersonLookup = () => null;
const personOf = (people: PersonLookup, id: string | null): PersonView | null => (id === null ? null : people(id));

/** The stored approvals ({by, at, note}) with each approver's name alongside. */
function approvalsView(text: string, people: PersonLookup): unknown {
  const list = parse(text);
  if (!Array.isArray(list)) return list;
  return list.map((a: unknown) => {
    const by = typeof a === 'object' && a !== null && typeof (a as { by?: unknown }).by === 'string' ? (a as { by: string }).by : null;
    return { ...(a as object), by_user: personOf(people, by) };
  });
}

/**
 * One unlock case (request + grant + what the seat reported). Every actor id (requested_by,
 * approvals[].by, closed_by, grant.executor) comes with its user (`*_user`, null for a seat or an
 * unknown id) when `people` is given.
 */
export function unlockView(r: UnlockRow, people: PersonLookup = noPeople) {
  return {
    id: r.id,
    agent_id: r.agent_id,
    state: r.state,
    source: r.source,
    request_ref: r.request_ref,
    department: r.department,
    device: {
      vendor_id: r.vendor_id,
      product_id: r.product_id,
      serial: r.serial,
      hash: r.hash,
      port: r.port,
      device_key: r.device_key,
      reported: parse(r.device),
    },
    reason: r.reason,
    duration_ms: r.duration_ms,
    requested_by: r.requested_by,
    requested_by_user: personOf(people, r.requested_by),
    requested_at: r.requested_at,
    os_user: r.os_user,
    approvals_required: r.approvals_required,
    approvals: approvalsView(r.approvals, people),
    closed_by: r.closed_by,
    closed_by_user: personOf(people, r.closed_by),
    closed_reason: r.closed_reason,
    grant:
      r.grant_id === null
        ? null
        : {
            id: r.grant_id,
            executor: r.grant_executor,
            executor_user: personOf(people, r.grant_executor),
            starts_at: r.grant_starts_at,
            expires_at: r.grant_expires_at,
            allow_reinsert: r.allow_reinsert === 1,
            any_port: r.any_port === 1,
            accepted_at: r.grant_accepted_at,
            applied_at: r.grant_applied_at,
            relocked_at: r.relocked_at,
            agent_end_reason: r.agent_end_reason,
          },
    end_reason: r.end_reason,
    ended_at: r.ended_at,
    version: r.version,
    updated_at: r.updated_at,
  };
}

/** An audit record in a case trail (usable as a `.map` callback). */
export function trailView(a: AuditRecord) {
  return trailViewWith(noPeople)(a);
}

/** trailView with the actor's user alongside (`actor_user`, null for 'system' or a seat). */
export function trailViewWith(people: PersonLookup) {
  return (a: AuditRecord) => ({ id: a.id, ts: a.ts, actor: a.actor, actor_user: people(a.actor), action: a.action, detail: a.detail, hash: a.hash });
}

export function offlineCodeView(c: OfflineCodeRow, uses?: readonly OfflineUseRow[], people: PersonLookup = noPeople) {
  return {
    id: c.id,
    agent_id: c.agent_id,
    challenge: c.challenge,
    minutes: c.minutes,
    device: parse(c.device),
    reason: c.reason,
    issued_by: c.issued_by,
    issued_by_user: personOf(people, c.issued_by),
    issued_at: c.issued_at,
    used_at: c.used_at,
    ...(uses === undefined ? {} : { uses: uses.map(offlineUseView) }),
  };
}

export function offlineUseView(u: OfflineUseRow) {
  return {
    id: u.id,
    agent_id: u.agent_id,
    code_id: u.code_id,
    challenge: u.challenge,
    minutes: u.minutes,
    grant_id: u.grant_id,
    device: parse(u.device),
    used_at: u.used_at,
    received_at: u.received_at,
    flag: u.flag,
    relocked_at: u.relocked_at,
    end_reason: u.end_reason,
  };
}

export function policyView(p: PolicyRow, rollout?: PolicyRollout) {
  return {
    version: p.version,
    sha256: p.sha256,
    created_by: p.created_by,
    created_at: p.created_at,
    comment: p.comment,
    rules: p.rules,
    ...(rollout === undefined ? {} : { rollout }),
  };
}
