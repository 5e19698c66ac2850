import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAlertsConfig } from '../../../../collector/config.js';
import { registerCollectorCommand } from '../../../../collector/main.js';
import { tempDir } from '../harness.js';

const SECRET = 'whsec-cfg-0a1b2c3d4e5f60718293a4b5c6d7e8f9';

function collectorProgram(errors: string[]): Command {
  const program = new Command('seatguard').exitOverride().configureOutput({ writeErr: (s) => errors.push(s), writeOut: () => undefined });
  registerCollectorCommand(program);
  return program;
}

describe('seatguard collector --alerts-config', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function file(content: string): { dir: string; path: string } {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir, 'alerts.json');
    writeFileSync(path, content, { mode: 0o600 });
    return { dir, path };
  }

  it('parses channels, engine and dispatcher settings from JSON', () => {
    const cfg = parseAlertsConfig(
      JSON.stringify({
        channels: [{ kind: 'webhook', name: 'soc', url: 'https://siem.example/hook', secret: SECRET }],
        engine: { escalationAfterMs: 1_800_000, consoleUrl: 'https://collector.example' },
        dispatcher: { maxQueue: 100, stopDeadlineMs: 1_000 },
        tickIntervalMs: 5_000,
      }),
    );
    expect(cfg.channels?.[0]).toMatchObject({ kind: 'webhook', name: 'soc' });
    expect(cfg.engine?.escalationAfterMs).toBe(1_800_000);
  });

  it('exits with CONFIG_ERR_INVALID (code 2) on an invalid file, naming the path but not the secret', async () => {
    const { dir, path } = file(JSON.stringify({ channels: [{ kind: 'webhook', name: 'soc', url: 'ftp://x', secret: SECRET }], engine: { bogus: 1 } }));
    const errors: string[] = [];
    const run = collectorProgram(errors).parseAsync(['collector', '--data', dir, '--alerts-config', path], { from: 'user' });
    await expect(run).rejects.toMatchObject({ exitCode: 2, code: 'CONFIG_ERR_INVALID' });
    const out = errors.join('');
    expect(out).toContain('CONFIG_ERR_INVALID');
    expect(out).toContain('alerts/channels/0');
    expect(out).toContain('alerts/engine');
    expect(out).not.toContain(SECRET);
  });

  it('does not echo the file text when it is not JSON (the parser message would quote it)', async () => {
    const { dir, path } = file(`{ "channels": [ { "secret": "${SECRET}" `);
    const errors: string[] = [];
    const run = collectorProgram(errors).parseAsync(['collector', '--data', dir, '--alerts-config', path], { from: 'user' });
    await expect(run).rejects.toMatchObject({ exitCode: 2, code: 'CONFIG_ERR_INVALID' });
    expect(errors.join('')).toContain('not valid JSON');
    expect(errors.join('')).not.toContain(SECRET);
  });

  it('exits with CONFIG_ERR_INVALID when the file cannot be read', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const errors: string[] = [];
    const run = collectorProgram(errors).parseAsync(['collector', '--data', dir, '--alerts-config', join(dir, 'missing.json')], { from: 'user' });
    await expect(run).rejects.toMatchObject({ exitCode: 2, code: 'CONFIG_ERR_INVALID' });
  });
});
