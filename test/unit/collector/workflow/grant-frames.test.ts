import { describe, expect, it } from 'vitest';
import { grantSpec, grantsSyncFrame, MAX_SYNC_GRANTS, revokedFrame } from '../../../../collector/workflow/grant-frames.js';
import { newRequest, type UnlockRequest } from '../../../../collector/workflow/unlock-machine.js';
import { decodeCollectorMessage } from '../../../../shared/protocol/decode.js';

const T0 = Date.UTC(2026, 5, 1, 8, 0, 0);
const MIN = 60_000;

function active(id: string, expiresInMs: number, over: Partial<UnlockRequest> = {}): UnlockRequest {
  return {
    ...newRequest({
      id,
      agentId: 'agt_1',
      department: 'sales',
      device: { vendor_id: '0781', product_id: '5567', serial: 'SN1', hash: null, port: '2-1' },
      reason: 'copy the report',
      durationMs: 30 * MIN,
      requestedBy: 'seat:agt_1',
      now: T0,
    }),
    state: 'active',
    grant: { id: `grt_${id}`, executor: 'usr_alice', startsAt: T0, expiresAt: T0 + expiresInMs, allowReinsert: false, anyPort: false },
    ...over,
  };
}

describe('grant frames', () => {
  it('gives the agent the time left, not the full duration, when a grant is delivered late', () => {
    const spec = grantSpec(active('r1', 30 * MIN), T0 + 12 * MIN, 5 * MIN);
    expect(spec).toMatchObject({ grant_id: 'grt_r1', request_id: 'r1', duration_ms: 18 * MIN, expires_at: new Date(T0 + 30 * MIN).toISOString() });
  });

  it('has nothing to grant for a request that is not active or already past expiry', () => {
    expect(grantSpec(active('r1', 30 * MIN), T0 + 30 * MIN, 0)).toBeNull();
    expect(grantSpec({ ...active('r1', 30 * MIN), state: 'ended' }, T0, 0)).toBeNull();
    expect(grantSpec({ ...active('r1', 30 * MIN), grant: null }, T0, 0)).toBeNull();
  });

  it('builds frames that pass the protocol decoder, the warning capped at the protocol maximum', () => {
    const sync = decodeCollectorMessage(grantsSyncFrame([active('r1', 30 * MIN)], T0, 10 * 3_600_000));
    expect(sync.ok).toBe(true);
    if (sync.ok !== true || sync.msg.type !== 'grants.sync') throw new Error('not a grants.sync');
    expect(sync.msg.body.grants[0]?.warn_before_ms).toBe(3_600_000);
    const revoked = decodeCollectorMessage(revokedFrame('grt_r1', 'x'.repeat(600), T0));
    expect(revoked.ok).toBe(true);
  });

  it('lists at most MAX_SYNC_GRANTS grants, soonest expiry first, and drops expired ones', () => {
    const many = Array.from({ length: MAX_SYNC_GRANTS + 5 }, (_, i) => active(`r${i}`, (i + 1) * MIN));
    const expired = active('old', -1);
    const d = decodeCollectorMessage(grantsSyncFrame([expired, ...many.reverse()], T0, 0));
    if (d.ok !== true || d.msg.type !== 'grants.sync') throw new Error('not a grants.sync');
    const ids = d.msg.body.grants.map((g) => g.request_id);
    expect(ids).toHaveLength(MAX_SYNC_GRANTS);
    expect(ids[0]).toBe('r0');
    expect(ids).not.toContain('old');
  });
});
