import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCollector, type Collector, type CollectorOptions } from '../../../collector/collector.js';
import { webConsole } from '../../../collector/web/plugin.js';

export interface ConsoleCollector {
  collector: Collector;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * A real collector on 127.0.0.1:0 with a temp data dir, serving the web console. Registering the
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
    async stop() {
      await collector.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
