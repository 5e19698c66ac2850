/**
 * Connections held: N authenticated agent connections to one collector (child process), each
 * enrolled and signed in; reports how many are held after an idle period and the collector's RSS
 * per connection. Target 10,000 on the 2-core machine.
 *   node dist/test/bench/connections.js [--connections 10000] [--hold-s 10]
 */
import { createTokens, enrollRaw, httpCall, RawConnection, readArg, rssMiB, startCollectorProcess, writeSuiteResult, type Figure } from './lib.js';

const target = readArg('connections', 10_000);
const holdS = readArg('hold-s', 10);
const concurrency = 50;

const c = await startCollectorProcess();
const conns: RawConnection[] = [];
try {
  const rss0 = rssMiB(c.child.pid!);
  const tokens = createTokens(c.dataDir, target);
  let next = 0;
  let failed = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= target) return;
        try {
          conns.push(await RawConnection.open(c.url, await enrollRaw(c.url, tokens[i]!, `conn-${i}`, c.ca), c.ca));
        } catch {
          failed++;
        }
      }
    }),
  );
  const setupS = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, holdS * 1000));
  const open = conns.filter((x) => x.ws.readyState === x.ws.OPEN).length;
  const health = JSON.parse((await httpCall(`${c.url}/api/health`, c.ca ? { ca: c.ca } : {})).text) as { agents_connected: number };
  const rss1 = rssMiB(c.child.pid!);
  const figures: Figure[] = [
    { suite: 'connections', name: 'agent connections held after idle', value: health.agents_connected, unit: 'connections', limit: { value: 10_000, kind: 'min' }, note: `client side open: ${open}, failed: ${failed}, setup ${setupS.toFixed(1)} s incl. enrollment` },
    { suite: 'connections', name: 'collector RSS per connection', value: Number((((rss1 - rss0) * 1024) / Math.max(1, health.agents_connected)).toFixed(1)), unit: 'KiB', baseline: { name: 'collector RSS idle (MiB)', value: Math.round(rss0) } },
    { suite: 'connections', name: 'collector RSS with all connections', value: Math.round(rss1), unit: 'MiB' },
  ];
  writeSuiteResult('connections', figures, { target, holdS });
  for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.note ? ` (${f.note})` : ''}`);
} finally {
  for (const x of conns) x.ws.terminate();
  await c.stop();
}
