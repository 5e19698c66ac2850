import type { Static } from 'typebox';
import type { GrantSpec } from '../../shared/protocol/unlock-messages.js';
import { collectorMessage } from '../../shared/protocol/encode.js';
import type { UnlockRequest } from './unlock-machine.js';

/** A grant as it goes to the agent (unlock.granted body, grants.sync entry). */
export type GrantSpecBody = Static<typeof GrantSpec>;

/** Longest grant the protocol carries; policy bounds are far below it. */
const MAX_DURATION_MS = 7 * 24 * 3_600_000;
const MAX_WARN_MS = 3_600_000;
/** grants.sync entries per frame: ~600 bytes each keeps the frame well under MAX_FRAME_BYTES. */
export const MAX_SYNC_GRANTS = 64;

/**
 * The agent's view of an active grant at `now`, or null when there is none (not active, or already
 * past its expiry). `duration_ms` is the time LEFT, so a grant delivered late (grants.sync after a
 * reconnect) still ends at the collector's `expires_at` when the agent counts it on its monotonic
 * clock from receipt.
 */
export function grantSpec(req: UnlockRequest, now: number, warnBeforeMs: number): GrantSpecBody | null {
  const g = req.grant;
  if (req.state !== 'active' || g === null) return null;
  const left = g.expiresAt - now;
  if (left <= 0) return null;
  return {
    grant_id: g.id,
    request_id: req.id,
    device: { ...req.device },
    any_port: g.anyPort,
    allow_reinsert: g.allowReinsert,
    issued_at: new Date(g.startsAt).toISOString(),
    expires_at: new Date(g.expiresAt).toISOString(),
    duration_ms: Math.min(left, MAX_DURATION_MS),
    warn_before_ms: Math.max(0, Math.min(warnBeforeMs, MAX_WARN_MS)),
    executor: g.executor,
  };
}

/** `unlock.granted` frame for an active grant, or null when it has nothing left to grant. */
export function grantedFrame(req: UnlockRequest, now: number, warnBeforeMs: number): string | null {
  const spec = grantSpec(req, now, warnBeforeMs);
  return spec === null ? null : collectorMessage('unlock.granted', spec, now);
}

/** `unlock.revoked` frame. */
export function revokedFrame(grantId: string, reason: string, now: number): string {
  return collectorMessage('unlock.revoked', { grant_id: grantId, reason: reason.slice(0, 512) }, now);
}

/** `grants.sync` frame with the seat's active grants (at most MAX_SYNC_GRANTS, soonest expiry first). */
export function grantsSyncFrame(active: readonly UnlockRequest[], now: number, warnBeforeMs: number): string {
  const grants = active
    .map((r) => grantSpec(r, now, warnBeforeMs))
    .filter((g): g is GrantSpecBody => g !== null)
    .sort((a, b) => a.expires_at.localeCompare(b.expires_at))
    .slice(0, MAX_SYNC_GRANTS);
  return collectorMessage('grants.sync', { grants }, now);
}
