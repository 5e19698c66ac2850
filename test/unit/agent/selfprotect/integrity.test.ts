import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../shared/logger.js';
import type { EventBody } from '../../../../shared/protocol/messages.js';
import { BASELINE_FILE, createIntegrity, type WatchedFile } from '../../../../agent/selfprotect/integrity.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A temp "installation": a code tree, a udev rule, an env file, and a state dir. */
function tree() {
  const root = mkdtempSync(join(tmpdir(), 'sg-integrity-'));
  dirs.push(root);
  const code = join(root, 'dist', 'agent');
  mkdirSync(join(code, 'sub'), { recursive: true });
  writeFileSync(join(code, 'main.js'), 'console.log("agent")\n');
  writeFileSync(join(code, 'sub', 'lock.js'), 'export const lock = 1;\n');
  const rule = join(root, 'rule.rules');
  writeFileSync(rule, 'ACTION=="add"\n');
  const env = join(root, 'agent.env');
  writeFileSync(env, 'SEATGUARD_COLLECTOR_URL=http://c\n');
  const state = join(root, 'state');
  mkdirSync(state);
  const watched: WatchedFile[] = [
    { path: rule, item: 'udev_rule', installedSha256: sha('ACTION=="add"\n') },
    { path: env, item: 'agent_config', installedSha256: sha('SEATGUARD_COLLECTOR_URL=http://c\n') },
  ];
  return { root, code, rule, env, state, watched };
}

function agentOn(t: ReturnType<typeof tree>, watched: () => WatchedFile[] = () => t.watched) {
  const events: Array<EventBody<'agent.integrity'>> = [];
  const integrity = createIntegrity({ stateDir: t.state, codeRoots: [t.code], configFiles: watched, emit: (_type, body) => void events.push(body), log: silentLogger(), nowMs: () => Date.now() });
  return { integrity, events };
}

