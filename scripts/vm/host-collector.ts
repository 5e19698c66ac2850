import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { httpRequestText } from '../../agent/transport/http-json.js';
import { caFingerprintOfPem } from '../../shared/ca-fingerprint.js';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';
import { createLineSplitter, isRecord, parseJsonObject } from './line-reader.js';
import { waitUntil, withTimeout } from './wait.js';

/** One stored event as the collector API returns it (body left as parsed JSON). */
export interface StoredEvent {
  id: number;
  agentId: string;
  seq: number;
  type: string;
  /** Agent-side timestamp (ISO). */
  ts: string;
  /** Collector-side receive timestamp (ISO). */
  receivedAt: string;
  body: Record<string, unknown>;
}

/** A seatguard collector process on the host, reachable from the guest at `guestUrl`. */
export interface HostCollector {
  /** https://127.0.0.1:PORT */
  url: string;
  /** The same collector as the guest sees it through QEMU user networking (10.0.2.2, a SAN of its certificate). */
  guestUrl: string;
  /** The collector CA fingerprint the guest agent pins. */
  caFingerprint: string;
  dataDir: string;
  createEnrollmentToken(): Promise<string>;
  /** agent_ids of enrolled seats. */
  seats(): Promise<string[]>;
  /** Every stored event of one seat, oldest first. */
  events(agentId: string): Promise<StoredEvent[]>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** Where the collector CLI is and where it keeps its data. */
export interface HostCollectorOptions {
  /** The seatguard CLI script (dist/scripts/seatguard.js). */
  cliPath: string;
  dataDir: string;
  nodePath?: string;
  startTimeoutMs?: number;
}

/** The host as a QEMU user-networking guest sees it. */
export const GUEST_HOST = '10.0.2.2';

/** Asks the OS for a free loopback port (the CLI wants an explicit --listen). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** Checks the built CLI exists; throws VM_ERR_HOST_PROCESS with the fix when it is missing. */
export function seatguardCli(cli: string): string {
  if (!fs.existsSync(cli)) {
    throw new AppError('VM_ERR_HOST_PROCESS', formatError('VM_ERR_HOST_PROCESS', 'seatguard', `${cli} is missing: run npm run build`));
  }
  return cli;
}

function runCli(nodePath: string, cli: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(nodePath, [cli, ...args], { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new AppError('VM_ERR_HOST_PROCESS', formatError('VM_ERR_HOST_PROCESS', `seatguard ${args.join(' ')}`, `${err.message} ${stderr}`), {
            cause: err,
          }),
        );
      } else resolve(stdout);
    });
  });
}

/** Extracts the token from `seatguard token create` output: a JSON {token} or the last word printed. */
export function parseTokenOutput(stdout: string): string | null {
  const obj = parseJsonObject(stdout.trim());
  if (obj && typeof obj.token === 'string') return obj.token;
  const words = stdout.trim().split(/\s+/);
  const last = words[words.length - 1];
  return last && /^[A-Za-z0-9_.~+/=-]{8,}$/.test(last) ? last : null;
}

/** Parses one row of the events API; null when it is not an event. */
export function toStoredEvent(v: unknown): StoredEvent | null {
  if (!isRecord(v)) return null;
  const { id, agent_id: agentId, seq, type, ts, received_at: receivedAt, body } = v;
  if (typeof id !== 'number' || typeof agentId !== 'string' || typeof seq !== 'number' || typeof type !== 'string') return null;
  return {
    id,
    agentId,
    seq,
    type,
    ts: typeof ts === 'string' ? ts : '',
    receivedAt: typeof receivedAt === 'string' ? receivedAt : '',
    body: isRecord(body) ? body : {},
  };
}

/**
 * The two reads every lab collector answers through its API (`api` GETs a path, parsed JSON):
 * the enrolled seats' agent ids, and one seat's stored events, oldest first, paged.
 */
