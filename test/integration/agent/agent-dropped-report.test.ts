import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgent } from '../../../agent/agent.js';
import { createFakePlatform } from '../../../agent/platform/fake/fake-platform.js';
import { createOutbox, type Outbox } from '../../../agent/store/outbox.js';
import { systemClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import { eventually } from '../../helpers/eventually.js';
import { deviceFixture } from '../../helpers/fake-agent.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function reports(outbox: Outbox) {
  return outbox
    .pending(0, 10_000)
    .filter((e) => e.type === 'outbox.dropped')
    .map((e) => JSON.parse(e.frame) as { seq: number; body: { counts: Record<string, number>; from_seq: number; to_seq: number; reason: string } });
}

/** Plugs a storage stick in (usb.inserted + usb.blocked) and out (usb.removed); seqs count, since drops leave gaps. */
async function plugCycle(platform: ReturnType<typeof createFakePlatform>, outbox: Outbox): Promise<void> {
  const before = outbox.lastSeq();
  const port = platform.usb.insert(deviceFixture('sandisk-ultra-fit'));
  await eventually(() => outbox.lastSeq() >= before + 2);
  platform.usb.remove(port);
  await eventually(() => outbox.lastSeq() >= before + 3);
}

/** One agent run on the outbox file: start, plug a stick in and out `cycles` times, stop. */
async function run(path: string, cycles: number, dropReportIntervalMs = 3_600_000): Promise<Outbox> {
  const platform = createFakePlatform();
  const outbox = createOutbox({ path, maxEvents: 6 });
  const agent = createAgent({
    platform,
    outbox,
    log: silentLogger(),
    clock: systemClock,
    config: { resyncIntervalMs: 0, flushTimeoutMs: 0 },
    dropReportIntervalMs,
  });
  await agent.start();
  for (let i = 0; i < cycles; i++) await plugCycle(platform, outbox);
  await agent.stop('test');
  return outbox;
}

describe('agent: outbox.dropped report', () => {
  it('reports what a small-bounded outbox dropped once, at the next start, and not again after another restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-agent-dropped-'));
    dirs.push(dir);
    const path = join(dir, 'outbox.db');
    // The timer never fires in the first run: only the start-up report can pick the drops up.
    const first = await run(path, 4);
    expect(reports(first)).toEqual([]);
    const summary = first.dropped();
    expect(summary).not.toBeNull();
    first.close();

    const second = await run(path, 0);
    const after = reports(second);
    expect(after).toHaveLength(1);
    expect(after[0]!.body.reason).toBe('max_events');
    expect(after[0]!.body.from_seq).toBe(summary!.fromSeq);
    // Only low-severity types are ever summarized; the blocked events all survived.
    expect(Object.keys(after[0]!.body.counts).every((t) => t === 'usb.inserted' || t === 'usb.removed')).toBe(true);
    expect(second.pending(0, 10_000).filter((e) => e.type === 'usb.blocked')).toHaveLength(4);
    second.close();

    const third = await run(path, 0);
    expect(reports(third).map((r) => r.seq)).toEqual(after.map((r) => r.seq));
    third.close();
  });

  it('reports drops while running, on its timer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-agent-dropped-'));
    dirs.push(dir);
    const path = join(dir, 'outbox.db');
    const platform = createFakePlatform();
    const outbox = createOutbox({ path, maxEvents: 4 });
    const agent = createAgent({ platform, outbox, log: silentLogger(), clock: systemClock, config: { resyncIntervalMs: 0, flushTimeoutMs: 0 }, dropReportIntervalMs: 50 });
    await agent.start();
    for (let i = 0; i < 3; i++) await plugCycle(platform, outbox);
    await eventually(() => reports(outbox).length === 1);
    await agent.stop('test');
    outbox.close();
  });
});
