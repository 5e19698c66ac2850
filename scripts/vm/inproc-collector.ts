import fs from 'node:fs';
import { createCollector, type Collector } from '../../collector/collector.js';
import type { UnlockPolicy } from '../../collector/workflow/unlock-machine.js';
import { createLogger } from '../../shared/logger.js';
import type { HostCollector } from './host-collector.js';
import { createLineSplitter } from './line-reader.js';
import { GUEST_HOST, seatQueries } from './host-collector.js';
import { httpRequestText } from '../../agent/transport/http-json.js';

/** An in-process collector that also exposes the collector object (users, workflow service). */
export interface InProcessCollector extends HostCollector {
  collector: Collector;
  /** Calls the collector's HTTP API as a user token; resolves with status and parsed JSON. */
  request(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/** Options of {@link startInProcessCollector}. */
export interface InProcessCollectorOptions {
  dataDir: string;
  /** Unlock policy bounds; the VM scenario needs grants far shorter than the 15 min default. */
  unlockPolicy?: Partial<UnlockPolicy>;
  /** Collector-side expiry sweep interval (default 1 s, so the case closes soon after expires_at). */
  sweepIntervalMs?: number;
}

/**
 * Starts the collector inside the test process on 127.0.0.1 (port chosen by the OS), so a test can
 * set unlock policy bounds the CLI does not expose. Same surface as startHostCollector.
 */
export async function startInProcessCollector(opts: InProcessCollectorOptions): Promise<InProcessCollector> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const lines: string[] = [];
  const split = createLineSplitter((l) => {
    lines.push(l);
    if (lines.length > 500) lines.splice(0, lines.length - 500);
  });
  const log = createLogger({ level: 'info', name: 'seatguard-collector', destination: { write: (s: string) => split(s) } });
  const collector = createCollector({
    dataDir: opts.dataDir,
    host: '127.0.0.1',
    port: 0,
    log,
    // The guest reaches the host as 10.0.2.2: the server certificate must name it.
    tls: { names: [GUEST_HOST] },
    unlock: { ...(opts.unlockPolicy ? { policy: opts.unlockPolicy } : {}), sweepIntervalMs: opts.sweepIntervalMs ?? 1_000 },
  });
  const { url, caFingerprint } = await collector.start();
  const port = new URL(url).port;
  const ca = collector.tls?.caPem ?? null;
  if (!ca || !caFingerprint) throw new Error('the VM lab collector runs over TLS');

  const request = async (method: 'GET' | 'POST', p: string, token: string, body?: unknown) => {
    const res = await httpRequestText(`${url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      ...(body === undefined ? {} : { body }),
      ca,
      timeoutMs: 10_000,
      maxBytes: 32 << 20,
    });
    const text = res.text;
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  };
  const api = async (p: string): Promise<unknown> => {
    const r = await request('GET', p, collector.apiToken);
    if (r.status !== 200) throw new Error(`GET ${p}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  };

  return {
    url,
    guestUrl: `https://${GUEST_HOST}:${port}`,
    caFingerprint,
    dataDir: opts.dataDir,
    collector,
    request,
    createEnrollmentToken: () => Promise.resolve(collector.createEnrollmentToken()),
    ...seatQueries(api),
    logTail: (n = 30) => lines.slice(-n).join('\n'),
    stop: () => collector.stop(),
  };
}
