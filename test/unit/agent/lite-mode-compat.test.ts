import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../../../agent/platform/linux/agent-node-flags.js';

const REPO = join(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    // The Windows agent is not built into the Linux unit; it has its own runtime plan.
    .filter((f) => !relative(REPO, f).startsWith(join('agent', 'platform', 'windows')));
}

describe('the agent under --lite-mode (no WebAssembly)', () => {
  it('is started with --lite-mode on a seat', () => {
    expect(AGENT_NODE_FLAGS).toContain('--lite-mode');
  });

  it('uses neither fetch nor WebAssembly anywhere in agent/ or shared/, since both fail without wasm', () => {
    const offenders: string[] = [];
    for (const f of [...sources(join(REPO, 'agent')), ...sources(join(REPO, 'shared'))]) {
      const text = readFileSync(f, 'utf8');
      // Calls and references only, not the word in a comment.
      const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      if (/\bfetch\s*\(|\bWebAssembly\b/.test(code)) offenders.push(relative(REPO, f));
    }
    expect(offenders).toEqual([]);
  });
});
