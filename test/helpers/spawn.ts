import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

/** Repository root (this file is test/helpers/spawn.ts, or dist/test/helpers/spawn.js when built). */
export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));
/** The built CLI that e2e tests spawn. */
export const CLI = `${REPO_ROOT}dist/scripts/seatguard.js`;

let built = false;

/**
 * Compiles dist/ once per test process, so e2e tests never run a stale build. Type errors elsewhere
 * in the tree do not stop tsc from emitting, so only a missing CLI fails.
 */
export function buildOnce(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [`${REPO_ROOT}node_modules/typescript/bin/tsc`, '-p', `${REPO_ROOT}tsconfig.build.json`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (!existsSync(CLI)) throw new Error(`build produced no ${CLI}:\n${r.stdout}\n${r.stderr}`);
  built = true;
}

/** A free TCP port on 127.0.0.1 (bound and released; fine for one test at a time). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface Spawned {
  child: ChildProcess;
  /** JSON log lines parsed from stdout so far; non-JSON lines go to `text`. */
  logs: LogLine[];
  text: string[];
  stderr: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Waits until a log line matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Writes one line to stdin. */
  send(line: string): void;
  /** Sends a signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** Calls `onLine` with each complete line of a child's output stream (the newline dropped), in order. */
export function onLines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  let partial = '';
  stream?.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      onLine(line);
    }
  });
}

/** Spawns `node dist/scripts/seatguard.js ...args` and collects its output. */
export function spawnCli(args: string[], opts: { stdin?: boolean } = {}): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  const text: string[] = [];
  const stderr: string[] = [];
  onLines(child.stdout, (line) => {
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      text.push(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    logs,
    text,
    stderr,
    exited,
    waitForLog: (match, timeoutMs = 15_000) =>
      eventually(() => {
        const hit = logs.find(match);
        if (!hit) throw new Error(`no matching log line yet (stderr: ${stderr.join('').slice(-500)})`);
        return hit;
      }, timeoutMs),
    send(line) {
      child.stdin?.write(`${line}\n`);
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** SIGKILLs every child this helper started that is still running (afterEach safety net). */
export async function killAll(): Promise<void> {
  const waits = [...running].map(
    (c) =>
      new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

/** Runs the CLI to completion and returns its stdout (for short commands like `token create`). */
export function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
