import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { registerRulesCommand, runRulesCheck, type RulesCheckOptions } from '../../../../scripts/commands/rules.js';

const dir = mkdtempSync(join(tmpdir(), 'seatguard-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function run(opts: Omit<RulesCheckOptions, 'out' | 'err'>): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runRulesCheck({
    ...opts,
    out: { write: (s: string) => (out += s) },
    err: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}

const badFixture = fileURLToPath(new URL('../../../fixtures/rules/bad.rules', import.meta.url));

describe('runRulesCheck on a file', () => {
  it('exits 0 and counts the rules of a valid file', () => {
    const file = write('good.rules', '# ok\nallow id 1234:5678\n\nblock\n');
    expect(run({ file })).toEqual({ code: 0, out: 'ok: 2 rules\n', err: '' });
  });

  it('exits 1 and prints FILE:LINE:COL, the line and a caret for every bad line', () => {
    const res = run({ file: badFixture });
    expect(res.code).toBe(1);
    expect(res.out).toBe('');
    expect(res.err).toContain(
      `${badFixture}:4:1: unknown rule target 'alloww': expected allow, block or reject\n  alloww\n  ^\n`,
    );
    expect(res.err).toContain(`${badFixture}:5:7: unknown attribute 'vendor'\n  allow vendor "Kingston"\n        ^\n`);
    // The tab of line 7 is shown as one space so the caret stays under the bad value.
    expect(res.err).toContain(
      `${badFixture}:7:23: invalid interface type '0z:*:*': expected two hex digits for the class\n   block with-interface 0z:*:*\n${' '.repeat(24)}^\n`,
    );
    expect(res.err.match(new RegExp(`^${badFixture.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `, 'gm'))).toHaveLength(8);
    expect(res.err.endsWith(`8 invalid rules in ${badFixture}\n`)).toBe(true);
  });

  it('prints the canonical form with --format and keeps comments and blank lines', () => {
    const file = write('fmt.rules', '# keep me\nallow  1234:5678   name { "a" }\n\nallow if { true }\n');
    const res = run({ file, format: true });
    expect(res).toEqual({ code: 0, out: '# keep me\nallow id 1234:5678 name "a"\n\nallow if true\n', err: '' });
  });

  it('rejects seatguard extensions with --usbguard', () => {
    const file = write('ext.rules', 'allow except-interface { 08:*:* }\n');
    expect(run({ file }).code).toBe(0);
    const res = run({ file, usbguard: true });
    expect(res.code).toBe(1);
    expect(res.err).toContain(':1:7: except-interface is a seatguard extension, not USBGuard syntax');
  });

  it('shows control and bidi characters of a hostile line as ? instead of writing them to the terminal', () => {
    const file = write('hostile.rules', 'allow name "\u001b[31mred\u202e" vendor "x"\n');
    const res = run({ file });
    expect(res.code).toBe(1);
    expect(res.err).not.toContain('\u001b');
    expect(res.err).not.toContain('\u202e');
    expect(res.err).toContain('  allow name "?[31mred?" vendor "x"\n');
    expect(res.err).toContain(`:1:24: unknown attribute 'vendor'`);
    expect(res.err).toContain(`\n  ${' '.repeat(23)}^\n`);
  });

  it('exits 2 when the file cannot be read', () => {
    const res = run({ file: join(dir, 'missing.rules') });
    expect(res.code).toBe(2);
    expect(res.err).toContain('missing.rules: ENOENT');
  });

  it('exits 2 when the file is not UTF-8', () => {
    const res = run({ file: write('latin1.rules', Buffer.from([0x61, 0x6c, 0x6c, 0x6f, 0x77, 0x20, 0xff, 0x0a])) });
    expect(res.code).toBe(2);
    expect(res.err).toContain('latin1.rules: not valid UTF-8');
  });
});

describe('runRulesCheck --rule', () => {
  it('exits 0 for a valid rule', () => {
    expect(run({ rule: 'allow with-interface equals { 08:*:* }' })).toEqual({ code: 0, out: 'ok: 1 rule\n', err: '' });
  });

  it('exits 1 with the position, the rule and a caret for an invalid rule', () => {
    const res = run({ rule: 'allow serial one-of { "a" "b"' });
    expect(res).toEqual({
      code: 1,
      out: '',
      err: `<rule>:1:30: expected '}' to close the set started at column 21, found the end of the rule\n  allow serial one-of { "a" "b"\n  ${' '.repeat(29)}^\n`,
    });
  });

  it('prints the canonical form with --format', () => {
    expect(run({ rule: 'allow  1050:0011  name "Yubikey"', format: true }).out).toBe('allow id 1050:0011 name "Yubikey"\n');
  });

  it('exits 2 for a multi-line --rule', () => {
    expect(run({ rule: 'allow\nblock' }).code).toBe(2);
  });
});

describe('runRulesCheck usage', () => {
  it('exits 2 without FILE or --rule', () => {
    expect(run({})).toMatchObject({ code: 2, err: 'seatguard rules check: give either FILE or --rule TEXT\n' });
  });

  it('exits 2 with both FILE and --rule', () => {
    expect(run({ file: badFixture, rule: 'allow' }).code).toBe(2);
  });
});

describe('registerRulesCommand', () => {
  it('adds `rules check` to a commander program and sets process.exitCode', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const before = process.exitCode;
    try {
      const program = new Command('seatguard').exitOverride();
      registerRulesCommand(program);
      await program.parseAsync(['rules', 'check', '--rule', 'allow vendor "x"'], { from: 'user' });
      expect(process.exitCode).toBe(1);
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining("<rule>:1:7: unknown attribute 'vendor'"));
      await program.parseAsync(['rules', 'check', '--format', '--rule', 'allow name { "a" }'], { from: 'user' });
      expect(process.exitCode).toBe(0);
      expect(stdout).toHaveBeenCalledWith('allow name "a"\n');
    } finally {
      process.exitCode = before;
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
