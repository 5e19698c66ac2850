import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { appendFile, chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileSoftwarePolicy, type SoftwarePolicy } from '../../../../shared/domain/software-policy.js';
import { silentLogger } from '../../../../shared/logger.js';
import { FakeProcessLister } from '../../../../agent/platform/fake/sensors/fake-sensors.js';
import { createLinuxProcessLister } from '../../../../agent/platform/linux/process/linux-process-lister.js';
import type { ProcessInfo, ProcessLister } from '../../../../agent/platform/sensors.js';
import { createProcessSensor } from '../../../../agent/sensors/process-sensor.js';
import { eventually } from '../../../helpers/eventually.js';
import { createEventLog } from './support.js';

const SLEEP = '/usr/bin/sleep';
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const policy = (p: Omit<SoftwarePolicy, 'default' | 'allow'> & Partial<SoftwarePolicy>) => {
  const r = compileSoftwarePolicy({ default: 'allow', allow: [], ...p });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.policy;
};

let dir: string;
const children: ChildProcess[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sg-procsensor-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

function run(path: string): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(path, ['300'], { stdio: 'ignore' });
  children.push(child);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, exit };
}

/** A copy of sleep with bytes appended: still runs, but has its own sha256. */
async function markedSleep(name: string): Promise<string> {
  const p = join(dir, name);
  await copyFile(SLEEP, p);
  await appendFile(p, Buffer.from(`\0seatguard-test-${name}\0`));
  await chmod(p, 0o755);
  return p;
}

async function waitUntilExecuted(pid: number, path: string): Promise<void> {
  const lister = createLinuxProcessLister({ root: '/', log: silentLogger() });
  await eventually(async () => (await lister.identify(pid))?.path === path, 5_000);
}

