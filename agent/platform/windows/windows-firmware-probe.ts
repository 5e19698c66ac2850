import { sanitizeText } from '../../../shared/domain/sanitize.js';
import type { BiosInfo, FirmwareProbe, FirmwareSourceReading, PasswordField, PasswordState, PowerShellRunner } from '../sensors.js';
import { psDate, runCimQuery, type CimFailure } from './powershell.js';

export interface WindowsFirmwareProbeDeps {
  runPowerShell: PowerShellRunner;
}

/**
 * Win32_ComputerSystem *PasswordStatus / FrontPanelResetStatus (uint16, SMBIOS type 24): 0 disabled,
 * 1 enabled, 2 not_implemented (the machine has no such password), 3 unknown. Digit strings are accepted; anything else is unknown.
 */
export function smbiosStatus(v: unknown): PasswordState {
  const n = typeof v === 'string' && /^\s*[0-3]\s*$/.test(v) ? Number(v) : v;
  switch (n) {
    case 0:
      return 'not_set';
    case 1:
      return 'set';
    case 2:
      return 'not_implemented';
    default:
      return 'unknown';
  }
}

/**
 * Vendor "is set" flags: HP_BIOSPassword.IsSet and PasswordObject.IsPasswordSet are uint32 1/0,
 * DCIM_BIOSPassword.IsSet is a CIM boolean. Strings of those are tolerated; anything else is unknown.
 */
export function vendorFlag(v: unknown): PasswordState {
  const t = typeof v === 'string' ? v.trim().toLowerCase() : v;
  if (t === 1 || t === true || t === '1' || t === 'true') return 'set';
  if (t === 0 || t === false || t === '0' || t === 'false') return 'not_set';
  return 'unknown';
}

const str = (v: unknown) => (typeof v === 'string' ? sanitizeText(v, 64) : typeof v === 'number' || typeof v === 'boolean' ? String(v) : v === null ? 'null' : '?');

function unavailable(name: string, authority: FirmwareSourceReading['authority'], ns: string, f: CimFailure): FirmwareSourceReading {
  const why: Record<CimFailure['kind'], string> = {
    invalid_namespace: `namespace ${ns} not present (vendor interface not installed or another vendor)`,
    invalid_class: 'class not present on this machine',
    access_denied: 'access denied (the agent must run as administrator/SYSTEM)',
    not_supported: 'not supported by this firmware',
    failed: 'query failed',
  };
  return { name, authority, available: false, fields: {}, detail: sanitizeText(`${why[f.kind]}: ${f.detail}`, 512) };
}

interface VendorQuery {
  name: string;
  namespace: string;
  className: string;
  properties: string[];
  /** Maps rows to fields plus a detail text. */
  map(rows: Record<string, unknown>[]): { fields: Partial<Record<PasswordField, PasswordState>>; detail: string };
}

function byName(rows: Record<string, unknown>[], nameProp: string, valueProp: string, mapping: Record<string, PasswordField>) {
  const fields: Partial<Record<PasswordField, PasswordState>> = {};
  const parts: string[] = [];
  for (const r of rows) {
    const n = typeof r[nameProp] === 'string' ? (r[nameProp] as string) : '';
    const state = vendorFlag(r[valueProp]);
    parts.push(`${str(n)} ${valueProp}=${str(r[valueProp])}`);
    const field = mapping[n.trim().toLowerCase()];
    if (!field) continue;
    // Two instances of one password that disagree say nothing reliable about it.
    const prev = fields[field];
    fields[field] = prev === undefined || prev === state ? state : 'unknown';
  }
  return { fields, detail: parts.length > 0 ? parts.join('; ') : 'no instances' };
}

// Lenovo_BiosPasswordSettings.PasswordState bits, as the table in Lenovo's "BIOS WMI Interface Guide"
// (Detecting Password State) lists them. 128 is "no passwords - BIOS certificate in use".
const LENOVO_POWER_ON = 1;
const LENOVO_SUPERVISOR = 2;
const LENOVO_SYSTEM_MANAGEMENT = 64;
const LENOVO_CERTIFICATE = 128;
const LENOVO_BITS: ReadonlyArray<readonly [number, string]> = [
  [LENOVO_POWER_ON, 'power-on'],
  [LENOVO_SUPERVISOR, 'supervisor'],
  [4, 'hard disk 1'],
  [8, 'hard disk 2'],
  [16, 'hard disk 3'],
  [32, 'hard disk 4'],
  [LENOVO_SYSTEM_MANAGEMENT, 'system management'],
  [LENOVO_CERTIFICATE, 'BIOS certificate'],
];

/** Decodes one PasswordState (uint32; a digit string is accepted) into the admin and power-on fields. */
export function decodeLenovoPasswordState(v: unknown): { fields: Partial<Record<PasswordField, PasswordState>>; detail: string } {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[0-9]{1,10}\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) return { fields: {}, detail: `PasswordState unreadable (${str(v)})` };
  const low = n % 256;
  const names = LENOVO_BITS.filter(([bit]) => (low & bit) !== 0).map(([, name]) => name);
  const cert = (low & LENOVO_CERTIFICATE) !== 0;
  const supervisor = (low & LENOVO_SUPERVISOR) !== 0;
  const notes = [
    `PasswordState=${n} (${names.length > 0 ? names.join(', ') : 'no passwords'}${n > 255 ? ', undocumented bits' : ''})`,
    cert ? 'BIOS certificate authentication in use, counted as admin protection' : '',
    (low & LENOVO_SYSTEM_MANAGEMENT) !== 0 && !supervisor && !cert ? 'a system management password alone is not counted as a supervisor password' : '',
  ];
  return {
    fields: {
      // SECURITY: certificate authentication requires a signed request for every setup change,
      // which protects setup at least as well as a supervisor password.
      adminPassword: supervisor || cert ? 'set' : 'not_set',
      powerOnPassword: (low & LENOVO_POWER_ON) !== 0 ? 'set' : 'not_set',
    },
    detail: notes.filter((x) => x !== '').join('; '),
  };
}

