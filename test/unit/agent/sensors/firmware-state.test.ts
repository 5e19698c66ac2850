import { describe, expect, it } from 'vitest';
import type { FirmwareReading, FirmwareSourceReading } from '../../../../agent/platform/sensors.js';
import { baselineOf, diffFirmware, resolveFirmware, type FirmwareBaseline } from '../../../../agent/sensors/firmware-state.js';

const bios = { vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024', detail: 'x' };
const reading = (...sources: FirmwareSourceReading[]): FirmwareReading => ({ sources, bios });
const vendor = (name: string, fields: FirmwareSourceReading['fields'], available = true): FirmwareSourceReading => ({ name, authority: 'vendor', available, fields, detail: '' });
const smbios = (fields: FirmwareSourceReading['fields'], available = true): FirmwareSourceReading => ({ name: 'smbios:type24', authority: 'smbios', available, fields, detail: '' });

describe('firmware source resolution', () => {
  it('lets the vendor interface win over SMBIOS and reports the disagreement', () => {
    const r = resolveFirmware(reading(smbios({ adminPassword: 'not_set' }), vendor('fa:dell', { adminPassword: 'set' })));
    expect(r.fields.adminPassword).toEqual({ state: 'set', source: 'fa:dell' });
    expect(r.disagreements).toEqual([
      { field: 'adminPassword', chosenSource: 'fa:dell', chosenState: 'set', otherSource: 'smbios:type24', otherState: 'not_set' },
    ]);
  });

  it('uses SMBIOS for fields no vendor source speaks about', () => {
    const r = resolveFirmware(reading(vendor('fa:dell', { adminPassword: 'set' }), smbios({ keyboardPassword: 'not_implemented', frontPanelReset: 'unknown' })));
    expect(r.fields.keyboardPassword).toEqual({ state: 'not_implemented', source: 'smbios:type24' });
    expect(r.fields.frontPanelReset).toEqual({ state: 'unknown', source: 'smbios:type24' });
    expect(r.fields.powerOnPassword).toEqual({ state: 'unknown', source: 'none' });
  });

  it('keeps a vendor "unknown" instead of falling back to a weaker SMBIOS guess, and records the contradiction', () => {
    const r = resolveFirmware(reading(vendor('fa:dell', { adminPassword: 'unknown' }), smbios({ adminPassword: 'set' })));
    expect(r.fields.adminPassword).toEqual({ state: 'unknown', source: 'fa:dell' });
    expect(r.disagreements).toHaveLength(1);
  });

  it('refuses to pick between equally authoritative sources that contradict each other', () => {
    const r = resolveFirmware(reading(vendor('a', { adminPassword: 'set' }), vendor('b', { adminPassword: 'not_set' }), smbios({ adminPassword: 'set' })));
    expect(r.fields.adminPassword).toEqual({ state: 'unknown', source: 'a+b' });
    expect(r.disagreements.map((d) => [d.otherSource, d.otherState])).toEqual([
      ['a', 'set'],
      ['b', 'not_set'],
      ['smbios:type24', 'set'],
    ]);
  });

  it('agreeing vendor sources decide together without a disagreement', () => {
    const r = resolveFirmware(reading(vendor('wmi:dell:DCIM', { adminPassword: 'set' }), vendor('wmi:dell:PasswordObject', { adminPassword: 'set' })));
    expect(r.fields.adminPassword.state).toBe('set');
    expect(r.disagreements).toEqual([]);
  });

  it('ignores unavailable sources entirely', () => {
    const r = resolveFirmware(reading(vendor('gone', { adminPassword: 'not_set' }, false), smbios({ adminPassword: 'set' })));
    expect(r.fields.adminPassword).toEqual({ state: 'set', source: 'smbios:type24' });
  });

  it('reports every field unknown with source "none" when nothing can be read', () => {
    const r = resolveFirmware(reading());
    for (const f of Object.values(r.fields)) expect(f).toEqual({ state: 'unknown', source: 'none' });
  });
});

describe('firmware change detection', () => {
  const base: FirmwareBaseline = {
    fields: { adminPassword: 'set', powerOnPassword: 'set', keyboardPassword: 'not_implemented', frontPanelReset: 'unknown' },
    bios: { vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024' },
  };

  it('sees a set → not_set transition as a removed password', () => {
    const cur = structuredClone(base);
    cur.fields.adminPassword = 'not_set';
    expect(diffFirmware(base, cur)).toEqual({ removed: ['adminPassword'], biosChanged: false, any: true });
  });

  it('does not call set → unknown a removal (it is a different state, reported as a change)', () => {
    const cur = structuredClone(base);
    cur.fields.adminPassword = 'unknown';
    expect(diffFirmware(base, cur)).toEqual({ removed: [], biosChanged: false, any: true });
  });

  it('sees a new BIOS version as a BIOS change, but not a version that became unreadable', () => {
    expect(diffFirmware(base, { ...base, bios: { ...base.bios, version: '1.32.0' } }).biosChanged).toBe(true);
    const unreadable = diffFirmware(base, { ...base, bios: { ...base.bios, version: null } });
    expect(unreadable).toEqual({ removed: [], biosChanged: false, any: true });
  });

  it('builds the baseline from a resolved reading', () => {
    const r = resolveFirmware(reading(vendor('v', { adminPassword: 'set' })));
    expect(baselineOf(r)).toEqual({
      fields: { adminPassword: 'set', powerOnPassword: 'unknown', keyboardPassword: 'unknown', frontPanelReset: 'unknown' },
      bios: { vendor: 'Dell Inc.', version: '1.31.0', date: '04/11/2024' },
    });
  });
});
