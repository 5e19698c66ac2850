/**
 * Outbox replay: an agent that was offline holds N queued events in its SQLite outbox; measure the
 * time from connecting until the outbox is empty (every event committed and acked), next to live
 * ingest of the same number of events over a raw connection in the same run.
 *   node dist/test/bench/outbox-replay.js [--events 100000]
 */
import { join } from 'node:path';
import { silentLogger } from '../../shared/logger.js';
import { createOutbox } from '../../agent/store/outbox.js';
import { createCollectorClient } from '../../agent/transport/collector-client.js';
import { createTokens, enrollRaw, RawConnection, readArg, startCollectorProcess, tempDir, writeSuiteResult, type Figure } from './lib.js';

const events = readArg('events', 100_000);
const c = await startCollectorProcess();
try {
  const LIVE_CONNECTIONS = 10;
  const tokens = createTokens(c.dataDir, LIVE_CONNECTIONS + 1);
  const t2 = tokens[LIVE_CONNECTIONS];

  // Live: the same number of events streamed by 10 raw connections (each under the collector's
  // per-connection rate cap, which a single connection would hit), 500-event windows.
  const live: RawConnection[] = [];
  for (let i = 0; i < LIVE_CONNECTIONS; i++) live.push(await RawConnection.open(c.url, await enrollRaw(c.url, tokens[i]!, `bench-live-${i}`, c.ca), c.ca));
  let start = performance.now();
  await Promise.all(live.map((conn) => conn.sendAll(Math.ceil(events / LIVE_CONNECTIONS), 500)));
  const liveSecs = (performance.now() - start) / 1000;
  for (const conn of live) conn.close();

  // Replay: the real agent outbox filled while offline, then the real client drains it.
  const agent = await enrollRaw(c.url, t2!, 'bench-replay', c.ca);
  const outbox = createOutbox({ path: join(tempDir('sg-bench-outbox-'), 'outbox.db') });
  const proto = new RawConnection();
  const fill = performance.now();
  for (let i = 0; i < events; i++) {
    const body = (JSON.parse(proto.nextEvent()) as { body: never }).body;
    outbox.append('usb.blocked', body);
  }
  const fillSecs = (performance.now() - fill) / 1000;
  const client = createCollectorClient({
    collectorUrl: c.url,
    identity: agent,
    outbox,
    log: silentLogger(),
    hello: { agent_version: 'bench', platform: 'fake', hostname: 'bench-replay' },
    lockState: () => 'locked',
  });
  start = performance.now();
  client.start();
  while (outbox.depth() > 0) await new Promise((r) => setTimeout(r, 20));
  const replaySecs = (performance.now() - start) / 1000;
  await client.stop();
  outbox.close();

  const figures: Figure[] = [
    { suite: 'outbox-replay', name: `outbox fill (${events} appends, synchronous=FULL)`, value: Math.round(events / fillSecs), unit: 'events/s' },
    { suite: 'outbox-replay', name: `live ingest of ${events} events (10 raw connections)`, value: Math.round(events / liveSecs), unit: 'events/s' },
    {
      suite: 'outbox-replay',
      name: `replay of ${events} queued events after reconnect`,
      value: Number(replaySecs.toFixed(2)),
      unit: 's',
      baseline: { name: 'live ingest time', value: Number(liveSecs.toFixed(2)) },
      ratio: replaySecs / liveSecs,
      note: 'ratio = replay time / live ingest time (1.0 = as fast as live)',
    },
  ];
  writeSuiteResult('outbox-replay', figures, { events });
  for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? `  (ratio ${f.ratio.toFixed(2)})` : ''}`);
} finally {
  await c.stop();
}
