import { join } from 'node:path';
import { sanitizeText } from '../../../../shared/domain/sanitize.js';
import type { FirmwareSourceReading, PasswordField, PasswordState } from '../../sensors.js';
import { attributeText, listDir, readSmallFile } from './small-file.js';

/** Relative to the root: the firmware-attributes class (dell-wmi-sysman, think-lmi, hp-bioscfg, …). */
export const FIRMWARE_ATTRIBUTES_DIR = 'sys/class/firmware-attributes';

// Bounds for hostile or corrupt trees.
const MAX_DRIVERS = 16;
const MAX_ENTRIES = 32;

/**
 * The kernel ABI `role` values mapped onto the SMBIOS field names. Roles not listed (system-mgmt,
 * system, hdd, nvme) protect other things and are reported in the detail only.
 */
const ROLE_FIELD: Readonly<Record<string, PasswordField>> = {
  'bios-admin': 'adminPassword',
  // HP Sure Admin / secure platform management replaces the setup password with a key.
  'enhanced-bios-auth': 'adminPassword',
  'power-on': 'powerOnPassword',
};

interface EntryReading {
  field: PasswordField | null;
  state: PasswordState;
  text: string;
}

async function readAttr(path: string): Promise<{ value: string } | { error: string }> {
  const r = await readSmallFile(path, 256);
  if (!r.ok) return { error: r.code };
  return { value: attributeText(r.data, 64) };
}

async function readEntry(dir: string, name: string): Promise<EntryReading> {
  const label = sanitizeText(name, 48);
  const [enabled, role, mechanism] = await Promise.all([
    readAttr(join(dir, 'is_enabled')),
    readAttr(join(dir, 'role')),
    readAttr(join(dir, 'mechanism')),
  ]);
  const roleValue = 'value' in role ? role.value.toLowerCase() : null;
  const field = roleValue !== null ? (ROLE_FIELD[roleValue] ?? null) : null;
  let state: PasswordState = 'unknown';
  if ('value' in enabled) {
    if (enabled.value === '1') state = 'set';
    else if (enabled.value === '0') state = 'not_set';
  }
  const parts = [
    `${label}:`,
    `role=${roleValue ?? `unreadable(${'error' in role ? role.error : ''})`}`,
    `is_enabled=${'value' in enabled ? JSON.stringify(enabled.value) : `unreadable(${enabled.error})`}`,
  ];
  if ('value' in mechanism) parts.push(`mechanism=${mechanism.value}`);
  if (roleValue !== null && field === null) parts.push('(not a BIOS admin/power-on role)');
  return { field, state, text: parts.join(' ') };
}

// Within one driver several entries can speak for one field (HP setup password + Sure Admin):
// any "set" protects the field; otherwise "not_set" only if some entry said so; else unknown.
function combine(a: PasswordState | undefined, b: PasswordState): PasswordState {
  if (a === undefined) return b;
  if (a === 'set' || b === 'set') return 'set';
  if (a === 'not_set' || b === 'not_set') return 'not_set';
  return 'unknown';
}

async function readDriver(root: string, driver: string): Promise<FirmwareSourceReading> {
  const name = `firmware-attributes:${sanitizeText(driver, 48)}`;
  const authDir = join(root, FIRMWARE_ATTRIBUTES_DIR, driver, 'authentication');
  const listing = await listDir(authDir);
  if (!listing.ok) {
    return { name, authority: 'vendor', available: false, fields: {}, detail: `no authentication directory (${listing.code})` };
  }
  const entries = listing.names.slice(0, MAX_ENTRIES);
  const readings = await Promise.all(entries.map((e) => readEntry(join(authDir, e), e)));
  const fields: Partial<Record<PasswordField, PasswordState>> = {};
  for (const r of readings) if (r.field) fields[r.field] = combine(fields[r.field], r.state);
  const known = Object.keys(fields).length > 0;
  const detail = readings.length === 0 ? 'authentication directory is empty' : readings.map((r) => r.text).join('; ');
  return { name, authority: 'vendor', available: known, fields, detail: sanitizeText(detail, 512) };
}

/**
 * Reads every firmware-attributes driver under `root`. Returns one reading per driver, or a single
 * unavailable reading when the class is absent (no supported vendor driver: the state is unknown).
 */
export async function readFirmwareAttributes(root: string): Promise<FirmwareSourceReading[]> {
  const classDir = join(root, FIRMWARE_ATTRIBUTES_DIR);
  const listing = await listDir(classDir);
  if (!listing.ok) {
    const why = listing.code === 'ENOENT' ? 'no supported vendor driver loaded' : `unreadable`;
    return [{ name: 'firmware-attributes', authority: 'vendor', available: false, fields: {}, detail: `${FIRMWARE_ATTRIBUTES_DIR} ${listing.code}: ${why}` }];
  }
  if (listing.names.length === 0) {
    return [{ name: 'firmware-attributes', authority: 'vendor', available: false, fields: {}, detail: `${FIRMWARE_ATTRIBUTES_DIR} is empty: no supported vendor driver loaded` }];
  }
  return Promise.all(listing.names.slice(0, MAX_DRIVERS).map((d) => readDriver(root, d)));
}
