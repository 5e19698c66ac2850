import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../shared/clock.js';
import { silentLogger } from '../../../shared/logger.js';
import { DB_FILE } from '../../../collector/collector.js';
import { createEnrollmentService } from '../../../collector/enrollment/enrollment-service.js';
import { openStore } from '../../../collector/store/store.js';
import { join } from 'node:path';

/** Repository root, from the sources or from dist/. */
export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../../' : '../../../', import.meta.url));
/** The built CLI. */
export const CLI = join(REPO_ROOT, 'dist/scripts/seatguard.js');

export interface CollectorProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The built collector as its own process (its own core), listening on a free loopback port. */
export async function startCollectorProcess(dataDir: string): Promise<CollectorProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--max-old-space-size=4096', CLI, 'collector', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/api/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('collector did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dataDir,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Single-use enrollment tokens written straight into the collector's database (as `seatguard token create`). */
export function createEnrollmentTokens(dataDir: string, n: number): string[] {
  const store = openStore(join(dataDir, DB_FILE));
  try {
    const svc = createEnrollmentService({ store, clock: systemClock, log: silentLogger() });
    return Array.from({ length: n }, () => svc.createToken({ ttlMs: 3_600_000 }));
  } finally {
    store.close();
  }
}

/** Signs a user in through the API and returns the bearer token. */
export async function login(url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, client: 'cli' }),
  });
  const body = (await res.json()) as { token?: string };
  if (!res.ok || !body.token) throw new Error(`login ${username}: HTTP ${res.status}`);
  return body.token;
}

/** Percentiles (nearest rank) of a list of milliseconds. */
export function summarize(values: readonly number[]): { n: number; p50: number; p95: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => (s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number));
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] ?? NaN };
}
