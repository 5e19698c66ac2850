import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerTokenCommand } from '../../../collector/main.js';
import { openStore } from '../../../collector/store/store.js';
import { AGENT_WS_PATH, CLOSE_CODES } from '../../../shared/protocol/version.js';
import { eventually } from '../../helpers/eventually.js';
import { caFetch } from '../../helpers/ca-fetch.js';
import { caFingerprintOfPem } from '../../../shared/ca-fingerprint.js';
import { connectReady, enroll, startCollector, stoppingEvent, tempDir, type Running } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../../..');

function tokenProgram(): Command {
  const program = new Command('seatguard').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerTokenCommand(program);
  return program;
}

describe('seatguard token create (in-process)', () => {
  const dirs: string[] = [];
  let run: Running | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await run?.cleanup();
    run = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('prints a token that a collector on the same data dir accepts, with department and pattern', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const out: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    await tokenProgram().parseAsync(['token', 'create', '--data', dir, '--ttl', '2h', '--department', 'Support', '--seat-pattern', 'CC-*'], { from: 'user' });
    vi.restoreAllMocks();
    const token = out.join('').trim();
    expect(token).toMatch(/^sgt_[A-Za-z0-9_-]{43}$/);
    run = await startCollector({ dataDir: dir });
    const agent = await enroll(run.url, token, { hostname: 'CC-0001' });
    expect(run.collector.store.agents.get(agent.agentId)?.department).toBe('Support');
  });

  it('refuses a malformed --ttl with CLI_ERR_USAGE and exit code 2', async () => {
    const dir = tempDir();
    dirs.push(dir);
    await expect(tokenProgram().parseAsync(['token', 'create', '--data', dir, '--ttl', 'soon'], { from: 'user' })).rejects.toMatchObject({
      exitCode: 2,
      code: 'CLI_ERR_USAGE',
    });
  });

  it('refuses an invalid seat pattern with ENROLL_ERR_OPTIONS and creates nothing', async () => {
    const dir = tempDir();
    dirs.push(dir);
    await expect(
      tokenProgram().parseAsync(['token', 'create', '--data', dir, '--seat-pattern', 'bad pattern!'], { from: 'user' }),
    ).rejects.toMatchObject({ exitCode: 2, code: 'ENROLL_ERR_OPTIONS' });
    const store = openStore(join(dir, 'collector.db'));
    try {
      expect(store.db.prepare('SELECT count(*) AS n FROM enrollment_tokens').get()).toEqual({ n: 0 });
    } finally {
      store.close();
    }
  });
});

// The collector command runs in a real child process: compiled with tsc (only collector/main.ts and
// what it imports) into .cache, because Node 20 cannot run TypeScript directly.
describe('seatguard collector (child process)', () => {
  const outDir = join(ROOT, '.cache', `cli-test-${process.pid}`);
  const entry = join(outDir, 'collector', 'main.js');
  let child: ChildProcess | undefined;
  const dirs: string[] = [];

  beforeAll(() => {
    mkdirSync(outDir, { recursive: true });
    const tsconfig = join(outDir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({ extends: join(ROOT, 'tsconfig.json'), compilerOptions: { rootDir: ROOT, outDir, noEmit: false, sourceMap: false }, files: [join(ROOT, 'collector/main.ts')], include: [] }),
    );
    // Type errors elsewhere in the tree must not block this test: tsc still emits.
    spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { cwd: ROOT, encoding: 'utf8' });
    if (!existsSync(entry)) throw new Error(`tsc did not emit ${entry}`);
  }, 120_000);
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('logs JSON with the https URL, the CA fingerprint and the api-token path, and on SIGTERM commits, acks and exits 0', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const proc = spawn(process.execPath, [entry, 'collector', '--data', dir, '--listen', '127.0.0.1:0', '--log-level', 'info'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

    const listening = await eventually(() => {
      const l = lines.find((x) => x.msg === 'collector listening');
      if (!l) throw new Error('not listening yet');
      return l;
    }, 15_000);
    const url = String(listening.url);
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(lines.some((l) => l.api_token_file === join(dir, 'api-token'))).toBe(true);
    const caPem = readFileSync(join(dir, 'tls', 'ca.pem'), 'utf8');
    const pinLine = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('agents pin this CA'));
    expect(pinLine).toMatchObject({ ca_fingerprint: caFingerprintOfPem(caPem), ca_file: join(dir, 'tls', 'ca.pem') });
    expect(listening.ca_fingerprint).toBe(caFingerprintOfPem(caPem));

    // The token CLI writes to the same database while the collector process runs (WAL + busy_timeout).
    const token = await createTokenVia(dir);
    const fake = { url, wsUrl: url.replace('http', 'ws') + AGENT_WS_PATH, caPem, fetch: caFetch(caPem) } as Running;
    const agent = await enroll(url, token, {}, fake.fetch);
    const { conn } = await connectReady(fake, agent);
    for (let seq = 1; seq <= 5; seq++) conn.send(stoppingEvent(seq));
    await eventually(() => conn.ackedSeqs().length === 5);

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((await conn.closed).code).toBe(CLOSE_CODES.shuttingDown);
    expect(lines.some((l) => l.msg === 'collector stopped')).toBe(true);
    const store = openStore(join(dir, 'collector.db'));
    try {
      expect(store.events.count()).toBe(5);
    } finally {
      store.close();
    }
  });
});

async function createTokenVia(dir: string): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await tokenProgram().parseAsync(['token', 'create', '--data', dir], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out.join('').trim();
}
