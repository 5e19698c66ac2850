import { join } from 'node:path';
import { sanitizeBytes } from '../../../../shared/domain/sanitize.js';
import type { BiosInfo, FirmwareProbe, FirmwareSourceReading } from '../../sensors.js';
import { readFirmwareAttributes } from './firmware-attributes.js';
import { attributeText, listDir, readSmallFile } from './small-file.js';
import { decodeType24 } from './smbios-type24.js';

/** Relative to the root: one directory per SMBIOS structure, "<type>-<index>/raw". */
export const DMI_ENTRIES_DIR = 'sys/firmware/dmi/entries';
/** Relative to the root: the kernel's decoded DMI identity strings. */
export const DMI_ID_DIR = 'sys/class/dmi/id';

export interface LinuxFirmwareProbeDeps {
  /** Directory under which sys/ is read (default '/'); a captured tree in tests and support. */
  root?: string;
  /**
   * Fallback for BIOS identity when sys/class/dmi/id is unreadable (e.g. systeminformation's
   * si.bios()). Only used for the live root: a captured tree must not mix in the host's BIOS.
   */
  biosFallback?: () => Promise<{ vendor?: string; version?: string; releaseDate?: string }>;
}

async function readSmbiosType24(root: string): Promise<FirmwareSourceReading> {
  const name = 'smbios:type24';
  const dir = join(root, DMI_ENTRIES_DIR);
  const listing = await listDir(dir);
  if (!listing.ok) {
    return { name, authority: 'smbios', available: false, fields: {}, detail: `${DMI_ENTRIES_DIR} ${listing.code}` };
  }
  const entries = listing.names.filter((n) => /^24-[0-9]{1,3}$/.test(n));
  if (entries.length === 0) {
    return { name, authority: 'smbios', available: false, fields: {}, detail: 'firmware publishes no type-24 (Hardware Security) structure' };
  }
  // Normally exactly one; several would be a firmware bug, so the first decodable one wins and the
  // rest are noted.
  const notes: string[] = [];
  for (const e of entries.slice(0, 4)) {
    const r = await readSmallFile(join(dir, e, 'raw'), 64);
    if (!r.ok) {
      notes.push(`${e}: raw unreadable (${r.code})`);
      continue;
    }
    const d = decodeType24(r.data);
    if (!d.ok) {
      notes.push(`${e}: ${d.reason}`);
      continue;
    }
    const hex = d.settings.toString(16).padStart(2, '0');
    notes.unshift(`${e}: settings=0x${hex} (advisory: many firmwares never update this table)`);
    return { name, authority: 'smbios', available: true, fields: d.fields, detail: notes.join('; ') };
  }
  return { name, authority: 'smbios', available: false, fields: {}, detail: notes.join('; ') };
}

async function readDmiId(root: string, attr: string): Promise<string | null> {
  const r = await readSmallFile(join(root, DMI_ID_DIR, attr), 512);
  if (!r.ok) return null;
  const s = attributeText(r.data, 128);
  return s.length > 0 ? s : null;
}

async function readBios(root: string, live: boolean, fallback: LinuxFirmwareProbeDeps['biosFallback']): Promise<BiosInfo> {
  const [vendor, version, date] = await Promise.all([
    readDmiId(root, 'bios_vendor'),
    readDmiId(root, 'bios_version'),
    readDmiId(root, 'bios_date'),
  ]);
  if (vendor !== null || version !== null || date !== null) {
    return { vendor, version, date, detail: `${DMI_ID_DIR}/bios_*` };
  }
  if (live && fallback) {
    try {
      const b = await fallback();
      const clean = (s: string | undefined) => {
        const v = s === undefined ? '' : sanitizeBytes(Buffer.from(s, 'utf8'), 128);
        return v.length > 0 ? v : null;
      };
      const out = { vendor: clean(b.vendor), version: clean(b.version), date: clean(b.releaseDate) };
      if (out.vendor !== null || out.version !== null) return { ...out, detail: 'systeminformation bios()' };
    } catch {
      // fall through: unknown
    }
  }
  return { vendor: null, version: null, date: null, detail: `${DMI_ID_DIR}/bios_* unreadable and no other source` };
}

/** Linux firmware probe: firmware-attributes (vendor) + SMBIOS type 24 + BIOS identity, all under `root`. */
export function createLinuxFirmwareProbe(deps: LinuxFirmwareProbeDeps = {}): FirmwareProbe {
  const root = deps.root ?? '/';
  const live = root === '/' || root === '';
  return {
    async read() {
      const [vendor, smbios, bios] = await Promise.all([
        readFirmwareAttributes(root),
        readSmbiosType24(root),
        readBios(root, live, deps.biosFallback),
      ]);
      return { sources: [...vendor, smbios], bios };
    },
  };
}