describe('agent self-integrity', () => {
  it('records a baseline on the first start and reports nothing', () => {
    const t = tree();
    const a = agentOn(t);
    const r = a.integrity.start();
    expect(r.baseline).toBe('recorded');
    expect(r.codeSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.integrity.flush()).toBe(0);
    const b = JSON.parse(readFileSync(join(t.state, BASELINE_FILE), 'utf8')) as { files: Array<{ path: string }> };
    expect(b.files.map((f) => f.path).sort()).toEqual([join(t.code, 'main.js'), join(t.code, 'sub', 'lock.js'), t.env, t.rule].sort());
    expect(statSync(join(t.state, BASELINE_FILE)).mode & 0o777).toBe(0o600);
  });

  it('reports a changed udev rule once, with the expected and actual hashes', () => {
    const t = tree();
    const a = agentOn(t);
    a.integrity.start();
    writeFileSync(t.rule, '# gate removed\n');
    expect(a.integrity.check()).toBe(1);
    expect(a.events).toEqual([{ item: 'udev_rule', path: t.rule, expected_sha256: sha('ACTION=="add"\n'), actual_sha256: sha('# gate removed\n'), detail: 'changed' }]);
    // The same change is one event per run, not one per check.
    expect(a.integrity.check()).toBe(0);
    // A further change is news again.
    writeFileSync(t.rule, '# something else\n');
    expect(a.integrity.check()).toBe(1);
  });

  it('reports changed, added and deleted code files and a deleted config file', () => {
    const t = tree();
    const a = agentOn(t);
    a.integrity.start();
    writeFileSync(join(t.code, 'main.js'), 'console.log("patched")\n');
    writeFileSync(join(t.code, 'sub', 'hook.js'), 'evil()\n');
    unlinkSync(join(t.code, 'sub', 'lock.js'));
    unlinkSync(t.env);
    expect(a.integrity.check()).toBe(4);
    const byPath = Object.fromEntries(a.events.map((e) => [e.path, e]));
    expect(byPath[join(t.code, 'main.js')]).toMatchObject({ item: 'code', detail: 'changed', actual_sha256: sha('console.log("patched")\n') });
    expect(byPath[join(t.code, 'sub', 'hook.js')]).toMatchObject({ item: 'code', detail: 'added', expected_sha256: null });
    expect(byPath[join(t.code, 'sub', 'lock.js')]).toMatchObject({ item: 'code', detail: 'missing', actual_sha256: null });
    expect(byPath[t.env]).toMatchObject({ item: 'agent_config', detail: 'missing', actual_sha256: null });
  });

  it('sees a same-size rewrite whose mtime was put back (the stat fast path also compares ctime)', () => {
    const t = tree();
    const p = join(t.code, 'main.js');
    // Whole seconds, so that putting the time back is exact.
    utimesSync(p, 1_700_000_000, 1_700_000_000);
    const a = agentOn(t);
    a.integrity.start();
    expect(a.integrity.check()).toBe(0);
    const st = statSync(p);
    const patched = 'console.log("agenT")\n';
    expect(patched.length).toBe(readFileSync(p, 'utf8').length);
    writeFileSync(p, patched);
    utimesSync(p, 1_700_000_000, 1_700_000_000);
    expect(statSync(p).mtimeMs).toBe(st.mtimeMs);
    expect(statSync(p).size).toBe(st.size);
    expect(a.integrity.check()).toBe(1);
    expect(a.events[0]).toMatchObject({ path: p, actual_sha256: sha(patched) });
  });

  it('a plain restart compares with the old baseline instead of accepting the tampered files', () => {
    const t = tree();
    agentOn(t).integrity.start();
    const baselineBefore = readFileSync(join(t.state, BASELINE_FILE), 'utf8');
    writeFileSync(t.rule, '# gate removed\n');
    const restarted = agentOn(t);
    const r = restarted.integrity.start();
    expect(r.baseline).toBe('compared');
    expect(r.findings).toBe(1);
    expect(restarted.integrity.flush()).toBe(1);
    expect(restarted.events[0]).toMatchObject({ item: 'udev_rule', detail: 'changed' });
    expect(readFileSync(join(t.state, BASELINE_FILE), 'utf8')).toBe(baselineBefore);
    // And again on the next restart: nothing launders it.
    const third = agentOn(t);
    expect(third.integrity.start().findings).toBe(1);
  });

  it('re-records the baseline only for an authorized upgrade, after which the new files are clean', () => {
    const t = tree();
    agentOn(t).integrity.start();
    writeFileSync(join(t.code, 'main.js'), 'console.log("v2")\n');
    const upgraded = agentOn(t);
    const r = upgraded.integrity.start({ rebaselineBy: 'mc_0123456789abcdef' });
    expect(r.baseline).toBe('rebaselined');
    expect(upgraded.integrity.flush()).toBe(0);
    expect((JSON.parse(readFileSync(join(t.state, BASELINE_FILE), 'utf8')) as { rebaselined_by: string }).rebaselined_by).toBe('mc_0123456789abcdef');
    expect(agentOn(t).integrity.start().findings).toBe(0);
  });

  it('changes the code hash when the code changes, not when a config file does', () => {
    const t = tree();
    const first = agentOn(t).integrity.start().codeSha256;
    writeFileSync(t.env, 'SEATGUARD_COLLECTOR_URL=http://other\n');
    expect(agentOn(t).integrity.start().codeSha256).toBe(first);
    writeFileSync(join(t.code, 'main.js'), 'x\n');
    expect(agentOn(t).integrity.start().codeSha256).not.toBe(first);
  });

  it('keeps watching config files after the manifest that named them is deleted', () => {
    const t = tree();
    let watched = t.watched;
    const a = agentOn(t, () => watched);
    a.integrity.start();
    watched = [];
    writeFileSync(t.rule, '# gone\n');
    expect(a.integrity.check()).toBe(1);
    expect(a.events[0]).toMatchObject({ item: 'udev_rule', path: t.rule });
  });

  it('adopts files installed after the baseline only when they are what the installer wrote', () => {
    const t = tree();
    let watched: WatchedFile[] = [];
    const a = agentOn(t, () => watched);
    a.integrity.start();
    const unit = join(t.root, 'unit.service');
    writeFileSync(unit, '[Unit]\n');
    const other = join(t.root, 'other.env');
    writeFileSync(other, 'X=2\n');
    watched = [
      { path: unit, item: 'service_unit', installedSha256: sha('[Unit]\n') },
      { path: other, item: 'agent_config', installedSha256: sha('X=1\n') },
    ];
    expect(a.integrity.check()).toBe(1);
    expect(a.events[0]).toMatchObject({ path: other, expected_sha256: sha('X=1\n'), actual_sha256: sha('X=2\n') });
    // The adopted unit is now part of the baseline: changing it is reported.
    writeFileSync(unit, '[Unit]\nExecStart=/bin/true\n');
    expect(a.integrity.check()).toBe(1);
    expect(a.events[1]).toMatchObject({ path: unit, item: 'service_unit', detail: 'changed' });
  });

  it('reports a damaged baseline instead of replacing it', () => {
    const t = tree();
    agentOn(t).integrity.start();
    writeFileSync(join(t.state, BASELINE_FILE), '{"v":1,"files":');
    const a = agentOn(t);
    expect(a.integrity.start().findings).toBe(1);
    expect(a.integrity.flush()).toBe(1);
    expect(a.events[0]?.detail).toMatch(/baseline damaged/);
    expect(readFileSync(join(t.state, BASELINE_FILE), 'utf8')).toBe('{"v":1,"files":');
  });
});
