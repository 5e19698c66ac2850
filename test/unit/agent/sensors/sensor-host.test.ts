import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFakeSensorPlatform, type FakeSensorPlatform } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import {
  SENSOR_CONFIG_FILE,
  SENSOR_STATE_SUBDIR,
  createSensorHost,
  type SensorHost,
  type SensorHostEventType,
} from '../../../../agent/sensors/sensor-host.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { validateOutgoing } from '../../../../shared/protocol/decode.js';
import type { EventBody } from '../../../../shared/protocol/messages.js';
import { builtinSensorConfig, type SensorConfigBody } from '../../../../shared/protocol/sensor-config-messages.js';
import { eventually } from '../../../helpers/eventually.js';

const BAD_HASH = 'b'.repeat(64);

interface Recorded {
  type: SensorHostEventType;
  body: unknown;
}

/** Records events after checking each against its wire schema (inside a real envelope). */
function recorder() {
  const events: Recorded[] = [];
  const invalid: string[] = [];
  let seq = 0;
  const emit = <T extends SensorHostEventType>(type: T, body: EventBody<T>) => {
    seq++;
    const problem = validateOutgoing({ v: 1, type, id: `e-${seq}`, ts: new Date().toISOString(), seq, body } as { type: string });
    if (problem) invalid.push(`${type}: ${problem}`);
    events.push({ type, body });
  };
  const of = <T extends SensorHostEventType>(type: T) => events.filter((e) => e.type === type).map((e) => e.body as EventBody<T>);
  return { emit, events, invalid, of, types: () => events.map((e) => e.type) };
}

function config(over: Partial<SensorConfigBody> = {}): SensorConfigBody {
  return {
    version: 5,
    software_policy: {
      mode: 'audit',
      default: 'allow',
      allow: [],
      deny: [
        { id: 'ops.bad-hash', sha256: BAD_HASH, category: 'hacking', reason: 'known bad binary' },
        { id: 'ops.chat', package: 'acme-chat*', category: 'other' },
      ],
    },
    software_mode: 'audit',
    network_plan: [],
    must_be_offline: false,
    reachability_target: null,
    ...over,
  };
}

let stateDir: string;
let platform: FakeSensorPlatform;
let log: ReturnType<typeof recorder>;
const hosts: SensorHost[] = [];

function makeHost(): SensorHost {
  const host = createSensorHost({
    sensors: platform,
    emit: log.emit,
    log: silentLogger(),
    clock: new ManualClock(),
    stateDir,
    softwareDebounceMs: 5,
  });
  hosts.push(host);
  return host;
}

beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'sg-sensor-host-'));
  platform = createFakeSensorPlatform();
  platform.network.setInterfaces([{ name: 'eth0', mac: '02:00:00:00:00:01', ipv4: ['192.0.2.10'], ipv6: [], internal: false }]);
  platform.software.install({ name: 'bash', version: '5.2.15-2', arch: 'amd64' });
  log = recorder();
});

afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
  expect(log.invalid).toEqual([]);
  await rm(stateDir, { recursive: true, force: true });
});

