import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, onLines, REPO_ROOT } from './spawn.js';

/**
 * CLI children for the fault-injection test, each in its own process group so a SIGKILL reaches
 * everything it started. Only the log lines the test asks for are kept (an agent under load writes
 * tens of thousands of info lines), plus the last warnings and stderr for failure messages.
 */
export interface GroupProc {
  readonly pid: number;
  readonly name: string;
  /** Resolves with the exit code, or the signal name, once the process is gone. */
  readonly exited: Promise<number | string>;
  alive(): boolean;
  /** How many log lines with this `msg` the process has written (tracked messages only). */
  count(msg: string): number;
  /** The tracked log lines with this `msg`, in order. */
  lines(msg: string): ReadonlyArray<Record<string, unknown>>;
  /** Writes one line to stdin; a dead process just drops it. */
  send(line: string): void;
  /** Signals the whole process group and waits for the exit (bounded). */
  stop(signal: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
  /** The last warnings/errors and stderr, for assertion messages. */
  tail(): string;
}

const groups = new Set<ChildProcess>();
const KEEP_WARNINGS = 40;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Spawns `node dist/scripts/seatguard.js ...args` as a process-group leader. */
export function spawnGroup(name: string, args: readonly string[], opts: { stdin?: boolean; track: readonly string[] }): GroupProc {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: spawn failed`);
  groups.add(child);
  const tracked = new Map<string, Array<Record<string, unknown>>>(opts.track.map((m) => [m, []]));
  const warnings: string[] = [];
  const stderr: string[] = [];
  let done = false;
  onLines(child.stdout, (line) => {
    // Cheap pre-filter: most lines are neither tracked nor warnings.
    const isWarn = line.includes('"level":40') || line.includes('"level":50') || line.includes('"level":60');
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
    const list = msg === undefined ? undefined : tracked.get(msg);
    if (!list && !isWarn) return;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    list?.push(parsed);
    if (isWarn) {
      warnings.push(line.slice(0, 400));
      if (warnings.length > KEEP_WARNINGS) warnings.shift();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr.push(chunk.toString('utf8'));
    if (stderr.length > 20) stderr.shift();
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      groups.delete(child);
      // Whatever the leader left behind in its group goes with it.
      killGroup(child, 'SIGKILL');
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const tail = () => `${name} warnings:\n${warnings.join('\n')}\n${name} stderr:\n${stderr.join('').slice(-2_000)}`;
  return {
    pid: child.pid,
    name,
    exited,
    alive: () => !done,
    count: (msg) => tracked.get(msg)?.length ?? 0,
    lines: (msg) => tracked.get(msg) ?? [],
    send(line) {
      if (!done && child.stdin?.writable) child.stdin.write(`${line}\n`);
    },
    async stop(signal, timeoutMs = 15_000) {
      if (!done) killGroup(child, signal);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} did not exit within ${timeoutMs} ms of ${signal}\n${tail()}`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    tail,
  };
}

/** SIGKILLs every process group this helper started that is still running (afterEach/afterAll). */
export async function killAllGroups(): Promise<void> {
  const waits = [...groups].map(
    (c) =>
      new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        killGroup(c, 'SIGKILL');
        // An exit that raced the listener still counts.
        if (c.exitCode !== null || c.signalCode !== null) resolve();
      }),
  );
  await Promise.all(waits);
}

/** Polls `cond` every `intervalMs` until true; throws `what` after `timeoutMs`. */
export async function waitUntil(what: string, cond: () => boolean, timeoutMs: number, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
