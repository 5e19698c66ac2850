import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerProbeCommand, runProbe, type ProbeReport } from '../../../../agent/probe.js';
import { createFakeSysfs, type FakeSysfs } from '../../../helpers/fake-sysfs.js';
import { FIXTURES, materialize, readFixture } from './support.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const NMAP = '\nPackage: nmap\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.93+dfsg1-1\nDescription: The Network Mapper\n';

/**
 * A captured seat: sysfs (USB devices, firmware attributes, DMI, net) under sys/, dpkg under
 * var/lib/dpkg — the layout support staff get from `tar` of a real seat.
 */
async function capturedSeat(): Promise<{ root: string; sysfs: FakeSysfs }> {
  const sysfs = await createFakeSysfs();
  cleanup.push(() => sysfs.cleanup());
  await sysfs.addController('usb1');
  await sysfs.addDevice({ port: '1-1', vendorId: '0781', productId: '5583', serial: '4C530001230518113094', manufacturer: 'SanDisk', product: 'Ultra Fit', interfaces: [{ cls: 8, sub: 6, proto: 0x50 }] });
  await sysfs.addDevice({ port: '1-2', vendorId: '046d', productId: 'c31c', serial: null, manufacturer: 'Logitech', product: 'USB Keyboard', interfaces: [{ cls: 3, sub: 1, proto: 1 }, { cls: 3, sub: 0, proto: 0 }] });
  await sysfs.addDevice({ port: '1-3', vendorId: '1d6b', productId: '0104', serial: 'COMPOSITE01', product: 'StickPlusKbd', interfaces: [{ cls: 3, sub: 1, proto: 1 }, { cls: 8, sub: 6, proto: 0x50 }] });

  const dell = readFixture<{ driver: string; files: Record<string, unknown> }>('firmware-attributes/dell-wmi-sysman.json');
  await materialize(join(sysfs.root, 'class/firmware-attributes', dell.driver), dell.files);
  const dmi = readFixture<{ samples: Array<{ name: string; raw: string }>; bios: Record<string, string> }>('dmi/type24.json');
  const raw = Buffer.from((dmi.samples.find((s) => s.name === 'thinkpad-typical')?.raw ?? '').split(' ').map((h) => parseInt(h, 16)));
  await materialize(join(sysfs.root, 'firmware/dmi/entries'), { '24-0': { raw } });
  await materialize(join(sysfs.root, 'class/dmi/id'), dmi.bios);
  await materialize(join(sysfs.root, 'class/net'), { lo: { address: '00:00:00:00:00:00\n', type: '772\n' }, eth0: { address: '8c:16:45:aa:bb:cc\n', type: '1\n' } });

  const root = await mkdtemp(join(tmpdir(), 'sg-seat-'));
  cleanup.push(() => rm(root, { recursive: true, force: true }));
  await symlink(sysfs.root, join(root, 'sys'));
  await mkdir(join(root, 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(root, 'var/lib/dpkg/status'), readFileSync(join(FIXTURES, 'dpkg/status'), 'utf8') + NMAP);
  return { root, sysfs };
}

async function authorizedFiles(sysRoot: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const devices = join(sysRoot, 'bus/usb/devices');
  for (const d of await readdir(devices)) {
    for (const f of ['authorized', 'interface_authorized_default']) {
      try {
        out[`${d}/${f}`] = await readFile(join(devices, d, f), 'utf8');
      } catch {
        // not every entry has both
      }
    }
  }
  return out;
}

describe('seatguard agent probe', () => {
  it('reports firmware, USB decisions, software and network of a captured seat (--root)', async () => {
    const { root, sysfs } = await capturedSeat();
    const before = await authorizedFiles(sysfs.root);
    const r = await runProbe({ platform: 'linux', root });

    expect(r.firmware).toMatchObject({
      adminPassword: 'set',
      powerOnPassword: 'not_set',
      keyboardPassword: 'not_implemented',
      frontPanelReset: 'not_implemented',
      decidedBy: { adminPassword: 'firmware-attributes:dell-wmi-sysman', keyboardPassword: 'smbios:type24' },
      bios: { vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024' },
    });
    expect(r.firmware.disagreements).toEqual([{ field: 'adminPassword', chosen: 'firmware-attributes:dell-wmi-sysman', chosenState: 'set', other: 'smbios:type24', otherState: 'not_set' }]);

    expect(r.usb).not.toBe('unknown');
    const usb = r.usb === 'unknown' ? [] : r.usb;
    expect(usb.map((d) => [d.port, d.id, d.serial, d.decision, d.interfaceDecisions])).toEqual([
      ['1-1', '0781:5583', '4C530001230518113094', 'block', { '08:06:50': 'block' }],
      ['1-2', '046d:c31c', null, 'allow', { '03:01:01': 'allow', '03:00:00': 'allow' }],
      ['1-3', '1d6b:0104', 'COMPOSITE01', 'block', { '03:01:01': 'allow', '08:06:50': 'block' }],
    ]);
    expect(usb[0]?.rule).toBe('allow except-interface 08:*:*');

    const total = readFileSync(join(FIXTURES, 'dpkg/status'), 'utf8').split(/\n\n+/).filter((s) => s.trim()).length + 1;
    expect(r.software.installed).toBe(total);
    expect(r.software.denied).toEqual([{ name: 'nmap', version: '7.93+dfsg1-1', rule: 'default.hacking.pkg.nmap', category: 'hacking', reason: 'security/hacking tool not permitted on call-center seats' }]);
    expect(r.network.interfaces).toEqual([
      { name: 'eth0', mac: '8c:16:45:aa:bb:cc', ipv4: null, ipv6: null, internal: false },
      { name: 'lo', mac: null, ipv4: null, ipv6: null, internal: true },
    ]);

    // Read-only: nothing authorized, nothing probed, no controller touched.
    expect(await authorizedFiles(sysfs.root)).toEqual(before);
    expect(sysfs.probed()).toEqual([]);
  });

  it('turns every unreadable part into unknown with the reason in sources, and still completes', async () => {
    const { root, sysfs } = await capturedSeat();
    await sysfs.makeUnreadable('class/firmware-attributes/dell-wmi-sysman/authentication/Admin/is_enabled');
    await writeFile(join(sysfs.root, 'firmware/dmi/entries/24-0/raw'), Buffer.from([0x18, 0x05]));
    await rm(join(sysfs.root, 'class/dmi/id'), { recursive: true });
    await rm(join(root, 'var/lib/dpkg/status'));
    await mkdir(join(root, 'var/lib/dpkg/status'));
    await sysfs.makeUnreadable('bus/usb/devices/1-1/descriptors');
    await rm(join(sysfs.root, 'class/net'), { recursive: true });

    const r = await runProbe({ platform: 'linux', root });
    expect(r.firmware.adminPassword).toBe('unknown');
    expect(r.firmware.keyboardPassword).toBe('unknown');
    const detail = (name: string) => r.firmware.sources.find((s) => s.name === name)?.detail;
    expect(detail('firmware-attributes:dell-wmi-sysman')).toContain('is_enabled=unreadable(ENOTREG)');
    expect(detail('smbios:type24')).toBe('24-0: structure truncated (2 bytes, need 5)');
    expect(r.firmware.bios).toEqual({ vendor: 'unknown', version: 'unknown', date: 'unknown' });
    expect(detail('bios-identity')).toMatch(/unreadable/);

    expect(r.software).toEqual({ installed: 'unknown', denied: [], sources: [{ name: 'software-inventory', available: false, detail: expect.stringMatching(/SOFT_ERR_SOURCE|not a regular file/) }] });
    const stick = r.usb === 'unknown' ? undefined : r.usb.find((d) => d.port === '1-1');
    expect(stick).toMatchObject({ decision: 'block', rule: expect.stringMatching(/^fail-closed: descriptors unreadable/) });
    expect(r.network.interfaces).toBe('unknown');
    expect(r.network.sources[0]?.detail).toMatch(/ENOENT/);
  });

  it('reports an empty root as unknown everywhere without failing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sg-empty-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const r = await runProbe({ platform: 'linux', root });
    expect([r.firmware.adminPassword, r.firmware.powerOnPassword, r.firmware.keyboardPassword, r.firmware.frontPanelReset]).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    expect(r.firmware.sources.find((s) => s.name === 'firmware-attributes')?.detail).toMatch(/no supported vendor driver/);
    expect(r.usb).toEqual([]);
    expect(r.software.installed).toBe('unknown');
    expect(r.network.interfaces).toBe('unknown');
  });

  it('prints the JSON once through the CLI command and completes normally', async () => {
    const { root } = await capturedSeat();
    const out: string[] = [];
    const program = new Command('seatguard').exitOverride();
    registerProbeCommand(program.command('agent'), { out: (t) => out.push(t) });
    await program.parseAsync(['agent', 'probe', '--root', root, '--json'], { from: 'user' });
    expect(out).toHaveLength(1);
    const report = JSON.parse(out[0] ?? '') as ProbeReport;
    expect(report).toMatchObject({ platform: 'linux', root, firmware: { adminPassword: 'set' }, software: { denied: [{ name: 'nmap' }] } });
    expect(Object.keys(report)).toEqual(['platform', 'root', 'firmware', 'usb', 'usbSources', 'software', 'network']);
  });

  it('shows the scripted fake seat with --platform fake, and prints text without --json', async () => {
    const out: string[] = [];
    const program = new Command('seatguard').exitOverride();
    registerProbeCommand(program.command('agent'), { out: (t) => out.push(t) });
    await program.parseAsync(['agent', 'probe', '--platform', 'fake', '--json'], { from: 'user' });
    const r = JSON.parse(out[0] ?? '') as ProbeReport;
    expect(r.firmware).toMatchObject({ adminPassword: 'set', powerOnPassword: 'not_set', bios: { vendor: 'Fake BIOS Inc.' } });
    expect(r.usb === 'unknown' ? [] : r.usb.map((d) => [d.id, d.decision])).toEqual([
      ['0781:5583', 'block'],
      ['046d:c31c', 'allow'],
    ]);
    expect(r.software).toMatchObject({ installed: 3, denied: [{ name: 'nmap' }] });

    await program.parseAsync(['agent', 'probe', '--platform', 'fake'], { from: 'user' });
    expect(out[1]).toMatch(/^platform fake, root \/\nfirmware: admin=set power-on=not_set/);
    expect(out[1]).toContain('usb 1-1 0781:5583 serial=4C530001230518113094 [08:06:50] → block (allow except-interface 08:*:*)');
  });

  it('refuses an unknown platform name at the command line', async () => {
    const program = new Command('seatguard').exitOverride().configureOutput({ writeErr: () => undefined });
    registerProbeCommand(program.command('agent').exitOverride().configureOutput({ writeErr: () => undefined }), { out: () => undefined });
    await expect(program.parseAsync(['agent', 'probe', '--platform', 'windows'], { from: 'user' })).rejects.toMatchObject({ code: 'commander.invalidArgument' });
  });
});
