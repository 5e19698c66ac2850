import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCollector, type Collector, type CollectorOptions } from '../../../collector/collector.js';
import { webConsole } from '../../../collector/web/plugin.js';
import { caFetch, type CaFetch } from '../../helpers/ca-fetch.js';
import { serverSpkiHash } from '../../helpers/browser.js';

export interface ConsoleCollector {
  collector: Collector;
  url: string;
  dataDir: string;
  /** fetch() trusting the collector CA (plain over http). */
  fetch: CaFetch;
  /** base64 SHA-256 of the server certificate's public key, for Chromium's SPKI allow-list; null over http. */
  spki: string | null;
  stop(): Promise<void>;
}

/**
 * A real collector on 127.0.0.1:0 with a temp data dir, serving the web console over HTTPS (its
 * generated CA; pass `insecureDev: true` for plain http). Registering the
 * console plugin is idempotent, so this works whether or not createCollector wires it already.
 */
export async function startConsoleCollector(opts: Partial<CollectorOptions> = {}): Promise<ConsoleCollector> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sg-console-'));
  const collector = createCollector({ commitIntervalMs: 2, ...opts, dataDir, host: '127.0.0.1', port: 0 });
  await collector.http.register(webConsole());
  const { url } = await collector.start();
  return {
    collector,
    url,
    dataDir,
    fetch: caFetch(collector.tls?.caPem ?? null),
    spki: collector.tls ? serverSpkiHash(dataDir) : null,
    async stop() {
      await collector.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
