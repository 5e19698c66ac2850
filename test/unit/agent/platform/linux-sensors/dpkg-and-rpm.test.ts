import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../../shared/logger.js';
import { parseDpkgStatus } from '../../../../../agent/platform/linux/software/dpkg-status.js';
import { createExecRunner } from '../../../../../agent/platform/linux/software/command-runner.js';
import { createLinuxSoftwareInventory } from '../../../../../agent/platform/linux/software/linux-software-inventory.js';
import { parseRpmQuery, rpmQueryArgs } from '../../../../../agent/platform/linux/software/rpm.js';
import type { CommandRunner } from '../../../../../agent/platform/sensors.js';
import { FIXTURES } from '../../sensors/support.js';

const STATUS_FIXTURE = join(FIXTURES, 'dpkg/status');
const RPM_FIXTURE = join(FIXTURES, 'dpkg/rpm-qa-fedora40.txt');

describe('dpkg status parser', () => {
  it('parses the real status file of this build machine (trimmed fixture)', () => {
    const text = readFileSync(STATUS_FIXTURE, 'utf8');
    const r = parseDpkgStatus(text);
    const stanzas = text.split(/\n\n+/).filter((s) => s.trim() !== '');
    expect(r.packages).toHaveLength(stanzas.length);
    expect(r.malformed).toBe(0);
    expect(r.notInstalled).toBe(0);
    const bash = /^Package: bash\n(?:.+\n)*?Version: (.+)\n/m.exec(text);
    expect(r.packages.find((p) => p.name === 'bash')).toEqual({ name: 'bash', version: bash?.[1], arch: 'amd64', publisher: null, source: 'dpkg' });
    // Epochs survive parsing.
    expect(r.packages.some((p) => /^[0-9]+:/.test(p.version ?? ''))).toBe(true);
  });

  it('agrees with dpkg-query on the live /var/lib/dpkg/status', () => {
    const out = execFileSync('dpkg-query', ['-W', '-f', '${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n'], { encoding: 'utf8' });
    const expected = out
      .split('\n')
      .filter((l) => l.split('\t')[3]?.trim() === 'ii')
      .map((l) => l.split('\t').slice(0, 3).join('\t'))
      .sort();
    const ours = parseDpkgStatus(readFileSync('/var/lib/dpkg/status', 'utf8'))
      .packages.map((p) => `${p.name}\t${p.version ?? ''}\t${p.arch ?? ''}`)
      .sort();
    expect(ours).toEqual(expected);
  });

  it('keeps only "install ok installed" and counts the rest', () => {
    const text = [
      'Package: kept\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64',
      'Package: gone\nStatus: deinstall ok config-files\nVersion: 2.0',
      'Package: half\nStatus: install reinstreq half-installed\nVersion: 3.0',
      'Package: held\nStatus: hold ok installed\nVersion: 4.0',
    ].join('\n\n');
    const r = parseDpkgStatus(text);
    expect(r.packages.map((p) => p.name)).toEqual(['kept']);
    expect(r.notInstalled).toBe(3);
  });

  it('survives hostile stanzas: CRLF, missing fields, duplicates, garbage, controls, huge fields, NUL bytes', () => {
    const huge = 'x'.repeat(200_000);
    const text = [
      'Package: crlf\r\nStatus: install ok installed\r\nVersion: 1.0\r\nArchitecture: all\r\n',
      'Status: install ok installed\nVersion: 9.9',
      'Package: nostatus\nVersion: 1',
      'Package: first\nPackage: second\nStatus: install ok installed\nVersion: 1',
      'Package: garbage\nthis line has no colon\nStatus: install ok installed',
      'Package: evil\u202e\u0007name\nStatus: install ok installed\nVersion: 1.0\u0000rm',
      `Package: long${huge}\nStatus: install ok installed\nVersion: ${huge}\nDescription: d\n ${huge}\n ${huge}`,
      'Package:    \nStatus: install ok installed',
      'Package: last\nStatus:   install   ok   installed  \nVersion: 5',
    ].join('\n\n');
    const r = parseDpkgStatus(text);
    expect(r.packages.map((p) => p.name.slice(0, 12))).toEqual(['crlf', 'first', 'garbage', 'evil\uFFFD\uFFFDname', 'longxxxxxxxx', 'last']);
    expect(r.packages[0]).toMatchObject({ version: '1.0', arch: 'all' });
    expect(r.packages.find((p) => p.name.startsWith('evil'))?.version).toBe('1.0\uFFFDrm');
    const long = r.packages.find((p) => p.name.startsWith('long'));
    expect([...(long?.name ?? '')].length).toBeLessThanOrEqual(128);
    expect([...(long?.version ?? '')].length).toBeLessThanOrEqual(128);
    // missing Package, missing Status, garbage line (kept but counted), empty Package
    expect(r.malformed).toBe(4);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const r = parseDpkgStatus(s);
        for (const p of r.packages) expect(p.name.length).toBeGreaterThan(0);
      }),
      { numRuns: 1000 },
    );
    expect(parseDpkgStatus('')).toEqual({ packages: [], malformed: 0, notInstalled: 0 });
  });
});

