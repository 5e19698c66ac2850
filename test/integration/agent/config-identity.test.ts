import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/logger.js';
import { AGENT_DEFAULTS, loadAgentConfig } from '../../../agent/config.js';
import { ensureIdentity, loadIdentity, IDENTITY_FILE, KEY_FILE } from '../../../agent/identity.js';
import { selectPlatform } from '../../../agent/platform/index.js';
import { createFakeCollector, type FakeCollector } from '../../helpers/fake-collector.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sg-id-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function collector(): Promise<{ fc: FakeCollector; url: string }> {
  const fc = createFakeCollector();
  const { url } = await fc.start();
  cleanups.push(() => fc.stop());
  return { fc, url };
}

describe('loadAgentConfig', () => {
  it('applies the documented defaults and freezes the result', () => {
    const c = loadAgentConfig({ collectorUrl: 'https://127.0.0.1:8443/', stateDir: '/var/lib/seatguard' });
    expect(c).toMatchObject({ ...AGENT_DEFAULTS, collectorUrl: 'https://127.0.0.1:8443', stateDir: '/var/lib/seatguard' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every problem at once in one CONFIG_ERR_INVALID', () => {
    let caught: unknown;
    try {
      loadAgentConfig({ collectorUrl: 'ftp://x', platform: 'amiga', backoffBaseMs: '-1', seatName: 'bad name', surprise: 1 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'CONFIG_ERR_INVALID' });
    const problems = (caught as { details: { problems: string[] } }).details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'unknown option surprise',
        'collectorUrl must be http:// or https://',
        'stateDir is required',
        expect.stringMatching(/^platform must be one of/),
        expect.stringMatching(/^backoffBaseMs must be an integer/),
        expect.stringMatching(/^seatName must be/),
      ]),
    );
  });

  it('accepts numeric strings from the command line', () => {
    expect(loadAgentConfig({ collectorUrl: 'https://h', stateDir: 's', backoffBaseMs: '10', backoffCapMs: '200' })).toMatchObject({ backoffBaseMs: 10, backoffCapMs: 200 });
  });

  it('refuses fakeStdin unless the platform is fake', () => {
    expect(() => loadAgentConfig({ collectorUrl: 'https://h', stateDir: 's', fakeStdin: true })).toThrow(/fakeStdin needs platform fake/);
  });
});

describe('selectPlatform', () => {
  it('refuses windows with CONFIG_ERR_INVALID instead of running without a lock', () => {
    expect(() => selectPlatform('windows', { log: silentLogger() })).toThrow(expect.objectContaining({ code: 'CONFIG_ERR_INVALID', message: expect.stringContaining('windows platform is planned') }));
  });

  it('returns the scriptable fake for fake', () => {
    expect(selectPlatform('fake', { log: silentLogger() }).name).toBe('fake');
  });
});

describe('ensureIdentity', () => {
  it('enrolls once, writes agent.json and an owner-only key, and reuses them later', async () => {
    const { fc, url } = await collector();
    const dir = join(tmp(), 'state');
    const first = await ensureIdentity({ stateDir: dir, collectorUrl: url, enrollToken: fc.createEnrollmentToken(), hostname: 'seat-7', platform: 'fake', seatName: 'cc-lyon-007', log: silentLogger() });
    expect(first.agentId).toMatch(/^agt_/);
    expect(first.seatName).toBe('cc-lyon-007');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, IDENTITY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, IDENTITY_FILE), 'utf8')).not.toContain('PRIVATE');

    // No token needed the second time: the identity is reused, not re-enrolled.
    const again = await ensureIdentity({ stateDir: dir, collectorUrl: url, enrollToken: null, hostname: 'seat-7', platform: 'fake', seatName: null, log: silentLogger() });
    expect(again.agentId).toBe(first.agentId);
    expect(fc.agentIds()).toHaveLength(1);
  });

  it('reports a refused token as ENROLL_ERR_TOKEN and keeps the key for the next try', async () => {
    const { url } = await collector();
    const dir = tmp();
    await expect(ensureIdentity({ stateDir: dir, collectorUrl: url, enrollToken: 'sgt_not-a-real-token', hostname: 'h', platform: 'fake', seatName: null, log: silentLogger() })).rejects.toMatchObject({ code: 'ENROLL_ERR_TOKEN' });
    expect(loadIdentity(dir)).toBeNull();
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toContain('PRIVATE KEY');
  });

  it('reports an unreachable collector as AGENT_ERR_ENROLL', async () => {
    const { fc, url } = await collector();
    const t = fc.createEnrollmentToken();
    await fc.stop();
    await expect(ensureIdentity({ stateDir: tmp(), collectorUrl: url, enrollToken: t, hostname: 'h', platform: 'fake', seatName: null, log: silentLogger() })).rejects.toMatchObject({ code: 'AGENT_ERR_ENROLL' });
  });

  it('refuses to start unenrolled without a token', async () => {
    await expect(ensureIdentity({ stateDir: tmp(), collectorUrl: 'http://127.0.0.1:9', enrollToken: null, hostname: 'h', platform: 'fake', seatName: null, log: silentLogger() })).rejects.toMatchObject({ code: 'AGENT_ERR_IDENTITY' });
  });

  it('reports a damaged identity file as AGENT_ERR_IDENTITY', () => {
    const dir = tmp();
    writeFileSync(join(dir, IDENTITY_FILE), '{"agent_id": "<script>", "collector_url": 5}');
    expect(() => loadIdentity(dir)).toThrow(expect.objectContaining({ code: 'AGENT_ERR_IDENTITY' }));
  });
});