describe('sensor host', () => {
  it('runs every sensor at start and reports a denied process in audit mode without killing it', async () => {
    const pid = platform.processes.spawn({ name: 'nmap', path: '/usr/bin/nmap', sha256: 'c'.repeat(64) });
    const host = makeHost();
    await host.start();

    expect(log.of('firmware.state')).toHaveLength(1);
    expect(log.of('software.inventory')).toEqual([{ sources: ['fake'], installed: 1, denied: 0 }]);
    expect(log.of('process.denied')).toMatchObject([{ pid, action: 'alerted', mode: 'audit', rule_id: 'default.hacking.exe.nmap' }]);
    expect(platform.processes.running(pid)).toBe(true);
    expect(host.status()).toEqual({ version: 0, softwareMode: 'audit', source: 'builtin', started: true });
  });

  it('kills the denied process at once when a config switches audit to enforce, and says so first', async () => {
    const pid = platform.processes.spawn({ name: 'tool', path: '/opt/tool', sha256: BAD_HASH });
    const host = makeHost();
    await host.applyConfig(config());
    await host.start();
    expect(log.of('process.denied')).toMatchObject([{ pid, action: 'alerted', rule_id: 'ops.bad-hash' }]);
    expect(platform.processes.running(pid)).toBe(true);

    log.events.length = 0;
    const r = await host.applyConfig(config({ version: 6, software_mode: 'enforce' }));

    expect(r).toEqual({ ok: true, version: 6, changed: true });
    expect(platform.processes.running(pid)).toBe(false);
    expect(log.types()).toEqual(['sensor.config_applied', 'process.denied']);
    expect(log.of('sensor.config_applied')).toMatchObject([{ version: 6, ok: true, software_mode: 'enforce', active_version: 6 }]);
    expect(log.of('process.denied')).toMatchObject([{ pid, action: 'killed', mode: 'enforce' }]);
    expect(host.status()).toMatchObject({ version: 6, softwareMode: 'enforce', source: 'collector' });
  });

  it('uses software_mode even when the policy inside says otherwise', async () => {
    const pid = platform.processes.spawn({ name: 'tool', path: '/opt/tool', sha256: BAD_HASH });
    const host = makeHost();
    await host.start();
    const c = config({ software_mode: 'audit' });
    c.software_policy.mode = 'enforce';
    await host.applyConfig(c);
    expect(platform.processes.running(pid)).toBe(true);
    expect(log.of('process.denied').at(-1)).toMatchObject({ pid, action: 'alerted', mode: 'audit' });
  });

  it('refuses an invalid config, lists every error, keeps the previous one and kills nothing', async () => {
    const pid = platform.processes.spawn({ name: 'tool', path: '/opt/tool', sha256: BAD_HASH });
    const host = makeHost();
    await host.start();
    await host.applyConfig(config());
    log.events.length = 0;

    const bad = config({ version: 9, software_mode: 'enforce', must_be_offline: true, reachability_target: null });
    bad.software_policy.deny.push({ id: 'ops.bad-hash', package: 'x' }, { id: 'ops.range', package: 'nmap', versions: '< 7' });
    const r = await host.applyConfig(bad);

    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual(
      expect.arrayContaining([
        expect.stringContaining('reachability_target is required'),
        expect.stringContaining('duplicate rule id ops.bad-hash'),
        expect.stringContaining('ops.range'),
      ]),
    );
    expect(platform.processes.running(pid)).toBe(true);
    expect(host.status()).toMatchObject({ version: 5, softwareMode: 'audit' });
    expect(log.types()).toEqual(['sensor.config_applied']);
    expect(log.of('sensor.config_applied')[0]).toMatchObject({ version: 9, ok: false, software_mode: 'audit', active_version: 5 });
    const stored = JSON.parse(await readFile(join(stateDir, SENSOR_STATE_SUBDIR, SENSOR_CONFIG_FILE), 'utf8')) as { config: SensorConfigBody };
    expect(stored.config.version).toBe(5);
  });

  it('refuses a body that is not a config at all, with version 0', async () => {
    const host = makeHost();
    await host.start();
    for (const body of [null, 'enforce', { version: -1 }, { ...config(), extra: true }]) {
      const r = await host.applyConfig(body);
      expect(r.ok).toBe(false);
    }
    expect(log.of('sensor.config_applied').map((b) => [b.ok, b.version, b.active_version])).toEqual([
      [false, 0, 0],
      [false, 0, 0],
      [false, 0, 0],
      [false, 5, 0],
    ]);
    expect(host.status().version).toBe(0);
  });

  it('keeps enforcing the stored config after a restart without any collector', async () => {
    const first = makeHost();
    await first.start();
    await first.applyConfig(config({ version: 8, software_mode: 'enforce' }));
    await first.stop();

    const pid = platform.processes.spawn({ name: 'tool', path: '/opt/tool', sha256: BAD_HASH });
    const second = makeHost();
    await second.start();

    expect(second.status()).toEqual({ version: 8, softwareMode: 'enforce', source: 'stored', started: true });
    expect(platform.processes.running(pid)).toBe(false);
    expect(log.of('process.denied').at(-1)).toMatchObject({ pid, action: 'killed' });
  });

  it('falls back to the built-in config when the stored file is damaged or tampered with', async () => {
    const first = makeHost();
    await first.applyConfig(config({ version: 8, software_mode: 'enforce' }));
    await first.stop();
    const file = join(stateDir, SENSOR_STATE_SUBDIR, SENSOR_CONFIG_FILE);
    const stored = JSON.parse(await readFile(file, 'utf8')) as { config: SensorConfigBody };
    // Schema-valid but not compilable: the policy must be checked again at load, not trusted.
    stored.config.software_policy.deny.push({ id: 'ops.bad-hash', package: 'dup' });
    await writeFile(file, JSON.stringify(stored));

    const second = makeHost();
    await second.start();
    expect(second.status()).toMatchObject({ version: 0, softwareMode: 'audit', source: 'builtin' });

    await second.stop();
    await writeFile(file, '{not json');
    const third = makeHost();
    await third.start();
    expect(third.status()).toMatchObject({ version: 0, source: 'builtin' });
  });

  it('applies a config received before start and starts with it', async () => {
    const pid = platform.processes.spawn({ name: 'tool', path: '/opt/tool', sha256: BAD_HASH });
    const host = makeHost();
    expect(await host.applyConfig(config({ software_mode: 'enforce' }))).toMatchObject({ ok: true, changed: true });
    expect(platform.processes.running(pid)).toBe(true);
    await host.start();
    expect(platform.processes.running(pid)).toBe(false);
  });

  it('applies a resent identical config silently', async () => {
    const host = makeHost();
    await host.start();
    await host.applyConfig(config());
    log.events.length = 0;
    // Same content, different key order (as another JSON encoder might send it).
    const c = config();
    const reordered = Object.fromEntries(Object.entries(c).reverse());
    expect(await host.applyConfig(reordered)).toEqual({ ok: true, version: 5, changed: false });
    expect(log.events).toEqual([]);
  });

  it('reports a package the new policy denies at once, and one installed later through the package watch', async () => {
    platform.software.install({ name: 'acme-chat-pro', version: '2.1', arch: 'amd64' });
    const host = makeHost();
    await host.start();
    expect(log.of('software.denied')).toEqual([]);

    await host.applyConfig(config());
    expect(log.of('software.denied')).toMatchObject([{ package: { name: 'acme-chat-pro' }, rule_id: 'ops.chat', category: 'other', mode: 'audit' }]);

    platform.software.install({ name: 'nmap', version: '7.93', arch: 'amd64' });
    // The default denylist is gone (the config replaced it): nmap is now only "installed".
    await eventually(() => expect(log.of('software.installed')).toMatchObject([{ packages: [{ name: 'nmap' }] }]));
    expect(log.of('software.denied')).toHaveLength(1);
  });

  it('probes the offline target and checks the network plan as soon as the config asks for them', async () => {
    platform.network.setReachable('192.0.2.1', 443, true, 'fake: connected');
    const host = makeHost();
    await host.start();
    expect(log.of('network.reachability')).toEqual([]);

    await host.applyConfig(
      config({
        must_be_offline: true,
        reachability_target: { host: '192.0.2.1', port: 443 },
        network_plan: [{ iface: 'eth0', ipv4: '192.0.2.99' }],
      }),
    );

    expect(log.of('network.reachability')).toMatchObject([{ target: '192.0.2.1:443', state: 'reachable', violation: true }]);
    expect(log.of('network.plan_mismatch')).toMatchObject([{ iface: 'eth0', problems: ['ipv4'], resolved: false }]);
  });

  it('restarts a sensor whose period changed and keeps the others running', async () => {
    const host = makeHost();
    await host.start();
    log.events.length = 0;
    await host.applyConfig(config({ intervals: { firmware_ms: 120_000 } }));
    // Only the restarted firmware sensor reports its start state again.
    expect(log.of('firmware.state')).toMatchObject([{ reason: 'initial' }]);
    expect(log.of('software.inventory')).toEqual([]);
  });

  it('refuses configs after stop and does not restart sensors', async () => {
    const host = makeHost();
    await host.start();
    await host.stop();
    await host.stop();
    expect(await host.applyConfig(config())).toEqual({ ok: false, errors: ['sensor host is stopped'] });
    expect(host.status().started).toBe(false);
  });

  it('carries on when emit throws', async () => {
    const host = createSensorHost({
      sensors: platform,
      emit: () => {
        throw new Error('outbox full');
      },
      log: silentLogger(),
      clock: new ManualClock(),
      stateDir,
    });
    hosts.push(host);
    await host.start();
    expect(await host.applyConfig(config())).toMatchObject({ ok: true });
    expect(host.status().version).toBe(5);
  });
});

describe('builtinSensorConfig', () => {
  it('is audit mode with the default denylist, no plan and not offline', () => {
    const b = builtinSensorConfig();
    expect(b).toMatchObject({ version: 0, software_mode: 'audit', network_plan: [], must_be_offline: false, reachability_target: null });
    expect(b.software_policy.deny.length).toBeGreaterThan(50);
  });
});
