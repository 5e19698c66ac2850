import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The agent bundle's file name, beside the `seatguard` CLI entry in <build>/scripts/. */
export const AGENT_BUNDLE_FILE = 'seatguard-agent.js';

/**
 * The root of the build the agent runs from (dist/ after `npm run build`, the repo in tests).
 *
 * Found by walking up from this module's own directory to the first one holding both `agent/` and
 * `shared/`, not by a fixed number of `..`: the same code runs as separate modules
 * (<build>/agent/…/x.js) and inlined into the one-file agent bundle (<build>/scripts/), where
 * `import.meta.url` is the bundle's.
 */
export function buildRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'agent')) && existsSync(join(dir, 'shared'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  // Unreachable in a build or a checkout; the caller's own directory's parent is the old answer.
  return resolve(from, '..');
}

/**
 * The script a seat's systemd unit runs: the one-file agent bundle when the build has it (it loads
 * one module instead of ~830, docs/benchmarks.md "Agent footprint"), else the `seatguard` CLI.
 */
export function agentEntry(root: string = buildRoot()): string {
  const bundle = join(root, 'scripts', AGENT_BUNDLE_FILE);
  return existsSync(bundle) ? bundle : join(root, 'scripts', 'seatguard.js');
}
