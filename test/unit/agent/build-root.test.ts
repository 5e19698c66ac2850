import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AGENT_BUNDLE_FILE, agentEntry, buildRoot } from '../../../agent/build-root.js';

const made: string[] = [];
function build(withBundle: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'sg-build-root-'));
  made.push(root);
  for (const d of ['agent/selfprotect', 'shared', 'scripts']) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, 'scripts', 'seatguard.js'), '');
  if (withBundle) writeFileSync(join(root, 'scripts', AGENT_BUNDLE_FILE), '');
  return root;
}
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('buildRoot', () => {
  it('finds the same root from a module inside agent/ and from the bundle in scripts/', () => {
    const root = build(true);
    expect(buildRoot(join(root, 'agent', 'selfprotect'))).toBe(root);
    expect(buildRoot(join(root, 'agent'))).toBe(root);
    expect(buildRoot(join(root, 'scripts'))).toBe(root);
  });

  it('is the checkout when the agent runs from its TypeScript sources', () => {
    expect(buildRoot()).toBe(join(import.meta.dirname, '..', '..', '..'));
  });
});

describe('agentEntry', () => {
  it('is the one-file bundle when the build has it', () => {
    const root = build(true);
    expect(agentEntry(root)).toBe(join(root, 'scripts', AGENT_BUNDLE_FILE));
  });

  it('falls back to the seatguard CLI when the build has no bundle', () => {
    const root = build(false);
    expect(agentEntry(root)).toBe(join(root, 'scripts', 'seatguard.js'));
  });
});
