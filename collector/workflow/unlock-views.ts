import type { AuditRecord } from '../audit/audit-log.js';
import type { PolicyRollout, PolicyRow } from '../store/policy-repo.js';
import type { OfflineCodeRow, OfflineUseRow, UnlockRow } from '../store/unlock-repo.js';

// What the API shows. Every JSON column here was written by this collector (validated input,
// sanitized strings), so parsing it back is parsing our own data.
const parse = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));

/** One unlock case (request + grant + what the seat reported). */
export function unlockView(r: UnlockRow) {
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
    requested_at: r.requested_at,
    os_user: r.os_user,
    approvals_required: r.approvals_required,
    approvals: parse(r.approvals),
    closed_by: r.closed_by,
    closed_reason: r.closed_reason,
    grant:
      r.grant_id === null
        ? null
        : {
            id: r.grant_id,
            executor: r.grant_executor,
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

/** An audit record in a case trail. */
export function trailView(a: AuditRecord) {
  return { id: a.id, ts: a.ts, actor: a.actor, action: a.action, detail: a.detail, hash: a.hash };
}

export function offlineCodeView(c: OfflineCodeRow, uses?: readonly OfflineUseRow[]) {
  return {
    id: c.id,
    agent_id: c.agent_id,
    challenge: c.challenge,
    minutes: c.minutes,
    device: parse(c.device),
    reason: c.reason,
    issued_by: c.issued_by,
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