describe('rpm query parser', () => {
  it('parses the recorded rpm -qa output: epochs, (none), install-only kernels, gpg-pubkey, bad lines', () => {
    const r = parseRpmQuery(readFileSync(RPM_FIXTURE, 'utf8'));
    expect(r.malformed).toBe(1);
    expect(r.packages.map((p) => `${p.name} ${p.version} ${p.arch} ${p.publisher}`)).toEqual([
      'bash 5.2.26-3.fc40 x86_64 Fedora Project',
      'glibc 2.39-8.fc40 x86_64 Fedora Project',
      'openssl-libs 1:3.2.1-2.fc40 x86_64 Fedora Project',
      'nmap 3:7.92-3.fc40 x86_64 Fedora Project',
      'steam 1.0.0.79-1.fc40 i686 RPM Fusion',
      'google-chrome-stable 124.0.6367.91-1 x86_64 Google Inc.',
      'kernel-core 6.8.8-300.fc40 x86_64 Fedora Project',
      'kernel-core 6.8.9-300.fc40 x86_64 Fedora Project',
      'localpkg 0.1-1 noarch null',
    ]);
  });

  it('adds --root only for a captured tree', () => {
    expect(rpmQueryArgs('/')).toEqual(['-qa', '--qf', expect.stringContaining('%{NAME}')]);
    expect(rpmQueryArgs('/tmp/seat').slice(0, 2)).toEqual(['--root', '/tmp/seat']);
  });
});

describe('Linux software inventory', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'sg-inv-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const log = silentLogger();

  it('lists dpkg packages under the root', async () => {
    await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
    await copyFile(STATUS_FIXTURE, join(root, 'var/lib/dpkg/status'));
    const pkgs = await createLinuxSoftwareInventory({ root, log }).list();
    expect(pkgs.length).toBe(parseDpkgStatus(readFileSync(STATUS_FIXTURE, 'utf8')).packages.length);
  });

  it('adds rpm packages where an rpm database exists, through the injected runner', async () => {
    await mkdir(join(root, 'var/lib/rpm'), { recursive: true });
    const calls: Array<[string, readonly string[]]> = [];
    const runCommand: CommandRunner = (file, args) => {
      calls.push([file, args]);
      return Promise.resolve({ code: 0, stdout: readFileSync(RPM_FIXTURE, 'utf8'), stderr: '' });
    };
    const pkgs = await createLinuxSoftwareInventory({ root, log, runCommand }).list();
    expect(pkgs.filter((p) => p.source === 'rpm')).toHaveLength(9);
    expect(calls[0]?.[0]).toBe('rpm');
    expect(calls[0]?.[1].slice(0, 2)).toEqual(['--root', root]);
  });

  it('refuses to return a partial list when a present source fails', async () => {
    await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
    await copyFile(STATUS_FIXTURE, join(root, 'var/lib/dpkg/status'));
    await mkdir(join(root, 'var/lib/rpm'), { recursive: true });
    const runCommand: CommandRunner = () => Promise.resolve({ code: 1, stdout: '', stderr: 'error: rpmdb: damaged header' });
    await expect(createLinuxSoftwareInventory({ root, log, runCommand }).list()).rejects.toMatchObject({
      code: 'SOFT_ERR_SOURCE',
      message: expect.stringMatching(/rpm -qa failed: exit 1: error: rpmdb: damaged header/),
    });
  });

  it('fails with SOFT_ERR_SOURCE when there is no package database at all, or it is unreadable', async () => {
    await expect(createLinuxSoftwareInventory({ root, log }).list()).rejects.toMatchObject({ code: 'SOFT_ERR_SOURCE', message: expect.stringMatching(/neither/) });
    await mkdir(join(root, 'var/lib/dpkg/status'), { recursive: true });
    await expect(createLinuxSoftwareInventory({ root, log }).list()).rejects.toMatchObject({ message: expect.stringMatching(/not a regular file/) });
  });

  it('runs rpm for real through the exec runner, reporting a missing binary instead of throwing', async () => {
    const run = createExecRunner({ timeoutMs: 10_000 });
    const r = await run('rpm-binary-that-does-not-exist', ['-qa']);
    expect(r).toMatchObject({ code: null, error: 'ENOENT' });
    const ok = await run('dpkg-query', ['-W', '-f', '${Package}\\n', 'dpkg']);
    expect(ok).toMatchObject({ code: 0, stdout: 'dpkg\n' });
    await mkdir(join(root, 'var/lib/rpm'), { recursive: true });
    await writeFile(join(root, 'var/lib/rpm/Packages'), '');
    const viaExec = createLinuxSoftwareInventory({ root, log, runCommand: run });
    await expect(viaExec.list()).rejects.toMatchObject({ code: 'SOFT_ERR_SOURCE' });
  });
});