export function seatQueries(api: (path: string) => Promise<unknown>): Pick<HostCollector, 'seats' | 'events'> {
  return {
    async seats() {
      const v = await api('/api/v1/seats?limit=200');
      const seats = isRecord(v) && Array.isArray(v.seats) ? v.seats : [];
      return seats.flatMap((s) => (isRecord(s) && typeof s.agent_id === 'string' ? [s.agent_id] : []));
    },
    async events(agentId) {
      const out: StoredEvent[] = [];
      let after = 0;
      for (let page = 0; page < 100; page++) {
        const v = await api(`/api/v1/seats/${encodeURIComponent(agentId)}/events?limit=500&after=${after}`);
        const rows = isRecord(v) && Array.isArray(v.events) ? v.events : [];
        for (const r of rows) {
          const e = toStoredEvent(r);
          if (e) out.push(e);
        }
        const next = isRecord(v) ? v.next_after : null;
        if (typeof next !== 'number') break;
        after = next;
      }
      return out;
    },
  };
}

/**
 * Spawns `seatguard collector --data DIR --listen 127.0.0.1:PORT` and waits for /api/health.
 * The guest reaches it as https://10.0.2.2:PORT (QEMU user networking maps that to host loopback).
 */
export async function startHostCollector(opts: HostCollectorOptions): Promise<HostCollector> {
  const nodePath = opts.nodePath ?? process.execPath;
  const cli = seatguardCli(opts.cliPath);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const lines: string[] = [];
  const keep = (l: string) => {
    lines.push(l);
    if (lines.length > 500) lines.splice(0, lines.length - 500);
  };
  // 10.0.2.2 is how the guest reaches the host: the server certificate must name it.
  const child: ChildProcess = spawn(nodePath, [cli, 'collector', '--data', opts.dataDir, '--listen', `127.0.0.1:${port}`, '--tls-name', GUEST_HOST], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', createLineSplitter(keep));
  child.stderr?.on('data', createLineSplitter(keep));
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
  });
  child.once('error', (err) => keep(`spawn error: ${err.message}`));
  process.once('exit', () => {
    if (!exited) child.kill('SIGKILL');
  });
  const tail = (n = 30) => lines.slice(-n).join('\n');
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    await withTimeout(exit, 10_000, () => new Error('collector ignored SIGTERM')).catch(() => {
      child.kill('SIGKILL');
      return withTimeout(exit, 5_000, () => new Error('collector survived SIGKILL'));
    });
  };

  let apiToken: string | null = null;
  const caFile = path.join(opts.dataDir, 'tls', 'ca.pem');
  const api = async (p: string): Promise<unknown> => {
    if (apiToken === null) apiToken = fs.readFileSync(path.join(opts.dataDir, 'api-token'), 'utf8').trim();
    const res = await httpRequestText(`${url}${p}`, { headers: { authorization: `Bearer ${apiToken}` }, ca: fs.readFileSync(caFile, 'utf8'), timeoutMs: 10_000, maxBytes: 32 << 20 });
    if (res.status !== 200) throw new Error(`GET ${p}: HTTP ${res.status} ${res.text}`);
    return JSON.parse(res.text) as unknown;
  };

  try {
    await waitUntil(
      async () => {
        if (exited) throw new AppError('VM_ERR_HOST_PROCESS', formatError('VM_ERR_HOST_PROCESS', 'collector', 'exited'));
        if (!fs.existsSync(caFile)) return false;
        const res = await httpRequestText(`${url}/api/health`, { ca: fs.readFileSync(caFile, 'utf8'), timeoutMs: 2_000 });
        return res.status === 200 && fs.existsSync(path.join(opts.dataDir, 'api-token'));
      },
      { timeoutMs: opts.startTimeoutMs ?? 30_000, intervalMs: 100, what: 'the collector /api/health', failFast: (e) => e instanceof AppError },
    );
  } catch (err) {
    await stop();
    throw new AppError('VM_ERR_HOST_PROCESS', formatError('VM_ERR_HOST_PROCESS', 'collector', `${String(err)}\n${tail()}`), { cause: err });
  }

  return {
    url,
    guestUrl: `https://${GUEST_HOST}:${port}`,
    caFingerprint: caFingerprintOfPem(fs.readFileSync(caFile, 'utf8')),
    dataDir: opts.dataDir,
    async createEnrollmentToken() {
      const out = await runCli(nodePath, cli, ['token', 'create', '--data', opts.dataDir], 30_000);
      const token = parseTokenOutput(out);
      if (!token) throw new AppError('VM_ERR_HOST_PROCESS', formatError('VM_ERR_HOST_PROCESS', 'token create', `no token in ${JSON.stringify(out)}`));
      return token;
    },
    ...seatQueries(api),
    logTail: tail,
    stop,
  };
}
