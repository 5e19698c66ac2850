import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandResult } from '../../../../../agent/platform/sensors.js';
import { classifyCimFailure, decodeClixmlErrors } from '../../../../../agent/platform/windows/powershell.js';
import { createWindowsFirmwareProbe, decodeLenovoPasswordState } from '../../../../../agent/platform/windows/windows-firmware-probe.js';
import { createWindowsProcessLister } from '../../../../../agent/platform/windows/windows-process-lister.js';
import { createWindowsSoftwareInventory } from '../../../../../agent/platform/windows/windows-software-inventory.js';
import { resolveFirmware } from '../../../../../agent/sensors/firmware-state.js';
import { readFixture, recordedPowerShell } from '../../sensors/support.js';

// Outputs that real machines or vendor documents published, reshaped into what our PowerShell
// query prints. Provenance is inside each fixture and in test/fixtures/windows/README.md.
type Recorded = { responses: Record<string, CommandResult> };
const published = <T>(name: string) => readFixture<T>(`windows/published/${name}.json`);

async function probe(name: string) {
  // Only the recorded class answers; every other query is refused by the replaying runner, so
  // those sources come back unavailable instead of inventing an answer for that machine.
  const reading = await createWindowsFirmwareProbe({ runPowerShell: recordedPowerShell(published<Recorded>(name)) }).read();
  return { reading, resolved: resolveFirmware(reading) };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sg-win-pub-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Win32_ComputerSystem as published from real machines', () => {
  it('a Dell OptiPlex 5050 reporting 3 everywhere is unknown on every field, never "not set"', async () => {
    const { reading, resolved } = await probe('win32-computersystem-dell-optiplex-5050');
    const cs = reading.sources.find((s) => s.name === 'wmi:Win32_ComputerSystem');
    expect(cs).toMatchObject({
      available: true,
      fields: { adminPassword: 'unknown', powerOnPassword: 'unknown', keyboardPassword: 'unknown', frontPanelReset: 'unknown' },
    });
    expect(Object.values(resolved.fields).map((f) => f.state)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    expect(reading.sources.filter((s) => s.authority === 'vendor').every((s) => !s.available)).toBe(true);
  });

  it('an HP ZBook Firefly 16 G10 reporting 0 everywhere reads as not set, from the advisory SMBIOS source only', async () => {
    const { reading, resolved } = await probe('win32-computersystem-hp-zbook-firefly-16-g10');
    expect(resolved.fields.adminPassword).toMatchObject({ state: 'not_set', source: 'wmi:Win32_ComputerSystem' });
    expect(resolved.fields.powerOnPassword.state).toBe('not_set');
    expect(reading.sources.find((s) => s.name === 'wmi:Win32_ComputerSystem')?.detail).toBe(
      'AdminPasswordStatus=0 PowerOnPasswordStatus=0 KeyboardPasswordStatus=0 FrontPanelResetStatus=0 (SMBIOS type 24 via WMI; advisory)',
    );
  });
});

describe('Lenovo_BiosPasswordSettings as Lenovo documents it', () => {
  it("reads the sample instance in Lenovo's WMI guide (PasswordState 0) as no admin and no power-on password", async () => {
    const { reading } = await probe('lenovo-biospasswordsettings-cdrt-sample');
    expect(reading.sources.find((s) => s.name === 'wmi:lenovo:Lenovo_BiosPasswordSettings')).toMatchObject({
      available: true,
      fields: { adminPassword: 'not_set', powerOnPassword: 'not_set' },
      detail: 'PasswordState=0 (no passwords)',
    });
  });

  type Row = { value: number; pop: boolean; svp: boolean; smp: boolean; hdp: boolean; description: string };
  const { rows } = published<{ rows: Row[] }>('lenovo-passwordstate-table');

  it.each(rows)('PasswordState $value ($description) decodes to the passwords the table marks', (row) => {
    const d = decodeLenovoPasswordState(row.value);
    const certificate = row.value === 128;
    expect(d.fields).toEqual({
      adminPassword: row.svp || certificate ? 'set' : 'not_set',
      powerOnPassword: row.pop ? 'set' : 'not_set',
    });
    expect(d.detail.includes('system management')).toBe(row.smp);
    expect(d.detail.includes('hard disk')).toBe(row.hdp);
    expect(d.detail.includes('BIOS certificate')).toBe(certificate);
  });

  it('does not count a system management password alone as a supervisor password, and says so', () => {
    expect(decodeLenovoPasswordState(64)).toEqual({
      fields: { adminPassword: 'not_set', powerOnPassword: 'not_set' },
      detail: 'PasswordState=64 (system management); a system management password alone is not counted as a supervisor password',
    });
  });
});

