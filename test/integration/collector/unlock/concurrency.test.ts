import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../../../collector/collector.js';
import { openStore } from '../../../../collector/store/store.js';
import { rowToRequest } from '../../../../collector/store/unlock-repo.js';
import { transition } from '../../../../collector/workflow/unlock-machine.js';
import type { AgentEvent } from '../../../../shared/protocol/messages.js';
import { startCollector, type Running } from '../harness.js';
import { api, isType, requestedFrame, sendEvent, unlockWorld, type UnlockWorld } from './unlock-harness.js';

let w: UnlockWorld | undefined;
const extra: Running[] = [];
afterEach(async () => {
  for (const r of extra.splice(0)) await r.cleanup({ keepDir: true });
  await w?.cleanup();
  w = undefined;
});

async function pendingCase(world: UnlockWorld) {
  const seat = await world.seat('sales');
  const conn = await world.online(seat);
  await sendEvent(conn, requestedFrame(1));
  const id = world.run.collector.workflow.unlock.list({ limit: 1, offset: 0 }).rows[0]!.id;
  return { seat, conn, id };
}

describe('unlock workflow under concurrency', () => {
  it('gives exactly one grant when two maintainers approve at the same moment (API)', async () => {
    w = await unlockWorld();
    const alice = await w.user('alice', ['maintainer'], ['sales']);
    const bob = await w.user('bob', ['maintainer'], '*');
    const { conn, id } = await pendingCase(w);
    const answers = await Promise.all([
      api(w.run, alice.token, `/unlock-requests/${id}/approve`, { note: 'a' }),
      api(w.run, bob.token, `/unlock-requests/${id}/approve`, { note: 'b' }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)?.json.error.code).toBe('UNLOCK_ERR_NOT_PENDING');
    const row = w.run.collector.workflow.unlock.get(id)!;
    expect(row).toMatchObject({ state: 'active', version: 1 });
    expect(w.run.collector.audit.list({ caseId: id, action: 'unlock.grant' }).records).toHaveLength(1);
    await conn.next(isType('unlock.granted'));
    expect(conn.received.filter(isType('unlock.granted'))).toHaveLength(1);
  });

  it('gives exactly one grant when two collector instances on the same database file approve at once', async () => {
    w = await unlockWorld();
    const alice = await w.user('alice', ['maintainer'], ['sales']);
    const bob = await w.user('bob', ['maintainer'], '*');
    const { seat, id } = await pendingCase(w);
    const second = await startCollector({ dataDir: w.run.dataDir, clock: w.clock, unlock: { sweepIntervalMs: 3_600_000 } });
    extra.push(second);
    const answers = await Promise.all([
      api(w.run, alice.token, `/unlock-requests/${id}/approve`, { note: 'via A' }),
      api(second, bob.token, `/unlock-requests/${id}/approve`, { note: 'via B' }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)!;
    const grants = w.run.collector.workflow.unlock.grants({ active: true, limit: 10, offset: 0 });
    expect(grants.rows.map((r) => r.grant_id)).toEqual([winner.json.grant.id]);
    // Both instances appended to one hash chain without breaking it.
    expect(w.run.collector.audit.verify().ok).toBe(true);
    // Whichever instance won, the seat gets the grant on its next hello.
    const again = await w.online(seat);
    const sync = await again.next(isType('grants.sync'));
    expect(sync.body.grants.map((g) => g.grant_id)).toEqual([winner.json.grant.id]);
  });

  it('refuses a write whose version was read before another writer changed the row (compare-and-set)', async () => {
    w = await unlockWorld();
    const { id } = await pendingCase(w);
    const other = openStore(join(w.run.dataDir, DB_FILE));
    try {
      const staleA = rowToRequest(w.run.collector.store.unlock.get(id)!);
      const staleB = rowToRequest(other.unlock.get(id)!);
      const actor = (name: string) => ({ id: name, roles: ['maintainer'], departments: '*' as const });
      const now = w.clock.now();
      const a = transition(staleA, { type: 'approve', actor: actor('alice'), note: '', grantId: 'grt_a' }, now);
      const b = transition(staleB, { type: 'approve', actor: actor('bob'), note: '', grantId: 'grt_b' }, now);
      if (!a.ok || !b.ok) throw new Error('setup');
      expect(w.run.collector.store.unlock.update(a.next, staleA.version, new Date(now).toISOString())).toBe(true);
      expect(other.unlock.update(b.next, staleB.version, new Date(now).toISOString())).toBe(false);
      expect(other.unlock.get(id)).toMatchObject({ grant_id: 'grt_a', grant_executor: 'alice', version: 1 });
    } finally {
      other.close();
    }
  });

  it('applies a workflow event that was committed but never applied exactly once at recovery', async () => {
    w = await unlockWorld();
    const seat = await w.seat('sales');
    const store = w.run.collector.store;
    // Committed straight into the store, as if the collector died between commit and listener.
    const msg = requestedFrame(40) as unknown as AgentEvent;
    store.ingest([{ kind: 'event', agentId: seat.agentId, msg, receivedAt: new Date(w.clock.now()).toISOString() }]);
    expect(w.run.collector.workflow.unlock.list({ limit: 10, offset: 0 }).total).toBe(0);
    // A restart runs recovery: simulate it with a second instance on the same file.
    const second = await startCollector({ dataDir: w.run.dataDir, clock: w.clock, unlock: { sweepIntervalMs: 3_600_000 } });
    extra.push(second);
    expect(second.collector.workflow.unlock.list({ limit: 10, offset: 0 }).rows.map((r) => r.request_ref)).toEqual(['rq_40']);
    // The same event delivered again (agent resend → duplicate) or replayed changes nothing.
    const conn = await w.online(seat);
    await sendEvent(conn, requestedFrame(40));
    const third = await startCollector({ dataDir: w.run.dataDir, clock: w.clock, unlock: { sweepIntervalMs: 3_600_000 } });
    extra.push(third);
    expect(w.run.collector.workflow.unlock.list({ limit: 10, offset: 0 }).total).toBe(1);
    expect(w.run.collector.audit.list({ action: 'unlock.request' }).records).toHaveLength(1);
  });
});
