import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SMBIOS_TYPE_HARDWARE_SECURITY,
  decodeHardwareSecuritySettings,
  decodeType24,
} from '../../../../../agent/platform/linux/firmware/smbios-type24.js';
import type { PasswordState } from '../../../../../agent/platform/sensors.js';
import { readFixture } from '../../sensors/support.js';

// Independent oracle: read the byte as an 8-character bit string instead of shifting and masking.
const BY_BITS: Record<string, PasswordState> = { '00': 'not_set', '01': 'set', '10': 'not_implemented', '11': 'unknown' };
function oracle(v: number) {
  const b = v.toString(2).padStart(8, '0');
  return {
    powerOnPassword: BY_BITS[b.slice(0, 2)],
    keyboardPassword: BY_BITS[b.slice(2, 4)],
    adminPassword: BY_BITS[b.slice(4, 6)],
    frontPanelReset: BY_BITS[b.slice(6, 8)],
  };
}

const structure = (settings: number, length = 5) => Uint8Array.from([0x18, length, 0x00, 0x18, settings, 0x00, 0x00]);

describe('SMBIOS type 24 decoding', () => {
  it('decodes every one of the 256 settings bytes into the four 2-bit fields', () => {
    for (let v = 0; v <= 255; v++) {
      const d = decodeType24(structure(v));
      expect(d.ok, `0x${v.toString(16)}`).toBe(true);
      if (d.ok) {
        expect(d.settings).toBe(v);
        expect(d.fields, `0x${v.toString(16)}`).toEqual(oracle(v));
      }
      expect(decodeHardwareSecuritySettings(v)).toEqual(oracle(v));
    }
  });

  it('matches the recorded samples, including the lab table injected into QEMU', () => {
    const fx = readFixture<{ samples: Array<{ name: string; raw: string; expect: Record<string, string> }> }>('dmi/type24.json');
    for (const s of fx.samples) {
      const bytes = Uint8Array.from(s.raw.split(' ').map((h) => parseInt(h, 16)));
      const d = decodeType24(bytes);
      expect(d.ok, s.name).toBe(true);
      if (d.ok) expect(d.fields, s.name).toEqual(s.expect);
    }
  });

  it('refuses structures shorter than five bytes', () => {
    for (let n = 0; n < 5; n++) {
      const d = decodeType24(structure(0x55).subarray(0, n));
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(/truncated/);
    }
  });

  it('refuses a structure of another type or a formatted length below five', () => {
    const wrongType = decodeType24(Uint8Array.from([0x03, 0x05, 0, 0, 0x00]));
    expect(wrongType).toEqual({ ok: false, reason: 'not a type-24 structure (type 3)' });
    const shortLen = decodeType24(Uint8Array.from([SMBIOS_TYPE_HARDWARE_SECURITY, 0x04, 0, 0, 0x00]));
    expect(shortLen.ok).toBe(false);
  });

  it('never throws on garbage and only accepts well-formed type-24 headers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const d = decodeType24(bytes);
        const wellFormed = bytes.length >= 5 && bytes[0] === 0x18 && (bytes[1] ?? 0) >= 5;
        expect(d.ok).toBe(wellFormed);
      }),
      { numRuns: 2000 },
    );
  });
});
