import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_BUNDLE_FILE } from '../../agent/build-root.js';
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from '../../agent/platform/linux/agent-node-flags.js';
import { createCollector, type Collector } from '../../collector/collector.js';
import { silentLogger } from '../../shared/logger.js';
import { eventually } from '../helpers/eventually.js';
import { deviceFixture } from '../helpers/fake-agent.js';
import { buildOnce, onLines, REPO_ROOT } from '../helpers/spawn.js';

// The one-file agent bundle that `seatguard agent install` puts on the systemd unit's ExecStart
// (dist/scripts/seatguard-agent.js, scripts/bundle-agent.ts), run as the unit runs it: node with
// AGENT_NODE_FLAGS (--lite-mode: no JIT, no WebAssembly) and AGENT_NODE_ENV (the unit's malloc settings). The full-CLI agent has its own e2e tests.

const BUNDLE = join(REPO_ROOT, 'dist', 'scripts', AGENT_BUNDLE_FILE);
const dirs: string[] = [];
const children: ChildProcess[] = [];
let collector: Collector | null = null;
let metafileDir = '';

beforeAll(() => {
  buildOnce();
  metafileDir = mkdtempSync(join(tmpdir(), 'sg-e2e-bundle-meta-'));
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'bundle-agent.js'), '--metafile', join(metafileDir, 'meta.json')], { cwd: REPO_ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}, 180_000);

afterAll(() => {
  if (metafileDir) rmSync(metafileDir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(
    children.splice(0).map((c) =>
      c.exitCode !== null || c.signalCode !== null ? undefined : new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
    ),
  );
  await collector?.stop();
  collector = null;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

describe('the one-file agent bundle', () => {
  it('contains no TypeBox module: every schema check the agent runs is a generated validator', () => {
    const meta = JSON.parse(readFileSync(join(metafileDir, 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs).map((p) => p.replace(/\\/g, '/'));
    // The metafile must be the agent's: its entry and its generated validators are inputs.
    expect(inputs).toContain('dist/agent/bundle-entry.js');
    expect(inputs).toContain('dist/shared/protocol/validators.gen.js');
    expect(inputs.filter((p) => /(^|\/)node_modules\/typebox\//.test(p))).toEqual([]);
  });

  it('is built next to the seatguard CLI and answers `agent --help` under the unit flags', () => {
    expect(existsSync(BUNDLE)).toBe(true);
    const r = spawnSync(process.execPath, [...AGENT_NODE_FLAGS, BUNDLE, 'agent', '--help'], { encoding: 'utf8', env: { ...process.env, ...AGENT_NODE_ENV } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--collector <url>');
    expect(r.stdout).toMatch(/probe/);
  });

  it('enrolls over TLS, blocks a storage stick and gets its events acknowledged by the collector', async () => {
    collector = createCollector({ dataDir: tmp('sg-e2e-bundle-c-'), host: '127.0.0.1', port: 0, log: silentLogger() });
    const { url, caFingerprint } = await collector.start();
    expect(caFingerprint).toBeTruthy();
    const args = [...AGENT_NODE_FLAGS, BUNDLE, 'agent', '--collector', url, '--state', tmp('sg-e2e-bundle-a-'), '--platform', 'fake', '--fake-stdin', '--log-level', 'debug', '--ca-fingerprint', caFingerprint!, '--resync-interval-ms', '0'];
    const agent = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...AGENT_NODE_ENV, SEATGUARD_ENROLL_TOKEN: collector.createEnrollmentToken() } });
    children.push(agent);
    const logs: Array<{ msg?: string; acked?: number }> = [];
    const stderr: string[] = [];
    onLines(agent.stdout, (line) => {
      try {
        logs.push(JSON.parse(line) as { msg?: string });
      } catch {
        // not a log line
      }
    });
    agent.stderr.on('data', (c: Buffer) => stderr.push(c.toString('utf8')));
    const seen = (msg: string) => () => expect(logs.some((l) => l.msg === msg), `${msg}; stderr: ${stderr.join('').slice(-500)}`).toBe(true);

    await eventually(seen('collector session ready'), 30_000);
    agent.stdin.write(`${JSON.stringify({ op: 'insert', port: '2-1', device: deviceFixture('sandisk-ultra-fit') })}\n`);
    await eventually(seen('usb device blocked'), 15_000);
    const acksBefore = logs.findIndex((l) => l.msg === 'usb device blocked');
    // Acknowledged only after the collector committed the events (the ack follows the blocked event).
    await eventually(() => expect(logs.slice(acksBefore).some((l) => l.msg === 'collector acknowledged events')).toBe(true), 15_000);
    expect(stderr.join('')).not.toMatch(/Error|WebAssembly/);
  });
});
