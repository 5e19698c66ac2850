import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
  /** 'wss' when the collector serves TLS (its own CA, trusted through `ca`), else 'ws'. */
  transport: Transport;
  /** PEM certificates from DATA/tls/ to trust (TLS only). */
  ca?: string[];
  stop(): Promise<void>;
}

export type Transport = 'ws' | 'wss';

let tlsSupport: boolean | undefined;
/**
 * Whether the built collector serves TLS by default (issue 6): its CLI then has `--insecure-dev`
 * for plain ws. Read from `--help` so the suite works before and after that change.
 */
export function collectorHasTls(): boolean {
  if (tlsSupport === undefined) {
    const r = spawnSync(process.execPath, [CLI, 'collector', '--help'], { encoding: 'utf8', timeout: 30_000 });
    tlsSupport = `${r.stdout}${r.stderr}`.includes('--insecure-dev');
  }
  return tlsSupport;
}

/** Certificates the collector wrote under DATA/tls/ (its CA and server certificate). */
function tlsCertificates(dataDir: string): string[] {
  const dir = join(dataDir, 'tls');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => /\.(pem|crt)$/.test(f))
    .map((f) => readFileSync(f, 'utf8'))
    .filter((pem) => pem.includes('BEGIN CERTIFICATE') && !pem.includes('PRIVATE KEY'));
}

/**
 * A small HTTP(S) client: global fetch cannot be given a CA without undici's dispatcher, which is
 * not a dependency. Resolves with the status and the body text.
 */
export function httpCall(
  url: string,
  opts: { method?: string; body?: string; headers?: Record<string, string>; ca?: string[]; insecure?: boolean } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers = { ...(opts.body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers };
    const common = { method: opts.method ?? 'GET', headers, timeout: 30_000 };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, { ...common, ...(opts.ca ? { ca: opts.ca } : {}), rejectUnauthorized: opts.insecure !== true })
        : httpRequest(u, common);
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', reject);
    });
    req.end(opts.body);
  });
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

/**
 * The built collector as its own process (its own core), listening on a free loopback port.
 * `transport`: 'ws' (the default, plain, with `--insecure-dev` once the collector has TLS) or
 * 'wss' (TLS, only when the collector has it: throws otherwise).
 */
export async function startCollectorProcess(dataDir: string, opts: { transport?: Transport } = {}): Promise<CollectorProcess> {
  const wanted = opts.transport ?? 'ws';
  const switchable = collectorHasTls();
  if (wanted === 'wss' && !switchable) throw new Error('this collector build has no --insecure-dev option: ws and wss cannot both be measured');
  const port = await freePort();
  // SEATGUARD_BENCH_NODE_FLAGS: extra node flags for the collector (e.g. --cpu-prof) when profiling a suite.
  const extra = (process.env['SEATGUARD_BENCH_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  const args = ['--max-old-space-size=4096', ...extra, CLI, 'collector', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'];
  if (switchable && wanted === 'ws') args.push('--insecure-dev');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 30_000;
  // Whatever the flags say, the scheme that answers is the one in use (a build may serve TLS by
  // default before its CLI has --insecure-dev); liveness only, the CA is enforced afterwards.
  let transport: Transport | undefined;
  while (!transport) {
    for (const t of ['ws', 'wss'] as const) {
      try {
        if ((await httpCall(`${t === 'wss' ? 'https' : 'http'}://127.0.0.1:${port}/api/health`, { insecure: true })).status === 200) transport = t;
      } catch {
        // not listening yet, or the other scheme
      }
      if (transport) break;
    }
    if (transport) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('collector did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `${transport === 'wss' ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = transport === 'wss' ? tlsCertificates(dataDir) : undefined;
  if (ca?.length === 0) throw new Error(`collector serves TLS but wrote no certificate under ${join(dataDir, 'tls')}`);
  return {
    url,
    dataDir,
    child,
    transport,
    ...(ca ? { ca } : {}),
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
