import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedCheck } from '../../../agent/generated-checks.js';
import { AGENT_LOCAL_CHECKS } from '../../../shared/protocol/validators.gen.js';

const AGENT_DIR = resolve(import.meta.dirname, '../../../agent');

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

describe('the agent\'s generated schema checks (agent/generated-checks.ts)', () => {
  it('exist for every name the agent code looks up', () => {
    const used = new Set<string>();
    for (const file of sources(AGENT_DIR)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/generatedCheck<[^>]*(?:>[^>(]*)*>\('([a-z0-9_]+)'/g)) used.add(m[1]!);
    }
    // The lookups this scan must find, or it is not scanning anything.
    expect(used).toContain('identity_file');
    expect(used).toContain('ipc_request');
    expect([...used].filter((n) => !AGENT_LOCAL_CHECKS.has(n))).toEqual([]);
  });

  it('throw on use, never accept, for a name that was not generated', () => {
    const c = generatedCheck<{ a: number }>('no_such_schema', 'nothing');
    expect(() => c.check({ a: 1 })).toThrow(/gen:validators/);
  });

  it('say which schema a refused value fails, without echoing the value', () => {
    const c = generatedCheck<unknown>('policy_file', 'policy file');
    const hostile = { version: 1, sha256: '\u001b[2J', rules: 'x' };
    expect(c.check(hostile)).toBe(false);
    expect(c.errors(hostile)).toEqual(['/ does not match the policy file schema']);
  });
});
