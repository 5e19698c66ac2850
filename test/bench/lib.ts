/**
 * Shared pieces of the benchmark suite (`npm run bench`). Benchmarks never gate CI: they print and
 * record figures next to a ceiling or baseline measured in the same run.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createEnrollmentTokens, httpCall, REPO_ROOT, startCollectorProcess as startProcess, type CollectorProcess, type Transport } from './unlock/collector-process.js';
import { AGENT_CHALLENGE_PATH, AUTH_HEADERS, ENROLL_PATH, generateAgentKeyPair, signChallenge } from '../../shared/protocol/agent-auth.js';
import { AGENT_WS_PATH, PROTOCOL_VERSION } from '../../shared/protocol/version.js';

export { CLI, collectorHasTls, httpCall, REPO_ROOT, summarize, type CollectorProcess, type Transport } from './unlock/collector-process.js';
export const RESULTS_DIR = join(REPO_ROOT, 'test/bench/results');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** One row of the results table: a figure next to its limit or baseline. */
export interface Figure {
  suite: string;
  name: string;
  value: number;
  unit: string;
  /** The target or ceiling, and how to compare. */
  limit?: { value: number; kind: 'max' | 'min' | 'ratio-min' };
  baseline?: { name: string; value: number };
  ratio?: number;
  note?: string;
}

export function writeSuiteResult(suite: string, figures: Figure[], extra: Record<string, unknown> = {}): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${suite}.json`), JSON.stringify({ suite, at: new Date().toISOString(), figures, ...extra }, null, 2));
}

export function readArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : fallback;
}

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** utime+stime of a process in seconds (from /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux x86-64
}

/** A collector child process on a free loopback port, with its data in a fresh temp dir by default; plain ws unless `transport: 'wss'`. */
export function startCollectorProcess(opts: { dataDir?: string; transport?: Transport } = {}): Promise<CollectorProcess> {
  return startProcess(opts.dataDir ?? tempDir('sg-bench-collector-'), opts.transport ? { transport: opts.transport } : {});
}

/** Creates enrollment tokens straight in the collector's database (as `seatguard token create` does). */
export const createTokens = createEnrollmentTokens;

export interface RawAgent {
  agentId: string;
  privateKey: KeyObject;
}

/** `ca`: the collector's certificates when it serves TLS (CollectorProcess.ca). */
export async function enrollRaw(url: string, token: string, name: string, ca?: string[]): Promise<RawAgent> {
  const keys = generateAgentKeyPair();
  const res = await httpCall(url + ENROLL_PATH, {
    method: 'POST',
    body: JSON.stringify({ token, public_key: keys.publicKeyB64, hostname: name, platform: 'fake', seat_name: name }),
    ...(ca ? { ca } : {}),
  });
  if (res.status !== 200) throw new Error(`enroll ${res.status}`);
  const body = JSON.parse(res.text) as { agent_id: string };
  return { agentId: body.agent_id, privateKey: createPrivateKey(keys.privateKeyPem) };
}

/** A minimal protocol client: signed upgrade, hello/welcome, events with seq, ack tracking. */
export class RawConnection {
  ws!: WebSocket;
  acked = 0;
  lastSeq = 0;
  private waiters: Array<() => void> = [];

  /** `ca`: the collector's certificates when `url` is https (wss, the CA is verified, not skipped). */
  static async open(url: string, agent: RawAgent, ca?: string[]): Promise<RawConnection> {
    const c = new RawConnection();
    const ch = await httpCall(`${url}${AGENT_CHALLENGE_PATH}?agent_id=${encodeURIComponent(agent.agentId)}`, ca ? { ca } : {});
    const { nonce } = JSON.parse(ch.text) as { nonce: string };
    c.ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_WS_PATH, {
      headers: {
        [AUTH_HEADERS.agentId]: agent.agentId,
        [AUTH_HEADERS.nonce]: nonce,
        [AUTH_HEADERS.signature]: signChallenge(agent.privateKey, agent.agentId, nonce),
      },
      perMessageDeflate: false,
      ...(ca ? { ca } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('error', reject);
    });
    const welcome = new Promise<void>((resolve) => {
      c.ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as { type: string; body: { seqs?: number[]; last_seq?: number } };
        if (m.type === 'welcome') {
          c.lastSeq = m.body.last_seq ?? 0;
          resolve();
        } else if (m.type === 'ack') {
          c.acked += m.body.seqs?.length ?? 0;
          for (const w of c.waiters.splice(0)) w();
        }
      });
    });
    c.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, type: 'hello', id: `h-${agent.agentId}`, ts: new Date().toISOString(), body: { agent_id: agent.agentId, agent_version: 'bench', platform: 'fake', hostname: 'bench', last_seq: 0 } }));
    await welcome;
    return c;
  }

  /** A realistic usb.blocked frame with the next seq. */
  nextEvent(): string {
    const seq = ++this.lastSeq;
    return JSON.stringify({
      v: PROTOCOL_VERSION,
      type: 'usb.blocked',
      id: `e-${seq}`,
      ts: new Date().toISOString(),
      seq,
      body: {
        device: { port: '1-2', vendor_id: '0781', product_id: '5583', bcd_device: '0100', serial: `4C53000${seq % 1000}`, manufacturer: 'SanDisk', product: 'Ultra Fit', hash: null, parent_hash: null, interfaces: ['08:06:50'], connect_type: 'hotplug' },
        blocked_interfaces: ['08:06:50'],
        allowed_interfaces: [],
        reason: 'default policy: mass storage',
      },
    });
  }

  /** Sends `count` events keeping at most `window` unacknowledged; resolves when all are acked. */
  async sendAll(count: number, window = 500): Promise<void> {
    const target = this.acked + count;
    let sent = 0;
    while (this.acked < target) {
      while (sent < count && sent - (this.acked - (target - count)) < window) {
        this.ws.send(this.nextEvent());
        sent++;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  close(): void {
    this.ws.close();
  }
}
