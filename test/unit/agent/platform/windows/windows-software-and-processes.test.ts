import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult } from '../../../../../agent/platform/sensors.js';
import {
  classifyCimFailure,
  createPowerShellRunner,
  decodeClixmlErrors,
  parsePowerShellJson,
  psDate,
} from '../../../../../agent/platform/windows/powershell.js';
import { createWindowsProcessLister, parseWin32Processes } from '../../../../../agent/platform/windows/windows-process-lister.js';
import { UNINSTALL_SCRIPT, createWindowsSoftwareInventory, parseUninstallEntries } from '../../../../../agent/platform/windows/windows-software-inventory.js';
import { eventually } from '../../../../helpers/eventually.js';
import { readFixture, recordedPowerShell } from '../../sensors/support.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sg-win-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Windows software inventory (recorded Uninstall keys)', () => {
  const fx = readFixture<{ response: CommandResult }>('windows/software-uninstall.json');

  it('keeps real programs and drops system components, updates, hotfixes and nameless keys', async () => {
    const inv = createWindowsSoftwareInventory({ runPowerShell: () => Promise.resolve(structuredClone(fx.response)) });
    const pkgs = await inv.list();
    expect(pkgs.map((p) => `${p.name}|${p.version}|${p.arch}`)).toEqual([
      '7-Zip 23.01 (x64)|23.01|x64',
      'Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.38.33135|14.38.33135.0|x86',
      'Google Chrome|122.0.6261.95|x86',
      'Wireshark 4.2.3 x64|4.2.3|x64',
      'Steam|2.10.91.91|x86',
      'Zoom Workplace|6.0.2 (33403)|user',
      'Microsoft Teams classic|1.7.00.1960|user',
      'Calc\uFFFDexe.tab\uFFFD|1.0\uFFFD|user',
    ]);
    expect(pkgs.find((p) => p.name === 'Steam')).toMatchObject({ publisher: 'Valve Corporation', source: 'windows' });
    expect(pkgs.find((p) => p.name.startsWith('Calc'))?.publisher).toBe('Hostile\uFFFDPublisher');
  });

  it('fails the whole list (never a partial one) when PowerShell fails or prints garbage', async () => {
    const failing = createWindowsSoftwareInventory({ runPowerShell: () => Promise.resolve({ code: 1, stdout: '', stderr: 'Get-ItemProperty : boom\r\nAt line:1' }) });
    await expect(failing.list()).rejects.toMatchObject({ code: 'SOFT_ERR_SOURCE', message: expect.stringMatching(/exit 1: Get-ItemProperty : boom/) });
    const garbage = createWindowsSoftwareInventory({ runPowerShell: () => Promise.resolve({ code: 0, stdout: '{not json', stderr: '' }) });
    await expect(garbage.list()).rejects.toMatchObject({ code: 'SOFT_ERR_SOURCE' });
  });

  it('reads HKLM, WOW6432Node and every user hive, and has nothing to watch', async () => {
    expect(UNINSTALL_SCRIPT).toMatch(/HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall/);
    expect(UNINSTALL_SCRIPT).toMatch(/WOW6432Node/);
    expect(UNINSTALL_SCRIPT).toMatch(/HKEY_USERS/);
    expect(UNINSTALL_SCRIPT).toMatch(/'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\\*'/);
    const inv = createWindowsSoftwareInventory({ runPowerShell: () => Promise.resolve(structuredClone(fx.response)) });
    expect(await inv.watch(() => undefined, () => undefined)).toBeNull();
  });
});

describe('Uninstall key views', () => {
  it('counts HKCU and HKU entries of one product as one per-user package', () => {
    const row = (psPath: string) => ({ PSPath: psPath, DisplayName: 'Zoom Workplace', DisplayVersion: '6.0.2 (33403)' });
    const pkgs = parseUninstallEntries([
      row('Microsoft.PowerShell.Core\\Registry::HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\ZoomUMX'),
      row('Microsoft.PowerShell.Core\\Registry::HKEY_USERS\\S-1-5-21-1-2-3-1013\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\ZoomUMX'),
      row('Microsoft.PowerShell.Core\\FileSystem::C:\\HKEY_LOCAL_MACHINE\\x'),
    ]);
    expect(pkgs.map((p) => `${p.name}|${p.arch}`)).toEqual(['Zoom Workplace|user', 'Zoom Workplace|null']);
  });
});

