import { mkdtempSync, rmSync } from 'node:fs';
import { caFetch } from '../../helpers/ca-fetch.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCollector, type Collector } from '../../../collector/collector.js';
import type { UnlockPolicy } from '../../../collector/workflow/unlock-machine.js';
import { deviceFixture, startInProcessAgent, type InProcessAgent } from '../../helpers/fake-agent.js';
import { userApi } from '../../helpers/user-api.js';

/**
 * The real collector (SQLite, HTTP API, agent gateway, unlock workflow) in this process on
 * 127.0.0.1, users made through its user service and signed in through the login route, and
 * in-process agents on the fake platform with the unlock workflow and the seat socket.
 */

/** Unlock bounds small enough that a whole grant lives a few seconds. */
export const TEST_UNLOCK_POLICY: Partial<UnlockPolicy> = { minDurationMs: 500, maxDurationMs: 120_000, warnBeforeMs: 300, approvalsRequired: 1 };
const PASSWORD = 'e2e-password-0123';
const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };

export interface Site {
  collector: Collector;
  url: string;
  dataDir: string;
  /** The collector CA agents pin (the site runs HTTPS/WSS). */
  caFingerprint: string;
  /** Bearer tokens of signed-in users by username. */
  tokens: Record<string, string>;
  /** Stops the collector (the data dir stays for restart()). */
  stop(): Promise<void>;
  /** A new collector process-equivalent on the same data dir and port. */
  restart(): Promise<void>;
  api<T = unknown>(user: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }>;
  enrollToken(): string;
  cleanup(): Promise<void>;
}

function collectorOn(dataDir: string, port: number): Collector {
  return createCollector({
    dataDir,
    host: '127.0.0.1',
    port,
    commitIntervalMs: 2,
    unlock: { policy: TEST_UNLOCK_POLICY, sweepIntervalMs: 100 },
    security: { scrypt: FAST_SCRYPT },
  });
}

/** Starts the collector and signs in a duty officer and a maintainer (the approver/executor). */
export async function startSite(): Promise<Site> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sg-e2e-unlock-'));
  let collector = collectorOn(dataDir, 0);
  const { url, caFingerprint } = await collector.start();
  if (!caFingerprint || !collector.tls) throw new Error('the unlock e2e site runs over TLS');
  const port = Number(new URL(url).port);
  // Same data dir on restart: the same CA, so one trusting fetch serves the whole test.
  const fetch = caFetch(collector.tls.caPem);
  let running = true;
  const tokens: Record<string, string> = {};
  for (const [username, roles] of [
    ['duty01', ['duty']],
    ['maint01', ['maintainer']],
  ] as const) {
    await collector.users.create({ username, password: PASSWORD, roles, departments: '*' }, 'e2e-setup');
    const res = await fetch(`${url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD, client: 'cli' }),
    });
    const body = (await res.json()) as { token?: string };
    if (res.status !== 200 || !body.token) throw new Error(`login of ${username} failed: ${res.status}`);
    tokens[username] = body.token;
  }
  const site: Site = {
    get collector() {
      return collector;
    },
    url,
    dataDir,
    caFingerprint,
    tokens,
    async stop() {
      if (!running) return;
      running = false;
      await collector.stop();
    },
    async restart() {
      if (running) await collector.stop();
      collector = collectorOn(dataDir, port);
      await collector.start();
      running = true;
    },
    api: userApi(url, tokens, fetch),
    enrollToken: () => collector.createEnrollmentToken(),
    async cleanup() {
      await site.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return site;
}

/** A seat: in-process agent with the unlock workflow and its seat socket, enrolled at `site`. */
export async function startSeat(site: Site, name: string): Promise<InProcessAgent & { stateDir: string }> {
  const stateDir = mkdtempSync(join(tmpdir(), 'sg-e2e-seat-'));
  const agent = await startInProcessAgent({
    collectorUrl: site.url,
    stateDir,
    token: site.enrollToken(),
    caFingerprint: site.caFingerprint,
    seatName: name,
    unlock: { ipc: true, checkIntervalMs: 100 },
  });
  const stopAgent = agent.stop;
  return Object.assign(agent, {
    stateDir,
    async stop() {
      await stopAgent();
      rmSync(stateDir, { recursive: true, force: true });
    },
  });
}

export const STICK = () => deviceFixture('sandisk-ultra-fit');

/** The parts of the unlock request view the tests read. */
export interface UnlockView {
  id: string;
  agent_id: string;
  state: string;
  source: string;
  request_ref: string | null;
  os_user: string | null;
  duration_ms: number;
  device: { vendor_id: string; product_id: string; serial: string | null; hash: string | null; port: string | null };
  grant: null | { id: string; executor: string; applied_at: string | null; relocked_at: string | null; agent_end_reason: string | null };
}