const VENDOR_QUERIES: readonly VendorQuery[] = [
  {
    name: 'wmi:dell:DCIM_BIOSPassword',
    namespace: 'root/dcim/sysman',
    className: 'DCIM_BIOSPassword',
    properties: ['AttributeName', 'IsSet'],
    // Dell's "System" password is the power-on password.
    map: (rows) => byName(rows, 'AttributeName', 'IsSet', { adminpwd: 'adminPassword', systempwd: 'powerOnPassword' }),
  },
  {
    name: 'wmi:dell:PasswordObject',
    namespace: 'root/dcim/sysman/wmisecurity',
    className: 'PasswordObject',
    properties: ['NameId', 'IsPasswordSet'],
    map: (rows) => byName(rows, 'NameId', 'IsPasswordSet', { admin: 'adminPassword', system: 'powerOnPassword' }),
  },
  {
    name: 'wmi:hp:HP_BIOSPassword',
    namespace: 'root/HP/InstrumentedBIOS',
    className: 'HP_BIOSPassword',
    properties: ['Name', 'IsSet'],
    map: (rows) => byName(rows, 'Name', 'IsSet', { 'setup password': 'adminPassword', 'power-on password': 'powerOnPassword' }),
  },
  {
    name: 'wmi:lenovo:Lenovo_BiosPasswordSettings',
    namespace: 'root/wmi',
    className: 'Lenovo_BiosPasswordSettings',
    properties: ['PasswordState'],
    map(rows) {
      const distinct = [...new Set(rows.map((r) => str(r.PasswordState)))];
      if (distinct.length > 1) {
        return { fields: { adminPassword: 'unknown', powerOnPassword: 'unknown' }, detail: `instances disagree: PasswordState ${distinct.join(' / ')}` };
      }
      return decodeLenovoPasswordState(rows[0]?.PasswordState);
    },
  },
];

async function readVendor(run: PowerShellRunner, q: VendorQuery): Promise<FirmwareSourceReading> {
  const r = await runCimQuery(run, q.namespace, q.className, q.properties);
  if (!r.ok) return unavailable(q.name, 'vendor', q.namespace, r.failure);
  if (r.rows.length === 0) return { name: q.name, authority: 'vendor', available: false, fields: {}, detail: 'class present but no instances' };
  const m = q.map(r.rows);
  return { name: q.name, authority: 'vendor', available: Object.keys(m.fields).length > 0, fields: m.fields, detail: sanitizeText(m.detail, 512) };
}

async function readComputerSystem(run: PowerShellRunner): Promise<FirmwareSourceReading> {
  const name = 'wmi:Win32_ComputerSystem';
  const props = ['AdminPasswordStatus', 'PowerOnPasswordStatus', 'KeyboardPasswordStatus', 'FrontPanelResetStatus'];
  const r = await runCimQuery(run, 'root/cimv2', 'Win32_ComputerSystem', props);
  if (!r.ok) return unavailable(name, 'smbios', 'root/cimv2', r.failure);
  const row = r.rows[0];
  if (!row) return { name, authority: 'smbios', available: false, fields: {}, detail: 'no instance' };
  return {
    name,
    authority: 'smbios',
    available: true,
    fields: {
      adminPassword: smbiosStatus(row.AdminPasswordStatus),
      powerOnPassword: smbiosStatus(row.PowerOnPasswordStatus),
      keyboardPassword: smbiosStatus(row.KeyboardPasswordStatus),
      frontPanelReset: smbiosStatus(row.FrontPanelResetStatus),
    },
    detail: `${props.map((p) => `${p}=${str(row[p])}`).join(' ')} (SMBIOS type 24 via WMI; advisory)`,
  };
}

async function readBios(run: PowerShellRunner): Promise<BiosInfo> {
  const r = await runCimQuery(run, 'root/cimv2', 'Win32_BIOS', ['Manufacturer', 'SMBIOSBIOSVersion', 'ReleaseDate']);
  const row = r.ok ? r.rows[0] : undefined;
  if (!row) return { vendor: null, version: null, date: null, detail: r.ok ? 'Win32_BIOS has no instance' : sanitizeText(`Win32_BIOS: ${r.failure.detail}`, 256) };
  const s = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? sanitizeText(v, 128) : null);
  return { vendor: s(row.Manufacturer), version: s(row.SMBIOSBIOSVersion), date: psDate(row.ReleaseDate), detail: 'Win32_BIOS' };
}

/**
 * Windows firmware probe: vendor WMI classes (Dell, HP, Lenovo) as authoritative sources and
 * Win32_ComputerSystem (SMBIOS type 24) as the advisory one. A missing namespace or class is
 * "unavailable" with the reason — never "no password".
 */
export function createWindowsFirmwareProbe(deps: WindowsFirmwareProbeDeps): FirmwareProbe {
  return {
    async read() {
      // Sequential on purpose: each query may start a PowerShell process; a 2-core seat stays usable.
      const sources: FirmwareSourceReading[] = [];
      for (const q of VENDOR_QUERIES) sources.push(await readVendor(deps.runPowerShell, q));
      sources.push(await readComputerSystem(deps.runPowerShell));
      const bios = await readBios(deps.runPowerShell);
      return { sources, bios };
    },
  };
}
