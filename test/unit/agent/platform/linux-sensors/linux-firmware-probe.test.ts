import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIRMWARE_ATTRIBUTES_DIR } from '../../../../../agent/platform/linux/firmware/firmware-attributes.js';
import { DMI_ENTRIES_DIR, DMI_ID_DIR, createLinuxFirmwareProbe } from '../../../../../agent/platform/linux/firmware/linux-firmware-probe.js';
import { materialize, readFixture } from '../../sensors/support.js';

const dmi = readFixture<{ samples: Array<{ name: string; raw: string }>; bios: Record<string, string> }>('dmi/type24.json');
const hex = (s: string) => Buffer.from(s.split(' ').map((h) => parseInt(h, 16)));
const sample = (name: string) => hex(dmi.samples.find((s) => s.name === name)?.raw ?? '');

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sg-fwprobe-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Linux firmware probe', () => {
  it('reads vendor attributes, the SMBIOS type-24 table and the BIOS identity under the root', async () => {
    const dell = readFixture<{ driver: string; files: Record<string, unknown> }>('firmware-attributes/dell-wmi-sysman.json');
    await materialize(join(root, FIRMWARE_ATTRIBUTES_DIR, dell.driver), dell.files);
    await materialize(join(root, DMI_ENTRIES_DIR), { '24-0': { raw: sample('admin-only') }, '0-0': { raw: hex('00 18 00 00') } });
    await materialize(join(root, DMI_ID_DIR), dmi.bios);

    const r = await createLinuxFirmwareProbe({ root }).read();
    expect(r.sources.map((s) => [s.name, s.authority, s.available])).toEqual([
      ['firmware-attributes:dell-wmi-sysman', 'vendor', true],
      ['smbios:type24', 'smbios', true],
    ]);
    expect(r.sources[1]?.fields).toEqual({ powerOnPassword: 'not_set', keyboardPassword: 'not_implemented', adminPassword: 'set', frontPanelReset: 'not_implemented' });
    expect(r.sources[1]?.detail).toMatch(/^24-0: settings=0x26/);
    expect(r.bios).toEqual({ vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024', detail: `${DMI_ID_DIR}/bios_*` });
  });

  it('reports a machine without DMI (like this CI host) as unavailable everywhere, with reasons', async () => {
    let fallbackCalled = false;
    const r = await createLinuxFirmwareProbe({
      root,
      biosFallback: () => {
        fallbackCalled = true;
        return Promise.resolve({ vendor: 'host BIOS' });
      },
    }).read();
    expect(r.sources.every((s) => !s.available)).toBe(true);
    expect(r.sources.find((s) => s.name === 'smbios:type24')?.detail).toBe(`${DMI_ENTRIES_DIR} ENOENT`);
    // A captured tree must never be mixed with the host's own BIOS.
    expect(fallbackCalled).toBe(false);
    expect(r.bios).toMatchObject({ vendor: null, version: null, date: null, detail: expect.stringMatching(/unreadable/) });
  });

  it('uses the BIOS fallback only for the live root', async () => {
    const r = await createLinuxFirmwareProbe({
      root: '/nonexistent-live-root-is-slash-only',
      biosFallback: () => Promise.resolve({ vendor: 'X' }),
    }).read();
    expect(r.bios.vendor).toBeNull();
  });

  it('reports a truncated or foreign type-24 entry as unavailable with the decoding reason', async () => {
    await materialize(join(root, DMI_ENTRIES_DIR), { '24-0': { raw: hex('18 05 00') } });
    const r = await createLinuxFirmwareProbe({ root }).read();
    const smbios = r.sources.find((s) => s.name === 'smbios:type24');
    expect(smbios).toMatchObject({ available: false, fields: {}, detail: '24-0: structure truncated (3 bytes, need 5)' });
  });

  it('skips an unreadable first entry and decodes the next one', async () => {
    await mkdir(join(root, DMI_ENTRIES_DIR, '24-0', 'raw'), { recursive: true });
    await materialize(join(root, DMI_ENTRIES_DIR), { '24-1': { raw: sample('qemu-lab') } });
    const smbios = (await createLinuxFirmwareProbe({ root }).read()).sources.find((s) => s.name === 'smbios:type24');
    expect(smbios?.available).toBe(true);
    expect(smbios?.detail).toBe('24-1: settings=0x67 (advisory: many firmwares never update this table); 24-0: raw unreadable (ENOTREG)');
  });

  it('says so when the firmware publishes no type-24 structure at all', async () => {
    await materialize(join(root, DMI_ENTRIES_DIR), { '0-0': { raw: hex('00 18 00 00') }, '1-0': { raw: hex('01 1b 01 00') } });
    const smbios = (await createLinuxFirmwareProbe({ root }).read()).sources.find((s) => s.name === 'smbios:type24');
    expect(smbios?.detail).toMatch(/no type-24/);
  });
});
