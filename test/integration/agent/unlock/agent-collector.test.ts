import { createPublicKey } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { deriveSeatSecret } from '../../../../shared/domain/offline-code.js';
import { silentLogger } from '../../../../shared/logger.js';
import { collectorMessage } from '../../../../shared/protocol/encode.js';
import { createAgentUnlock } from '../../../../agent/grants/agent-unlock.js';
import { GRANTS_FILE } from '../../../../agent/grants/grant-store.js';
import { loadIdentity, OFFLINE_SECRET_FILE } from '../../../../agent/identity.js';
import { fakeDeviceHash } from '../../../../agent/platform/fake/device-spec.js';
import { FakeUsbPlatform } from '../../../../agent/platform/fake/fake-platform.js';
import { POLICY_FILE, rulesSha256 } from '../../../../agent/policy/policy-file.js';
import { eventually } from '../../../helpers/eventually.js';
import { deviceFixture, startInProcessAgent, type InProcessAgent } from '../../../helpers/fake-agent.js';
import { createFakeCollector, type FakeCollector } from '../../../helpers/fake-collector.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'sg-unlock-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function collector(opts: Parameters<typeof createFakeCollector>[0] = {}): Promise<{ fc: FakeCollector; url: string }> {
  const fc = createFakeCollector(opts);
  const { url } = await fc.start();
  cleanups.push(() => fc.stop());
  return { fc, url };
}

async function agentOn(url: string, fc: FakeCollector, dir: string, platform = new FakeUsbPlatform()): Promise<InProcessAgent> {
  const a = await startInProcessAgent({ collectorUrl: url, stateDir: dir, token: fc.createEnrollmentToken(), platform, unlock: { checkIntervalMs: 50 } });
  cleanups.push(() => a.stop());
  // Commands count only after welcome: an event stored by the collector proves the session is up.
  await eventually(() => expect(fc.events(a.identity.agentId).map((e) => e.type)).toContain('agent.started'));
  return a;
}

const STICK = deviceFixture('sandisk-ultra-fit');
const types = (fc: FakeCollector, agentId: string) => fc.events(agentId).map((e) => e.type);

function grantFrame(id: string, durationMs: number, warnMs: number, port = '1-2'): string {
  const now = Date.now();
  return collectorMessage('unlock.granted', {
    grant_id: id,
    request_id: `req_${id}`,
    device: { vendor_id: STICK.vendor_id, product_id: STICK.product_id, serial: STICK.serial ?? null, hash: fakeDeviceHash(STICK), port },
    any_port: false,
    allow_reinsert: false,
    issued_at: new Date(now).toISOString(),
    expires_at: new Date(now + durationMs).toISOString(),
    duration_ms: durationMs,
    warn_before_ms: warnMs,
    executor: 'usr_maint',
  });
}

