import { afterEach, describe, expect, it } from 'vitest';
import type { CollectorMessage } from '../../../shared/protocol/messages.js';
import { CLOSE_CODES } from '../../../shared/protocol/version.js';
import { eventually } from '../../helpers/eventually.js';
import { connect, connectReady, enroll, insertedEvent, openSocket, startCollector, type Running } from './harness.js';

const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
});

async function start(opts: Parameters<typeof startCollector>[0]): Promise<Running> {
  const run = await startCollector(opts);
  runs.push(run);
  return run;
}

const storedSeqs = (run: Running, agentId: string): number[] =>
  (run.collector.store.db.prepare('SELECT seq FROM events WHERE agent_id = ? ORDER BY seq').all(agentId) as Array<{ seq: number }>).map((r) => r.seq);

describe('collector backpressure caps', () => {
  it('answers upgrades beyond maxConnections with 503 before authenticating, and accepts again once a socket closes', async () => {
    const run = await start({ maxConnections: 2 });
    const a = await enroll(run.url, run.collector.createEnrollmentToken());
    const b = await enroll(run.url, run.collector.createEnrollmentToken());
    const c = await enroll(run.url, run.collector.createEnrollmentToken());
    const ca = await connect(run, a);
    const cb = await connect(run, b);
    // No valid signature needed to be turned away: the cap is checked first.
    const refused = await openSocket(run.wsUrl, {});
    expect(refused).toMatchObject({ ok: false, status: 503 });
    if (refused.ok === false) expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'PROTO_ERR_RATE' } });
    await expect(connect(run, c)).rejects.toThrow(/503/);
    await ca.close();
    const { conn } = await eventually(() => connectReady(run, c), 5_000);
    await conn.close();
    await cb.close();
  });

  it('sends slow_down and closes 4429 when an agent exceeds maxMessagesPerSecond; its unacked events are stored once after resending', async () => {
    const run = await start({ maxMessagesPerSecond: 20 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    // hello used one token; 60 events at once overrun the 20-token bucket.
    for (let seq = 1; seq <= 60; seq++) conn.send(insertedEvent(seq));
    const slow = await conn.next((m): m is Extract<CollectorMessage, { type: 'slow_down' }> => m.type === 'slow_down');
    expect(slow.body.retry_after_ms).toBeGreaterThanOrEqual(1_000);
    expect((await conn.closed).code).toBe(CLOSE_CODES.overloaded);
    const acked = new Set(conn.ackedSeqs());
    const stored = storedSeqs(run, agent.agentId);
    // Nothing beyond the bucket was read: what was stored fits in it (acks of the last commit may be
    // lost with the socket; the agent resends those and they are acked as duplicates).
    expect(stored.length).toBeLessThanOrEqual(20);
    expect(stored.length).toBeGreaterThan(0);
    for (const s of acked) expect(stored).toContain(s);

    // The agent comes back and resends what was not acked, slowly enough.
    const { conn: again } = await connectReady(run, agent);
    const missing = Array.from({ length: 60 }, (_, i) => i + 1).filter((s) => !acked.has(s)).slice(0, 15);
    for (const seq of missing) again.send(insertedEvent(seq));
    await eventually(() => missing.every((s) => again.ackedSeqs().includes(s)));
    const after = storedSeqs(run, agent.agentId);
    expect(after).toEqual([...new Set([...stored, ...missing])].sort((x, y) => x - y));
    await again.close();
  });

  it('tells an agent that does not read its acks to slow down once maxBufferedBytes is queued for it', async () => {
    const run = await start({ maxBufferedBytes: 1_024, maxProtocolErrors: 100_000, maxMessagesPerSecond: 1_000_000 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    // Stop reading: every error frame the collector answers with piles up in its send buffer.
    conn.ws.pause();
    const junk = 'x'.repeat(200);
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < 1_000; i++) conn.ws.send(junk);
      await new Promise((r) => setImmediate(r));
    }
    conn.ws.resume();
    expect((await conn.closed).code).toBe(CLOSE_CODES.overloaded);
    expect(conn.received.some((m) => m.type === 'slow_down')).toBe(true);
  }, 30_000);
});
