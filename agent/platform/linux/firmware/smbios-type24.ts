import type { PasswordField, PasswordState } from '../../sensors.js';

/** SMBIOS structure type of "Hardware Security" (DMTF DSP0134 §7.25). */
export const SMBIOS_TYPE_HARDWARE_SECURITY = 0x18;

// Each 2-bit field: 00 disabled, 01 enabled, 10 not_implemented (no such password on this board), 11 unknown.
const STATES: readonly PasswordState[] = ['not_set', 'set', 'not_implemented', 'unknown'];

export type Type24Decoded =
  | { ok: true; settings: number; fields: Record<PasswordField, PasswordState> }
  | { ok: false; reason: string };

/** Decodes the settings byte (offset 4): bits 7:6 power-on, 5:4 keyboard, 3:2 admin, 1:0 front-panel reset. */
export function decodeHardwareSecuritySettings(settings: number): Record<PasswordField, PasswordState> {
  const v = settings & 0xff;
  return {
    powerOnPassword: STATES[(v >> 6) & 3] ?? 'unknown',
    keyboardPassword: STATES[(v >> 4) & 3] ?? 'unknown',
    adminPassword: STATES[(v >> 2) & 3] ?? 'unknown',
    frontPanelReset: STATES[v & 3] ?? 'unknown',
  };
}

/**
 * Decodes one raw type-24 structure as exposed in /sys/firmware/dmi/entries/24-N/raw. Refuses
 * anything that is not a type-24 structure with a formatted length of at least 5 bytes.
 */
export function decodeType24(raw: Uint8Array): Type24Decoded {
  if (raw.length < 5) return { ok: false, reason: `structure truncated (${raw.length} bytes, need 5)` };
  const type = raw[0] ?? -1;
  const length = raw[1] ?? 0;
  if (type !== SMBIOS_TYPE_HARDWARE_SECURITY) return { ok: false, reason: `not a type-24 structure (type ${type})` };
  if (length < 5) return { ok: false, reason: `formatted length ${length} < 5` };
  const settings = raw[4] ?? 0;
  return { ok: true, settings, fields: decodeHardwareSecuritySettings(settings) };
}