describe('Windows process lister (recorded Win32_Process)', () => {
  const fx = readFixture<{ responses: Record<string, CommandResult> }>('windows/processes.json');

  async function setup() {
    // Windows paths are mapped onto local files so the hashing path runs for real.
    const files: Record<string, string> = {};
    for (const [win, content] of [
      ['C:\\Windows\\explorer.exe', 'explorer image'],
      ['C:\\Program Files (x86)\\Nmap\\nmap.exe', 'nmap image'],
    ] as const) {
      const p = join(dir, createHash('sha1').update(win).digest('hex'));
      await writeFile(p, content);
      files[win] = p;
    }
    let opens = 0;
    const lister = createWindowsProcessLister({
      runPowerShell: recordedPowerShell(fx),
      openExecutable: (p) => {
        opens++;
        const local = files[p];
        return local ? open(local, 'r') : Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' }));
      },
    });
    return { lister, files, opens: () => opens };
  }

  it('lists processes, hashes their executables and explains the ones it cannot hash', async () => {
    const { lister } = await setup();
    const procs = await lister.list();
    expect(procs.map((p) => p.pid)).toEqual([0, 4, 6120, 7344, 8012]);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(procs.find((p) => p.pid === 7344)).toMatchObject({ name: 'nmap.exe', path: 'C:\\Program Files (x86)\\Nmap\\nmap.exe', sha256: sha('nmap image'), startTime: '/Date(1714553000456)/' });
    expect(procs.find((p) => p.pid === 4)).toMatchObject({ path: null, sha256: null, problem: expect.stringMatching(/no executable path/) });
    expect(procs.find((p) => p.pid === 8012)).toMatchObject({ sha256: null, problem: 'executable unreadable (EACCES)' });
  });

  it('re-reads and re-hashes the executable in identify(), so a swapped file is noticed', async () => {
    const { lister, files } = await setup();
    const before = (await lister.list()).find((p) => p.pid === 7344)?.sha256;
    expect((await lister.identify(7344))?.sha256).toBe(before);
    await writeFile(files['C:\\Program Files (x86)\\Nmap\\nmap.exe'] as string, 'a different image');
    expect((await lister.identify(7344))?.sha256).toBe(createHash('sha256').update('a different image').digest('hex'));
    expect(await lister.identify(99999)).toBeNull();
  });

  it('fails the list with SENSOR_ERR_READ when Win32_Process cannot be queried', async () => {
    const lister = createWindowsProcessLister({ runPowerShell: () => Promise.resolve({ code: 1, stdout: '', stderr: 'Get-CimInstance : Access denied \r\n' }) });
    await expect(lister.list()).rejects.toMatchObject({ code: 'SENSOR_ERR_READ', message: expect.stringMatching(/Win32_Process.*Access denied/) });
    expect(await lister.identify(4)).toBeNull();
  });

  it('terminates a real process (SIGKILL maps to TerminateProcess on Windows)', async () => {
    const { lister } = await setup();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    await eventually(() => typeof child.pid === 'number');
    expect(await lister.terminate(child.pid as number)).toEqual({ result: 'killed', detail: 'TerminateProcess' });
    expect(await exited).toBe('SIGKILL');
    expect((await lister.terminate(child.pid as number)).result).toBe('gone');
  });
});

