import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIRMWARE_ATTRIBUTES_DIR, readFirmwareAttributes } from '../../../../../agent/platform/linux/firmware/firmware-attributes.js';
import { materialize, readFixture } from '../../sensors/support.js';

interface TreeFixture {
  driver: string;
  files: Record<string, Record<string, string>>;
}

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sg-fwattr-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function install(name: string): Promise<TreeFixture> {
  const fx = readFixture<TreeFixture>(`firmware-attributes/${name}.json`);
  await materialize(join(root, FIRMWARE_ATTRIBUTES_DIR, fx.driver), fx.files);
  return fx;
}

describe('firmware-attributes reader', () => {
  it('reads a Dell dell-wmi-sysman tree: Admin (bios-admin) set, System (power-on) not set', async () => {
    await install('dell-wmi-sysman');
    const [src, ...rest] = await readFirmwareAttributes(root);
    expect(rest).toHaveLength(0);
    expect(src).toMatchObject({ name: 'firmware-attributes:dell-wmi-sysman', authority: 'vendor', available: true });
    expect(src?.fields).toEqual({ adminPassword: 'set', powerOnPassword: 'not_set' });
    expect(src?.detail).toContain('Admin: role=bios-admin is_enabled="1" mechanism=password');
  });

  it('reads a Lenovo think-lmi tree and keeps System/HDD/NVMe out of the admin and power-on fields', async () => {
    await install('think-lmi');
    const [src] = await readFirmwareAttributes(root);
    expect(src?.name).toBe('firmware-attributes:thinklmi');
    expect(src?.fields).toEqual({ adminPassword: 'set', powerOnPassword: 'set' });
    expect(src?.detail).toMatch(/HDD: role=hdd is_enabled="0".*not a BIOS admin\/power-on role/);
    expect(src?.detail).toMatch(/System: role=system-mgmt/);
  });

  it('counts HP Sure Admin (enhanced-bios-auth) as admin protection even when the setup password is not set', async () => {
    await install('hp-bioscfg');
    const [src] = await readFirmwareAttributes(root);
    expect(src?.fields).toEqual({ adminPassword: 'set', powerOnPassword: 'not_set' });
    expect(src?.detail).toContain('Setup Password: role=bios-admin is_enabled="0"');
  });

  it('maps entries by role, not by name: an unexpected entry name with role bios-admin still counts', async () => {
    await materialize(join(root, FIRMWARE_ATTRIBUTES_DIR, 'future-vendor'), {
      'authentication/Supervisor PW': { is_enabled: '1\n', role: 'bios-admin\n' },
    });
    const [src] = await readFirmwareAttributes(root);
    expect(src?.fields).toEqual({ adminPassword: 'set' });
  });

  it('reports an absent class as unavailable with a reason, never as "no password"', async () => {
    const r = await readFirmwareAttributes(root);
    expect(r).toEqual([
      expect.objectContaining({ name: 'firmware-attributes', available: false, fields: {}, detail: expect.stringMatching(/ENOENT: no supported vendor driver/) }),
    ]);
  });

  it('reports a driver without an authentication directory as unavailable', async () => {
    await mkdir(join(root, FIRMWARE_ATTRIBUTES_DIR, 'dell-wmi-sysman', 'attributes'), { recursive: true });
    const [src] = await readFirmwareAttributes(root);
    expect(src).toMatchObject({ available: false, detail: expect.stringMatching(/no authentication directory/) });
  });

  it('turns an unreadable is_enabled into unknown with the reason in the detail', async () => {
    await install('dell-wmi-sysman');
    const admin = join(root, FIRMWARE_ATTRIBUTES_DIR, 'dell-wmi-sysman', 'authentication', 'Admin');
    await rm(join(admin, 'is_enabled'));
    await mkdir(join(admin, 'is_enabled'));
    const [src] = await readFirmwareAttributes(root);
    expect(src?.fields.adminPassword).toBe('unknown');
    expect(src?.detail).toContain('is_enabled=unreadable(ENOTREG)');
  });

  it('treats values other than 0 and 1 as unknown and sanitizes hostile text', async () => {
    await materialize(join(root, FIRMWARE_ATTRIBUTES_DIR, 'evil\u202edrv'), {
      'authentication/Admin': { is_enabled: 'yes\n', role: 'bios-admin\u0007\n' },
    });
    const [src] = await readFirmwareAttributes(root);
    expect(src?.fields).toEqual({});
    expect(src?.available).toBe(false);
    expect(src?.name).toBe('firmware-attributes:evil\uFFFDdrv');
    // eslint-disable-next-line no-control-regex -- the point is to look for control characters
    expect(src?.detail).not.toMatch(/[\u0000-\u001f\u202e]/);
  });

  it('reads only up to a bounded number of drivers from a hostile tree', async () => {
    for (let i = 0; i < 20; i++) await mkdir(join(root, FIRMWARE_ATTRIBUTES_DIR, `d${String(i).padStart(2, '0')}`), { recursive: true });
    await writeFile(join(root, 'marker'), '');
    const r = await readFirmwareAttributes(root);
    expect(r).toHaveLength(16);
  });
});
