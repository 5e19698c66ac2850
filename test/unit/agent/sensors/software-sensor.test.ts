import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compileSoftwarePolicy, DEFAULT_DENYLIST } from '../../../../shared/domain/software-policy.js';
import { MAX_FRAME_BYTES } from '../../../../shared/protocol/version.js';
import { silentLogger } from '../../../../shared/logger.js';
import { FakeSoftwareInventory } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import { createLinuxSoftwareInventory } from '../../../../agent/platform/linux/software/linux-software-inventory.js';
import type { InstalledPackage } from '../../../../agent/platform/sensors.js';
import { createMemoryBaselineStore } from '../../../../agent/sensors/baseline-store.js';
import { diffInventory } from '../../../../agent/sensors/software-diff.js';
import { createSoftwareSensor, type SoftwareSensor } from '../../../../agent/sensors/software-sensor.js';
import { eventually } from '../../../helpers/eventually.js';
import { FIXTURES, createEventLog } from './support.js';

const STATUS = readFileSync(join(FIXTURES, 'dpkg/status'), 'utf8');
const stanza = (name: string, version: string) =>
  `Package: ${name}\nStatus: install ok installed\nPriority: optional\nSection: net\nInstalled-Size: 4242\nMaintainer: Debian Security Tools <team+pkg-security@tracker.debian.org>\nArchitecture: amd64\nVersion: ${version}\nDescription: test package\n it is only a fixture\n`;

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function dpkgRoot(status: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sg-dpkg-'));
  cleanup.push(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'var/lib/dpkg/updates'), { recursive: true });
  await writeFile(join(root, 'var/lib/dpkg/status'), status);
  return root;
}

/** Writes the database the way dpkg does: status-new, keep status-old, rename over status. */
async function dpkgCommit(root: string, status: string): Promise<void> {
  const dir = join(root, 'var/lib/dpkg');
  await writeFile(join(dir, 'lock'), '');
  await writeFile(join(dir, 'status-new'), status);
  await rename(join(dir, 'status'), join(dir, 'status-old'));
  await rename(join(dir, 'status-new'), join(dir, 'status'));
}

function start(sensor: SoftwareSensor) {
  cleanup.push(() => sensor.stop());
  return sensor.start();
}