describe('PowerShell plumbing', () => {
  it('parses empty, single-object and array ConvertTo-Json output', () => {
    expect(parsePowerShellJson('')).toEqual([]);
    expect(parsePowerShellJson('\uFEFF{"a":1}\r\n')).toEqual([{ a: 1 }]);
    expect(parsePowerShellJson('[{"a":1},{"a":2},3]')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parsePowerShellJson('Get-CimInstance : oops')).toThrow();
  });

  it('decodes CLIXML error streams and classifies WBEM HRESULTs', () => {
    const clixml = '#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">Get-CimInstance : Access denied _x000D__x000A_</S><S S="Error">+ FullyQualifiedErrorId : HRESULT 0x80041003,Microsoft...&lt;x&gt;_x000D__x000A_</S></Objs>';
    expect(decodeClixmlErrors(clixml)).toBe('Get-CimInstance : Access denied \r\n+ FullyQualifiedErrorId : HRESULT 0x80041003,Microsoft...<x>\r\n');
    expect(classifyCimFailure({ code: 1, stdout: '', stderr: clixml })).toEqual({ kind: 'access_denied', detail: 'Get-CimInstance : Access denied' });
    expect(classifyCimFailure({ code: 1, stdout: '', stderr: 'Get-CimInstance : Invalid namespace \r\n' }).kind).toBe('invalid_namespace');
    expect(classifyCimFailure({ code: 1, stdout: '', stderr: 'something else' }).kind).toBe('failed');
  });

  it('converts every PowerShell and WMI date form', () => {
    expect(psDate('/Date(1712793600000)/')).toBe('2024-04-11');
    expect(psDate('/Date(1712793600000+0800)/')).toBe('2024-04-11');
    expect(psDate('2024-03-05T00:00:00+00:00')).toBe('2024-03-05');
    // Get-WmiObject's CIM_DATETIME (published Win32_Process CreationDate).
    expect(psDate('20170712121425.018613-420')).toBe('2017-07-12');
    // The Windows PowerShell 5.1 wrapper object for an extended DateTime (published Get-Date | ConvertTo-Json).
    expect(psDate({ value: '/Date(1436237104231)/', DisplayHint: 2, DateTime: 'Monday, July 6, 2015 9:45:04 PM' })).toBe('2015-07-07');
    expect(psDate(null)).toBeNull();
    expect(psDate({ DateTime: 'Monday' })).toBeNull();
    expect(psDate('not a date\u0007')).toBe('not a date\uFFFD');
    // Out-of-range or impossible values come back as text instead of throwing.
    expect(psDate('/Date(99999999999999999999)/')).toBe('/Date(99999999999999999999)/');
    expect(psDate('20171399000000.000000+000')).toBe('20171399000000.000000+000');
  });

  it('accepts a digit-string ProcessId and a wrapped CreationDate, and skips rows without a usable ProcessId', () => {
    const procs = parseWin32Processes([
      { ProcessId: '4024', Name: 'powershell.exe', ExecutablePath: '  ', CreationDate: { value: '/Date(1566855960142)/', DisplayHint: 2 } },
      { ProcessId: -4, Name: 'negative' },
      { ProcessId: 1.5, Name: 'fraction' },
      { ProcessId: '0x10', Name: 'hex' },
      { ProcessId: 2 ** 32, Name: 'too big' },
    ]);
    expect(procs).toEqual([
      { pid: 4024, name: 'powershell.exe', path: null, sha256: null, startTime: '/Date(1566855960142)/', uid: null, problem: 'no executable path (system or protected process)' },
    ]);
  });

  it('passes the script as UTF-16LE base64 -EncodedCommand to a real child process', async () => {
    // A stand-in "powershell.exe" that decodes its -EncodedCommand and prints it back.
    const stub = join(dir, 'fake-powershell');
    await writeFile(
      stub,
      `#!${process.execPath}\nconst a = process.argv.slice(2); const i = a.indexOf('-EncodedCommand');\n` +
        `process.stdout.write(JSON.stringify({ flags: a.slice(0, i), script: Buffer.from(a[i + 1], 'base64').toString('utf16le') }));\n` +
        `if (a[i + 1] && Buffer.from(a[i + 1], 'base64').toString('utf16le').includes('fail-me')) { process.stderr.write('Get-CimInstance : Invalid class'); process.exit(1); }\n`,
    );
    await chmod(stub, 0o755);
    const run = createPowerShellRunner({ exe: stub, timeoutMs: 10_000 });
    const r = await run("Write-Output 'é ünïcode ✓'");
    expect(r.code).toBe(0);
    const echoed = JSON.parse(r.stdout) as { flags: string[]; script: string };
    expect(echoed.flags).toEqual(['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass']);
    expect(echoed.script).toMatch(/\[Console\]::OutputEncoding = \[System\.Text\.Encoding\]::UTF8; .*Write-Output 'é ünïcode ✓'$/);
    const failed = await run('fail-me');
    expect(failed).toMatchObject({ code: 1, stderr: 'Get-CimInstance : Invalid class' });
    const missing = await createPowerShellRunner({ exe: join(dir, 'no-such-powershell') })('x');
    expect(missing).toMatchObject({ code: null, error: 'ENOENT' });
  });
});
