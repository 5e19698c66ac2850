import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollector, type Collector } from '../../../collector/collector.js';
import { runSimulatedFleet, isLoopbackUrl } from '../../../scripts/commands/simulate.js';
import { mulberry32 } from '../../../shared/prng.js';
import { eventually } from '../../helpers/eventually.js';
import { caFetch } from '../../helpers/ca-fetch.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function collector(): Promise<{ c: Collector; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-sim-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const c = createCollector({ dataDir: dir, heartbeatIntervalMs: 200, pingIntervalMs: 200 });
  const { url } = await c.start();
  cleanups.push(() => c.stop());
  return { c, url };
}

describe('runSimulatedFleet', () => {
  it('runs enrolled seats that produce traffic the collector stores, then stops them gracefully', async () => {
    const { c, url } = await collector();
    expect(url).toMatch(/^https:/);
    const fleet = await runSimulatedFleet({
      collectorUrl: url,
      ca: c.tls && { pem: c.tls.caPem, fingerprint: c.tls.caFingerprint },
      seats: 4,
      durationS: 0,
      enrollTokens: () => c.createEnrollmentToken(),
      meanActionIntervalMs: 20,
      startSpreadMs: 0,
      backoffBaseMs: 10,
      backoffCapMs: 100,
      seed: 7,
    });
    cleanups.push(() => fleet.stop());
    await eventually(() => expect(fleet.stats().connected).toBe(4));
    await eventually(() => expect(fleet.stats().actions.stick ?? 0).toBeGreaterThanOrEqual(3));
    const final = await fleet.stop();
    expect(final).toMatchObject({ seats: 4, enrolled: 4, enrollFailures: 0, outboxDepth: 0 });
    const fetch = caFetch(c.tls?.caPem ?? null);
    const res = await fetch(`${url}/api/v1/seats`, { headers: { authorization: `Bearer ${c.apiToken}` } });
    const seats = (await res.json()) as { seats: Array<{ agent_id: string }> };
    expect(seats.seats).toHaveLength(4);
    const ev = await fetch(`${url}/api/v1/events?type=usb.blocked&limit=5`, { headers: { authorization: `Bearer ${c.apiToken}` } });
    expect(((await ev.json()) as { events: unknown[] }).events.length).toBeGreaterThan(0);
  });

  it('counts seats it could not enroll and keeps running the others', async () => {
    const { c, url } = await collector();
    const fleet = await runSimulatedFleet({ collectorUrl: url, ca: c.tls && { pem: c.tls.caPem, fingerprint: c.tls.caFingerprint }, seats: 3, durationS: 0, enrollTokens: [c.createEnrollmentToken()], startSpreadMs: 0, meanActionIntervalMs: 1_000 });
    cleanups.push(() => fleet.stop());
    expect(fleet.stats()).toMatchObject({ seats: 3, enrolled: 1, enrollFailures: 2 });
  });

  it('refuses an https collector without its CA', async () => {
    await expect(runSimulatedFleet({ collectorUrl: 'https://127.0.0.1:1', seats: 1 })).rejects.toMatchObject({ code: 'CONFIG_ERR_INVALID', message: expect.stringContaining('needs its CA') });
  });

  it('refuses non-loopback collectors and out-of-bounds sizes', async () => {
    await expect(runSimulatedFleet({ collectorUrl: 'http://10.0.0.5:8443', seats: 1 })).rejects.toMatchObject({ code: 'CONFIG_ERR_INVALID' });
    await expect(runSimulatedFleet({ collectorUrl: 'http://127.0.0.1:1', seats: 100_000 })).rejects.toMatchObject({ code: 'CONFIG_ERR_INVALID' });
    await expect(runSimulatedFleet({ collectorUrl: 'http://127.0.0.1:1', seats: 1, durationS: 86_400 })).rejects.toMatchObject({ code: 'CONFIG_ERR_INVALID' });
    expect(isLoopbackUrl('http://localhost:1')).toBe(true);
    expect(isLoopbackUrl('http://127.0.0.1.evil.example:1')).toBe(false);
  });

  it('generates the same traffic for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});