describe('software sensor', () => {
  it('reports the inventory at start, then an install detected through the dpkg directory watch', async () => {
    const root = await dpkgRoot(STATUS);
    const log = createEventLog();
    const errors: Error[] = [];
    const sensor = createSoftwareSensor({
      inventory: createLinuxSoftwareInventory({ root, log: silentLogger() }),
      emit: log.emit,
      log: silentLogger(),
      onError: (e) => errors.push(e),
      debounceMs: 50,
      intervalMs: 3_600_000,
    });
    await start(sensor);
    const total = STATUS.split(/\n\n+/).filter((s) => s.trim()).length;
    expect(log.of('software.inventory')).toEqual([{ sources: ['dpkg'], installed: total, denied: 0 }]);

    await dpkgCommit(root, `${STATUS.trimEnd()}\n\n${stanza('nmap', '7.93+dfsg1-1')}`);
    await eventually(() => log.of('software.installed').length === 1, 5_000);
    expect(log.of('software.installed')[0]?.packages).toEqual([{ name: 'nmap', version: '7.93+dfsg1-1', arch: 'amd64', source: 'dpkg' }]);
    expect(log.of('software.denied')).toEqual([
      {
        package: { name: 'nmap', version: '7.93+dfsg1-1', arch: 'amd64', source: 'dpkg' },
        rule_id: 'default.hacking.pkg.nmap',
        category: 'hacking',
        reason: 'security/hacking tool not permitted on call-center seats',
        mode: 'audit',
      },
    ]);

    // The watch survives dpkg's rename: a second transaction (removal) is seen too.
    await dpkgCommit(root, STATUS);
    await eventually(() => log.of('software.removed').length === 1, 5_000);
    expect(log.of('software.removed')[0]?.packages.map((p) => p.name)).toEqual(['nmap']);
    expect(errors).toEqual([]);
    expect(log.errors).toEqual([]);
  });

  it('coalesces a burst of database events into one rescan', async () => {
    const root = await dpkgRoot(STATUS);
    const inv = createLinuxSoftwareInventory({ root, log: silentLogger() });
    let lists = 0;
    const counting = { list: () => (lists++, inv.list()), watch: inv.watch.bind(inv) };
    const log = createEventLog();
    const sensor = createSoftwareSensor({ inventory: counting, emit: log.emit, log: silentLogger(), debounceMs: 200, intervalMs: 3_600_000 });
    await start(sensor);
    const base = lists;
    const next = `${STATUS.trimEnd()}\n\n${stanza('htop', '3.2.2-2')}`;
    for (let i = 0; i < 5; i++) await dpkgCommit(root, next);
    await eventually(() => log.of('software.installed').length === 1, 5_000);
    await sensor.rescan();
    // One debounced scan for the burst plus the explicit rescan above.
    expect(lists - base).toBe(2);
  });

  it('reports upgrades with the previous version and splits big changes under the frame limit', async () => {
    const inv = new FakeSoftwareInventory().install({ name: 'openssl', version: '3.0.11-1~deb12u1', arch: 'amd64' });
    const log = createEventLog();
    const sensor = createSoftwareSensor({ inventory: inv, emit: log.emit, log: silentLogger(), debounceMs: 5, intervalMs: 3_600_000 });
    await start(sensor);
    const hostile = 'ﾠ'.repeat(200);
    inv.install({ name: 'openssl', version: '3.0.13-1~deb12u1', arch: 'amd64' });
    for (let i = 0; i < 1500; i++) inv.install({ name: `pkg-${i}-${hostile}`, version: hostile, arch: 'amd64' });
    await eventually(() => log.of('software.installed').reduce((n, b) => n + b.packages.length, 0) === 1501, 5_000);
    const batches = log.of('software.installed');
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) {
      const frame = JSON.stringify({ v: 1, type: 'software.installed', id: 'x'.repeat(64), ts: new Date().toISOString(), seq: 1e15, body: b });
      expect(Buffer.byteLength(frame)).toBeLessThan(MAX_FRAME_BYTES);
    }
    expect(batches.flatMap((b) => b.packages).find((p) => p.name === 'openssl')).toEqual({
      name: 'openssl',
      version: '3.0.13-1~deb12u1',
      arch: 'amd64',
      source: 'fake',
      previous_version: '3.0.11-1~deb12u1',
    });
    expect(log.errors).toEqual([]);
  });

  it('never turns an unreadable database into "everything was removed"', async () => {
    const inv = new FakeSoftwareInventory().install({ name: 'bash', version: '5.2' }, { name: 'coreutils', version: '9.1' });
    const log = createEventLog();
    const errors: Error[] = [];
    const sensor = createSoftwareSensor({ inventory: inv, emit: log.emit, log: silentLogger(), onError: (e) => errors.push(e), intervalMs: 3_600_000 });
    await start(sensor);
    inv.setUnreadable('status: EIO');
    await sensor.rescan();
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(['SOFT_ERR_SOURCE']);
    inv.setUnreadable(null);
    await sensor.rescan();
    expect(log.of('software.removed')).toEqual([]);
    expect(sensor.current()?.map((p) => p.name).sort()).toEqual(['bash', 'coreutils']);
  });

  it('diffs against the stored baseline after a restart (installed while the agent was down)', async () => {
    const store = createMemoryBaselineStore<InstalledPackage[]>();
    const inv = new FakeSoftwareInventory().install({ name: 'bash', version: '5.2' });
    const first = createSoftwareSensor({ inventory: inv, emit: createEventLog().emit, log: silentLogger(), baseline: store, intervalMs: 3_600_000 });
    await first.start();
    await first.stop();
    inv.install({ name: 'steam', version: '1:1.0.0.78' }).remove('bash');
    const log = createEventLog();
    const second = createSoftwareSensor({ inventory: inv, emit: log.emit, log: silentLogger(), baseline: store, intervalMs: 3_600_000 });
    await start(second);
    expect(log.of('software.inventory')).toEqual([{ sources: ['fake'], installed: 1, denied: 1 }]);
    expect(log.of('software.installed')[0]?.packages.map((p) => p.name)).toEqual(['steam']);
    expect(log.of('software.removed')[0]?.packages.map((p) => p.name)).toEqual(['bash']);
    expect(log.of('software.denied').map((d) => d.rule_id)).toEqual(['default.game.pkg.steam']);
  });

  it('reports a denial once, and again when a new policy denies something new', async () => {
    const inv = new FakeSoftwareInventory().install({ name: 'nmap', version: '7.93' }, { name: 'vim', version: '9.0' });
    const log = createEventLog();
    const sensor = createSoftwareSensor({ inventory: inv, emit: log.emit, log: silentLogger(), intervalMs: 3_600_000 });
    await start(sensor);
    await sensor.rescan();
    expect(log.of('software.denied').map((d) => d.package.name)).toEqual(['nmap']);
    const stricter = compileSoftwarePolicy({ mode: 'enforce', default: 'allow', allow: [], deny: [...DEFAULT_DENYLIST, { id: 'no-vim', package: 'vim', category: 'other' }] });
    if (!stricter.ok) throw new Error(stricter.errors.join());
    await sensor.setPolicy(stricter.policy);
    expect(log.of('software.denied').map((d) => `${d.package.name}:${d.mode}`)).toEqual(['nmap:audit', 'vim:enforce']);
  });

  it('compares install-only packages (several kernels) version by version', () => {
    const k = (v: string): InstalledPackage => ({ name: 'kernel-core', version: v, arch: 'x86_64', publisher: null, source: 'rpm' });
    const d = diffInventory([k('6.8.8'), k('6.8.9')], [k('6.8.9'), k('6.8.10')]);
    expect(d.installed.map((p) => p.version)).toEqual(['6.8.10']);
    expect(d.removed.map((p) => p.version)).toEqual(['6.8.8']);
    expect(d.changed).toEqual([]);
  });

  it('stops cleanly: no scan after stop even if the database changes', async () => {
    const inv = new FakeSoftwareInventory();
    let lists = 0;
    const counting = { list: () => (lists++, inv.list()), watch: inv.watch.bind(inv) };
    const sensor = createSoftwareSensor({ inventory: counting, emit: createEventLog().emit, log: silentLogger(), debounceMs: 1, intervalMs: 3_600_000 });
    await sensor.start();
    await sensor.stop();
    const after = lists;
    inv.install({ name: 'x' });
    await new Promise((r) => setTimeout(r, 30));
    expect(lists).toBe(after);
  });
});
