import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../collector/store/store.js';
import { CLOSE_CODES } from '../../../shared/protocol/version.js';
import { eventually } from '../../helpers/eventually.js';
import { connectReady, enroll, openSocket, startCollector, stoppingEvent, tempDir, authHeaders, challenge, type Running } from './harness.js';

describe('collector graceful stop', () => {
  let run: Running | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('commits the pending batch, sends its acks, then closes sockets with 4503', async () => {
    dir = tempDir();
    // A commit interval far beyond the test: only stop() can commit these events.
    run = await startCollector({ dataDir: dir, commitIntervalMs: 60_000, maxBatch: 10_000 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    for (let seq = 1; seq <= 25; seq++) conn.send(stoppingEvent(seq));
    await eventually(() => run!.collector.stats().pendingEvents === 25);
    expect(conn.ackedSeqs()).toEqual([]);

    await run.collector.stop();
    const closed = await conn.closed;
    expect(closed.code).toBe(CLOSE_CODES.shuttingDown);
    expect(conn.ackedSeqs().sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));

    const reopened = openStore(join(dir, 'collector.db'));
    try {
      const stored = reopened.events.listForAgent({ agentId: agent.agentId, after: 0, limit: 100 }).map((e) => e.seq);
      for (const s of conn.ackedSeqs()) expect(stored).toContain(s);
      expect(reopened.agents.get(agent.agentId)).toMatchObject({ online: 0, last_seq: 25 });
    } finally {
      reopened.close();
    }
  });

  it('keeps events acked during normal operation across a restart', async () => {
    dir = tempDir();
    run = await startCollector({ dataDir: dir });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    for (let seq = 1; seq <= 10; seq++) conn.send(stoppingEvent(seq));
    await eventually(() => conn.ackedSeqs().length === 10);
    await run.cleanup({ keepDir: true });
    run = await startCollector({ dataDir: dir });
    const again = await connectReady(run, agent, 10);
    expect(again.welcome.body.last_seq).toBe(10);
    expect(run.collector.store.events.count()).toBe(10);
    await again.conn.close();
  });

  it('refuses agent connections after stop, returns the same promise to every stop() and cannot restart', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const nonce = await challenge(run.url, agent.agentId);
    const stopping = run.collector.stop();
    const second = run.collector.stop();
    expect(second).toBe(stopping);
    await stopping;
    await expect(openSocket(run.wsUrl, authHeaders(agent, nonce))).rejects.toThrow();
    await expect(run.collector.start()).rejects.toMatchObject({ code: 'COLLECTOR_ERR_STATE' });
  });
});
