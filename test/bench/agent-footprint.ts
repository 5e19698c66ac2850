/**
 * Agent footprint: a real `seatguard agent` process connected to a collector — idle RSS, CPU over
 * an idle window (% of one core) — and the cost of one full software scan (dpkg status parse) and
 * one process scan (every /proc/PID/exe hashed, then again from the inode cache) on this machine.
 * Targets: RSS < 60 MB, idle CPU < 0.5 % of a core.
 *   node dist/test/bench/agent-footprint.js [--idle-s 60]
 */
import { spawn } from 'node:child_process';
import { silentLogger } from '../../shared/logger.js';
import { createLinuxSoftwareInventory } from '../../agent/platform/linux/software/linux-software-inventory.js';
import { createExecRunner } from '../../agent/platform/linux/software/command-runner.js';
import { createLinuxProcessLister } from '../../agent/platform/linux/process/linux-process-lister.js';
import { CLI, cpuSeconds, createTokens, readArg, rssMiB, startCollectorProcess, tempDir, writeSuiteResult, type Figure } from './lib.js';

const idleS = readArg('idle-s', 60);
const c = await startCollectorProcess();
const figures: Figure[] = [];
try {
  const [token] = createTokens(c.dataDir, 1);
  const state = tempDir('sg-bench-agent-');
  const agent = spawn(process.execPath, [CLI, 'agent', '--collector', c.url, '--state', state, '--platform', 'fake', '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SEATGUARD_ENROLL_TOKEN: token! },
  });
  try {
    await new Promise((r) => setTimeout(r, 5_000)); // enrolled, connected, first sensor runs done
    const cpu0 = cpuSeconds(agent.pid!);
    const t0 = performance.now();
    let peakRss = 0;
    while (performance.now() - t0 < idleS * 1000) {
      await new Promise((r) => setTimeout(r, 1_000));
      peakRss = Math.max(peakRss, rssMiB(agent.pid!));
    }
    const cpuPct = ((cpuSeconds(agent.pid!) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
    figures.push(
      { suite: 'agent-footprint', name: 'agent RSS (peak over the idle window)', value: Number(peakRss.toFixed(1)), unit: 'MiB', limit: { value: 60, kind: 'max' } },
      { suite: 'agent-footprint', name: `agent CPU, idle ${idleS} s`, value: Number(cpuPct.toFixed(3)), unit: '% of a core', limit: { value: 0.5, kind: 'max' } },
    );
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
  }

  const log = silentLogger();
  const software = createLinuxSoftwareInventory({ root: '/', runCommand: createExecRunner(), log });
  let t = performance.now();
  const cpuA = process.cpuUsage();
  const pkgs = await software.list();
  const swMs = performance.now() - t;
  const swCpu = process.cpuUsage(cpuA);
  figures.push({ suite: 'agent-footprint', name: `full software scan (${pkgs.length} packages)`, value: Number(swMs.toFixed(1)), unit: 'ms', note: `CPU ${((swCpu.user + swCpu.system) / 1000).toFixed(1)} ms` });

  const procs = createLinuxProcessLister({ root: '/', log });
  t = performance.now();
  const list = await procs.list();
  const coldMs = performance.now() - t;
  t = performance.now();
  await procs.list();
  const warmMs = performance.now() - t;
  figures.push(
    { suite: 'agent-footprint', name: `process scan, cold (${list.length} processes, every exe hashed)`, value: Number(coldMs.toFixed(1)), unit: 'ms' },
    { suite: 'agent-footprint', name: 'process scan, warm (inode cache)', value: Number(warmMs.toFixed(1)), unit: 'ms', baseline: { name: 'cold scan ms', value: Number(coldMs.toFixed(1)) }, ratio: warmMs / coldMs },
  );
} finally {
  await c.stop();
}
writeSuiteResult('agent-footprint', figures, { idleS });
for (const f of figures) console.log(`${f.name}: ${f.value} ${f.unit}${f.note ? ` (${f.note})` : ''}`);
