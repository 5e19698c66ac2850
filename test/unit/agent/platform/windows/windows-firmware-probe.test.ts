import { describe, expect, it } from 'vitest';
import {
  createWindowsFirmwareProbe,
  decodeLenovoPasswordState,
  smbiosStatus,
  vendorFlag,
} from '../../../../../agent/platform/windows/windows-firmware-probe.js';
import type { CommandResult } from '../../../../../agent/platform/sensors.js';
import { resolveFirmware } from '../../../../../agent/sensors/firmware-state.js';
import { readFixture, recordedPowerShell } from '../../sensors/support.js';

type Fx = { responses: Record<string, CommandResult> };

async function read(name: string) {
  const run = recordedPowerShell(readFixture<Fx>(`windows/${name}.json`));
  const reading = await createWindowsFirmwareProbe({ runPowerShell: run }).read();
  return { reading, resolved: resolveFirmware(reading), scripts: run.scripts };
}

const states = (r: ReturnType<typeof resolveFirmware>) =>
  Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, `${v.state}@${v.source}`]));

describe('Windows firmware probe (recorded PowerShell output)', () => {
  it('Dell BIOS-native WMI: PasswordObject says admin set and wins over a stale Win32_ComputerSystem', async () => {
    const { reading, resolved } = await read('firmware-dell-bios-wmi');
    expect(states(resolved)).toEqual({
      adminPassword: 'set@wmi:dell:PasswordObject',
      powerOnPassword: 'not_set@wmi:dell:PasswordObject',
      keyboardPassword: 'not_implemented@wmi:Win32_ComputerSystem',
      frontPanelReset: 'not_implemented@wmi:Win32_ComputerSystem',
    });
    expect(resolved.disagreements).toEqual([
      { field: 'adminPassword', chosenSource: 'wmi:dell:PasswordObject', chosenState: 'set', otherSource: 'wmi:Win32_ComputerSystem', otherState: 'not_set' },
    ]);
    const dcim = reading.sources.find((s) => s.name === 'wmi:dell:DCIM_BIOSPassword');
    expect(dcim).toMatchObject({ available: false, detail: expect.stringMatching(/^class not present on this machine: Get-CimInstance : Invalid class/) });
    const hp = reading.sources.find((s) => s.name === 'wmi:hp:HP_BIOSPassword');
    expect(hp?.detail).toMatch(/^namespace root\/HP\/InstrumentedBIOS not present/);
    expect(reading.bios).toEqual({ vendor: 'Dell Inc.', version: '1.31.0', date: '2024-04-11', detail: 'Win32_BIOS' });
  });

  it('Dell with Command | Monitor: DCIM_BIOSPassword booleans and PasswordObject agree', async () => {
    const { resolved, reading } = await read('firmware-dell-dcm');
    expect(states(resolved).adminPassword).toBe('set@wmi:dell:DCIM_BIOSPassword');
    expect(states(resolved).powerOnPassword).toBe('set@wmi:dell:DCIM_BIOSPassword');
    expect(resolved.disagreements).toEqual([]);
    expect(reading.sources.find((s) => s.name === 'wmi:dell:DCIM_BIOSPassword')?.detail).toBe('AdminPwd IsSet=true; SystemPwd IsSet=true; HddPwd IsSet=false');
  });

  it('HP: HP_BIOSPassword decides; an all-unknown Win32_ComputerSystem adds no disagreement', async () => {
    const { resolved, reading } = await read('firmware-hp');
    expect(states(resolved)).toMatchObject({ adminPassword: 'set@wmi:hp:HP_BIOSPassword', powerOnPassword: 'not_set@wmi:hp:HP_BIOSPassword', keyboardPassword: 'unknown@wmi:Win32_ComputerSystem' });
    expect(resolved.disagreements).toEqual([]);
    expect(reading.bios.date).toBe('2024-03-05');
  });

  it('Lenovo: PasswordState bit 2 is the supervisor password; CLIXML error output is decoded', async () => {
    const { resolved, reading } = await read('firmware-lenovo');
    expect(states(resolved)).toMatchObject({ adminPassword: 'set@wmi:lenovo:Lenovo_BiosPasswordSettings', powerOnPassword: 'not_set@wmi:lenovo:Lenovo_BiosPasswordSettings' });
    expect(resolved.disagreements.map((d) => d.field)).toEqual(['adminPassword']);
    const dell = reading.sources.find((s) => s.name === 'wmi:dell:DCIM_BIOSPassword');
    expect(dell?.detail).toBe('namespace root/dcim/sysman not present (vendor interface not installed or another vendor): Get-CimInstance : Invalid namespace');
  });

  it('Lenovo: PasswordState 128 (certificate authentication) counts as admin protection', async () => {
    const { resolved, reading } = await read('firmware-lenovo-certificate');
    expect(resolved.fields.adminPassword.state).toBe('set');
    expect(reading.sources.find((s) => s.name.startsWith('wmi:lenovo'))?.detail).toMatch(/certificate/);
  });

  it('without administrator rights the vendor source is unavailable with the reason, and only SMBIOS speaks', async () => {
    const { resolved, reading } = await read('firmware-lenovo-not-admin');
    expect(reading.sources.find((s) => s.name.startsWith('wmi:lenovo'))).toMatchObject({ available: false, detail: expect.stringMatching(/^access denied/) });
    expect(states(resolved).adminPassword).toBe('set@wmi:Win32_ComputerSystem');
  });

  it('a VM without vendor interfaces is unknown on every field, never "not set"', async () => {
    const { resolved, reading } = await read('firmware-hyperv-vm');
    expect(Object.values(resolved.fields).map((f) => f.state)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    expect(reading.sources.filter((s) => s.authority === 'vendor').every((s) => !s.available)).toBe(true);
  });

  it('queries with Select-Object and ConvertTo-Json, quoting every name', async () => {
    const { scripts } = await read('firmware-hp');
    expect(scripts[0]).toBe(
      "Get-CimInstance -Namespace 'root/dcim/sysman' -ClassName 'DCIM_BIOSPassword' -ErrorAction Stop | Select-Object 'AttributeName','IsSet' | ConvertTo-Json -Compress -Depth 3",
    );
  });

  it('a runner that cannot start PowerShell leaves every source unavailable', async () => {
    const probe = createWindowsFirmwareProbe({ runPowerShell: () => Promise.resolve({ code: null, stdout: '', stderr: '', error: 'ENOENT' }) });
    const r = await probe.read();
    expect(r.sources.every((s) => !s.available && /powershell could not run \(ENOENT\)/.test(s.detail))).toBe(true);
    expect(r.bios).toMatchObject({ vendor: null, version: null });
  });

  it('two instances of one vendor password that disagree leave that field unknown', async () => {
    // Constructed: no published output shows duplicate HP_BIOSPassword instances.
    const run = recordedPowerShell({
      responses: {
        HP_BIOSPassword: { code: 0, stdout: '[{"Name":"Setup Password","IsSet":1},{"Name":" setup password ","IsSet":0},{"Name":"Power-On Password","IsSet":1}]', stderr: '' },
      },
    });
    const hp = (await createWindowsFirmwareProbe({ runPowerShell: run }).read()).sources.find((s) => s.name === 'wmi:hp:HP_BIOSPassword');
    expect(hp?.fields).toEqual({ adminPassword: 'unknown', powerOnPassword: 'set' });
  });

  it('Lenovo instances that disagree leave both fields unknown', async () => {
    const run = recordedPowerShell({ responses: { Lenovo_BiosPasswordSettings: { code: 0, stdout: '[{"PasswordState":2},{"PasswordState":0}]', stderr: '' } } });
    const lenovo = (await createWindowsFirmwareProbe({ runPowerShell: run }).read()).sources.find((s) => s.name.startsWith('wmi:lenovo'));
    expect(lenovo).toMatchObject({ available: true, fields: { adminPassword: 'unknown', powerOnPassword: 'unknown' }, detail: 'instances disagree: PasswordState 2 / 0' });
  });
});

describe('Windows firmware value decoding', () => {
  it('reads Lenovo PasswordState from a digit string, keeps documented bits under undocumented ones, and refuses anything else', () => {
    expect(decodeLenovoPasswordState(' 3 ').fields).toEqual({ adminPassword: 'set', powerOnPassword: 'set' });
    expect(decodeLenovoPasswordState(256 + 2)).toEqual({
      fields: { adminPassword: 'set', powerOnPassword: 'not_set' },
      detail: 'PasswordState=258 (supervisor, undocumented bits)',
    });
    for (const bad of [-1, 1.5, 2 ** 32, '0x02', 'two', null, true, {}]) {
      expect(decodeLenovoPasswordState(bad).fields, String(bad)).toEqual({});
    }
  });

  it('maps vendor set-flags of every published type (uint32, CIM boolean, text) and nothing else', () => {
    expect([1, true, '1', ' True '].map(vendorFlag)).toEqual(['set', 'set', 'set', 'set']);
    expect([0, false, '0', 'FALSE'].map(vendorFlag)).toEqual(['not_set', 'not_set', 'not_set', 'not_set']);
    expect([2, -1, null, 'yes', [1]].map(vendorFlag)).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
  });

  it('maps Win32_ComputerSystem status numbers and their digit strings, and nothing else', () => {
    expect([0, 1, 2, 3, '1', ' 2 '].map(smbiosStatus)).toEqual(['not_set', 'set', 'not_implemented', 'unknown', 'set', 'not_implemented']);
    expect([4, '7', null, 'Enabled'].map(smbiosStatus)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
  });
});