describe('agent ↔ collector: unlock commands', () => {
  it('applies a pushed grant, warns, relocks at expiry and reports the whole life of the grant', async () => {
    const { fc, url } = await collector();
    const dir = await tempDir();
    const a = await agentOn(url, fc, dir);
    a.platform.insert(structuredClone(STICK), { port: '1-2' });
    await eventually(() => expect(types(fc, a.identity.agentId)).toContain('usb.blocked'));
    fc.broadcast(grantFrame('grt_live', 600, 300));
    await eventually(() => expect(a.platform.interfaceState('1-2:1.0')?.authorized).toBe(true));
    await eventually(() => expect(a.platform.interfaceState('1-2:1.0')?.authorized).toBe(false), 5_000);
    await eventually(() => expect(types(fc, a.identity.agentId)).toContain('grant.ended'));
    const grantEvents = fc.events(a.identity.agentId).filter((e) => e.type.startsWith('grant.'));
    expect(grantEvents.map((e) => e.type)).toEqual(['grant.accepted', 'grant.applied', 'grant.warning', 'grant.ended']);
    expect(grantEvents.at(-1)?.body).toEqual({ grant_id: 'grt_live', reason: 'expired', relocked_interfaces: ['08:06:50'] });
    expect(statSync(join(dir, GRANTS_FILE)).mode & 0o777).toBe(0o600);
  });

  it('relocks at expiry while the collector is down and delivers grant.ended once it is back', async () => {
    const first = await collector();
    const dir = await tempDir();
    const a = await agentOn(first.url, first.fc, dir);
    a.platform.insert(structuredClone(STICK), { port: '1-2' });
    first.fc.broadcast(grantFrame('grt_offline', 800, 0));
    await eventually(() => expect(types(first.fc, a.identity.agentId)).toContain('grant.applied'));
    const port = Number(new URL(first.url).port);
    await first.fc.stop();
    await eventually(() => expect(a.platform.interfaceState('1-2:1.0')?.authorized).toBe(false), 5_000);
    expect(types(first.fc, a.identity.agentId)).not.toContain('grant.ended');
    // The collector comes back on the same address with the agent still enrolled.
    const again = createFakeCollector({ port });
    again.registerAgent(a.identity.agentId, publicKeyOf(a));
    await again.start();
    cleanups.push(() => again.stop());
    await eventually(() => expect(again.events(a.identity.agentId).find((e) => e.type === 'grant.ended')?.body).toEqual({ grant_id: 'grt_offline', reason: 'expired', relocked_interfaces: ['08:06:50'] }), 10_000);
  });

  it('applies a policy.updated, reports policy.applied, and keeps enforcing it after a restart without the collector', async () => {
    const { fc, url } = await collector();
    const dir = await tempDir();
    const a = await agentOn(url, fc, dir);
    const rules = `allow id ${STICK.vendor_id}:${STICK.product_id} serial "${STICK.serial}"\nallow except-interface { 08:*:* }\n`;
    fc.broadcast(collectorMessage('policy.updated', { version: 4, rules, sha256: rulesSha256(rules) }));
    await eventually(() => expect(fc.events(a.identity.agentId).find((e) => e.type === 'policy.applied')?.body).toEqual({ version: 4, sha256: rulesSha256(rules), ok: true, detail: '2 rules' }));
    expect(statSync(join(dir, POLICY_FILE)).mode & 0o777).toBe(0o600);
    // A bad one next: refused, reported, the previous stays.
    fc.broadcast(collectorMessage('policy.updated', { version: 5, rules: 'allow with-interface {', sha256: rulesSha256('allow with-interface {') }));
    await eventually(() => expect(fc.events(a.identity.agentId).filter((e) => e.type === 'policy.applied')).toHaveLength(2));
    expect(fc.events(a.identity.agentId).at(-1)?.body).toMatchObject({ version: 5, ok: false });
    await a.stop();
    cleanups.pop();
    // Restart offline: the saved version 4 is enforced (the stick is allowed by it).
    const platform = new FakeUsbPlatform();
    const unlock = createAgentUnlock({ stateDir: dir, platform, emit: () => undefined, clock: new ManualClock(), log: silentLogger() });
    cleanups.push(async () => unlock.close());
    expect(unlock.rules.current()).toMatchObject({ version: 4, source: 'saved', ruleCount: 2 });
    const d = await platform.readDevice(platform.insert(structuredClone(STICK), { port: '1-3' }));
    expect(unlock.policy.decide(d!, { presentAtStart: false, now: 0 }).target).toBe('allow');
  });

  it('falls back to the built-in default (storage blocked) when the saved policy was tampered with', async () => {
    const dir = await tempDir();
    writeFileSync(join(dir, POLICY_FILE), JSON.stringify({ version: 9, sha256: rulesSha256('allow'), rules: 'allow\nallow' }));
    const platform = new FakeUsbPlatform();
    const unlock = createAgentUnlock({ stateDir: dir, platform, emit: () => undefined, clock: new ManualClock(), log: silentLogger() });
    cleanups.push(async () => unlock.close());
    expect(unlock.rules.current()).toMatchObject({ version: 0, source: 'default' });
    const d = await platform.readDevice(platform.insert(structuredClone(STICK), { port: '1-3' }));
    expect(unlock.policy.decide(d!, { presentAtStart: false, now: 0 })).toMatchObject({ target: 'allow', exceptInterfaces: ['08:*:*'] });
  });
});

describe('enrollment: the offline secret', () => {
  it('stores the offline secret from the enrollment answer (0600) and loads it with the identity', async () => {
    const master = Buffer.alloc(32, 5);
    const { fc, url } = await collector({ offlineMasterKey: master });
    const dir = await tempDir();
    const a = await agentOn(url, fc, dir);
    expect(a.identity.offlineSecret?.equals(deriveSeatSecret(master, a.identity.agentId))).toBe(true);
    expect(statSync(join(dir, OFFLINE_SECRET_FILE)).mode & 0o777).toBe(0o600);
    expect(loadIdentity(dir)?.offlineSecret?.equals(deriveSeatSecret(master, a.identity.agentId))).toBe(true);
  });

  it('enrolls without one when the collector sends none (offline codes then report OFFLINE_ERR_NO_SECRET)', async () => {
    const { fc, url } = await collector();
    const dir = await tempDir();
    const a = await agentOn(url, fc, dir);
    expect(a.identity.offlineSecret).toBeNull();
    expect(loadIdentity(dir)?.offlineSecret).toBeNull();
  });
});

/** The agent's public key as the collector registered it at enrollment. */
function publicKeyOf(a: InProcessAgent): string {
  return createPublicKey(a.identity.privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
}