describe('process sensor on the real /proc', () => {
  it('kills a denied process in enforce mode after re-verifying its hash, reports it, and leaves a non-denied one alone', async () => {
    const denied = await markedSleep('denied-sleep');
    const harmless = await markedSleep('harmless-sleep');
    const deniedHash = sha(denied);
    expect(sha(harmless)).not.toBe(deniedHash);

    const bad = run(denied);
    const good = run(harmless);
    await waitUntilExecuted(bad.child.pid as number, denied);
    await waitUntilExecuted(good.child.pid as number, harmless);

    const log = createEventLog();
    const errors: Error[] = [];
    const sensor = createProcessSensor({
      lister: createLinuxProcessLister({ root: '/', log: silentLogger() }),
      policy: policy({ mode: 'enforce', deny: [{ id: 'test.denied-sleep', sha256: deniedHash, category: 'other', reason: 'test binary' }] }),
      emit: log.emit,
      log: silentLogger(),
      onError: (e) => errors.push(e),
      intervalMs: 3_600_000,
    });
    await sensor.scanNow();

    expect(await bad.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(log.of('process.denied')).toEqual([
      {
        pid: bad.child.pid,
        name: 'denied-sleep',
        path: denied,
        sha256: deniedHash,
        uid: process.getuid?.() ?? null,
        rule_id: 'test.denied-sleep',
        category: 'other',
        reason: 'test binary',
        mode: 'enforce',
        action: 'killed',
        detail: 're-verified sha256 and start time, then SIGKILL sent',
      },
    ]);
    expect(good.child.exitCode).toBeNull();
    expect(good.child.signalCode).toBeNull();
    expect(errors).toEqual([]);
    expect(log.errors).toEqual([]);
    await sensor.stop();
  });

  it('only reports (once) in audit mode, and the process keeps running', async () => {
    const denied = await markedSleep('audited-sleep');
    const p = run(denied);
    await waitUntilExecuted(p.child.pid as number, denied);
    const log = createEventLog();
    const sensor = createProcessSensor({
      lister: createLinuxProcessLister({ root: '/', log: silentLogger() }),
      policy: policy({ mode: 'audit', deny: [{ id: 'by-name', path: 'audited-sleep' }] }),
      emit: log.emit,
      log: silentLogger(),
      intervalMs: 3_600_000,
    });
    await sensor.scanNow();
    await sensor.scanNow();
    expect(log.of('process.denied').map((e) => [e.pid, e.action, e.rule_id])).toEqual([[p.child.pid, 'alerted', 'by-name']]);
    expect(p.child.exitCode).toBeNull();
    expect(p.child.signalCode).toBeNull();
  });
});

describe('process sensor decisions (fake lister)', () => {
  const H = 'b'.repeat(64);
  const enforce = policy({ mode: 'enforce', deny: [{ id: 'bad', sha256: H }] });

  function setup(lister: ProcessLister, protectedPids?: number[]) {
    const log = createEventLog();
    const sensor = createProcessSensor({ lister, policy: enforce, emit: log.emit, log: silentLogger(), intervalMs: 3_600_000, ...(protectedPids ? { protectedPids } : {}) });
    return { log, sensor };
  }

  it('never kills a protected pid (init, the agent itself) and says so', async () => {
    const fake = new FakeProcessLister();
    fake.spawn({ pid: 1, path: '/sbin/init', sha256: H });
    const { log, sensor } = setup(fake, [1]);
    await sensor.scanNow();
    expect(fake.running(1)).toBe(true);
    expect(log.of('process.denied').map((e) => e.action)).toEqual(['protected']);
  });

  it('does not kill when the image changed between the scan and the re-verification (PID reuse)', async () => {
    const fake = new FakeProcessLister();
    const pid = fake.spawn({ path: '/tmp/x', sha256: H });
    const racing: ProcessLister = {
      list: () => fake.list(),
      identify: (p) => {
        fake.replace(pid, { sha256: 'c'.repeat(64), startTime: '999', path: '/usr/bin/innocent' });
        return fake.identify(p);
      },
      terminate: (p) => fake.terminate(p),
    };
    const { log, sensor } = setup(racing);
    await sensor.scanNow();
    expect(fake.running(pid)).toBe(true);
    expect(fake.terminated).toEqual([]);
    expect(log.of('process.denied')).toEqual([]);
  });

  it('reports a failed kill once, not on every scan', async () => {
    const fake = new FakeProcessLister();
    const pid = fake.spawn({ path: '/tmp/x', sha256: H });
    fake.setUnkillable(pid);
    const { log, sensor } = setup(fake);
    await sensor.scanNow();
    await sensor.scanNow();
    expect(log.of('process.denied').map((e) => [e.action, e.detail])).toEqual([['kill_failed', 'fake: EPERM']]);
  });

  it('reports "gone" when the process exits before the kill', async () => {
    const fake = new FakeProcessLister();
    const pid = fake.spawn({ path: '/tmp/x', sha256: H });
    const exiting: ProcessLister = { list: () => fake.list(), identify: (p) => (fake.exit(pid), fake.identify(p)), terminate: (p) => fake.terminate(p) };
    const { log, sensor } = setup(exiting);
    await sensor.scanNow();
    expect(log.of('process.denied').map((e) => e.action)).toEqual(['gone']);
  });

  it('judges a replaced-on-disk binary by its original name ("(deleted)" suffix)', async () => {
    const fake = new FakeProcessLister();
    fake.spawn({ path: '/usr/bin/nmap (deleted)', sha256: 'd'.repeat(64) });
    const log = createEventLog();
    const sensor = createProcessSensor({ lister: fake, emit: log.emit, log: silentLogger(), intervalMs: 3_600_000 });
    await sensor.scanNow();
    expect(log.of('process.denied').map((e) => [e.rule_id, e.action])).toEqual([['default.hacking.exe.nmap', 'alerted']]);
  });

  it('survives a lister that throws, reporting through onError', async () => {
    const errors: Error[] = [];
    const broken: ProcessLister = { list: () => Promise.reject(new Error('proc unmounted')), identify: () => Promise.resolve(null as ProcessInfo | null), terminate: () => Promise.resolve({ result: 'failed', detail: '' }) };
    const sensor = createProcessSensor({ lister: broken, emit: createEventLog().emit, log: silentLogger(), onError: (e) => errors.push(e), intervalMs: 3_600_000 });
    await expect(sensor.start()).resolves.toBeUndefined();
    await sensor.stop();
    expect(errors.map((e) => e.message)).toEqual(['proc unmounted']);
  });
});