describe('Win32_Process as published from real machines', () => {
  it('keeps the system processes an administrator cannot see the path of, with the reason, and hashes the rest', async () => {
    // Windows paths are mapped onto local files so the hashing path runs for real.
    const files = new Map<string, string>();
    for (const win of ['C:\\Windows\\system32\\wininit.exe', 'C:\\Windows\\system32\\winlogon.exe']) {
      const local = join(dir, createHash('sha1').update(win).digest('hex'));
      await writeFile(local, `image of ${win}`);
      files.set(win, local);
    }
    const lister = createWindowsProcessLister({
      runPowerShell: recordedPowerShell(published<Recorded>('win32-process-server-2012r2-getwmiobject')),
      openExecutable: (p) => {
        const local = files.get(p);
        return local ? open(local, 'r') : Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }));
      },
    });
    const procs = await lister.list();
    expect(procs.map((p) => `${p.pid} ${p.name} ${p.path === null ? '-' : 'path'}`)).toEqual([
      '0 System Idle Process -',
      '4 System -',
      '208 smss.exe -',
      '292 csrss.exe -',
      '344 csrss.exe -',
      '352 wininit.exe path',
      '380 winlogon.exe path',
    ]);
    expect(procs.filter((p) => p.path === null).every((p) => p.problem === 'no executable path (system or protected process)')).toBe(true);
    expect(procs.find((p) => p.pid === 380)).toMatchObject({
      sha256: createHash('sha256').update('image of C:\\Windows\\system32\\winlogon.exe').digest('hex'),
      startTime: '20170712121426.472426-420',
    });
    expect(procs.find((p) => p.pid === 0)?.startTime).toBeNull();
  });

  it('reads a single Win32_Process object (not an array) with a "/Date(ms)/" creation date', async () => {
    const lister = createWindowsProcessLister({
      runPowerShell: recordedPowerShell(published<Recorded>('win32-process-notepad-convertto-json')),
      openExecutable: () => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })),
    });
    expect(await lister.list()).toEqual([
      {
        pid: 16828,
        name: 'Notepad.exe',
        path: 'C:\\Program Files\\WindowsApps\\Microsoft.WindowsNotepad_11.2607.14.0_x64__8wekyb3d8bbwe\\Notepad\\Notepad.exe',
        sha256: null,
        startTime: '/Date(1790077571033)/',
        uid: null,
        problem: 'executable unreadable (EACCES)',
      },
    ]);
  });
});

describe('Uninstall keys as published from real machines', () => {
  it('maps WOW6432Node keys to x86 whatever the casing of the queried path, and drops nameless update subkeys', async () => {
    const fx = published<{ response: CommandResult }>('software-uninstall-wow6432node-heroic-1775');
    const pkgs = await createWindowsSoftwareInventory({ runPowerShell: () => Promise.resolve(structuredClone(fx.response)) }).list();
    expect(pkgs.map((p) => `${p.name}|${p.arch}`)).toEqual([
      'Microsoft Visual C++ 2012 x86 Minimum Runtime - 11.0.61030|x86',
      'AMD_Chipset_Drivers|x86',
      'Microsoft Visual C++ 2012 Redistributable (x64) - 11.0.61030|x86',
    ]);
  });

  it('takes the version from DisplayVersion and skips keys without a DisplayName', async () => {
    const fx = published<{ response: CommandResult }>('software-displayversion-asbuiltreport-25');
    const pkgs = await createWindowsSoftwareInventory({ runPowerShell: () => Promise.resolve(structuredClone(fx.response)) }).list();
    expect(pkgs).toHaveLength(12);
    expect(pkgs.find((p) => p.name === 'VMware Tools')).toEqual({ name: 'VMware Tools', version: '12.3.5.22544099', arch: null, publisher: null, source: 'windows' });
    expect(pkgs.find((p) => p.name.startsWith('Microsoft Visual C++ 2022'))?.version).toBe('14.36.32532');
  });
});

describe('PowerShell error streams as published', () => {
  it('classifies a missing class by its HRESULT when the position line is translated', () => {
    const fx = published<Recorded>('cim-error-invalid-class-icinga');
    const r = fx.responses.Win32_NotExistingClass as CommandResult;
    expect(classifyCimFailure(r)).toEqual({ kind: 'invalid_class', detail: 'Get-CimInstance : Invalid Class' });
  });

  it('decodes a CLIXML error stream captured from a real run', () => {
    const { stderr } = published<{ stderr: string }>('clixml-error-real-run');
    expect(decodeClixmlErrors(stderr)).toBe(
      "cargo : The term 'cargo' is not recognized as the name of a cmdlet, function, script file, or operable program. Check \r\n" +
        'the spelling of the name, or if a path was included, verify that the path is correct and try again.\r\n',
    );
    expect(classifyCimFailure({ code: 1, stdout: '', stderr })).toMatchObject({ kind: 'failed', detail: expect.stringMatching(/^cargo : The term 'cargo' is not recognized/) });
  });
});
