import { sanitizeText } from '../../../../shared/domain/sanitize.js';
import type { InstalledPackage } from '../../sensors.js';

/** Relative to the root: dpkg's package database (RFC-822 style stanzas). */
export const DPKG_STATUS = 'var/lib/dpkg/status';
/** Relative to the root: the directory to watch (dpkg replaces status by rename). */
export const DPKG_DIR = 'var/lib/dpkg';

export interface DpkgParseResult {
  packages: InstalledPackage[];
  /** Stanzas without a Package or Status field, with an unusable one, or with garbage lines (still kept when usable). */
  malformed: number;
  /** Stanzas of packages that are not "install ok installed" (removed, half-configured, …). */
  notInstalled: number;
}

// Hostile or corrupt files: cap what one field may hold before it is sanitized.
const MAX_FIELD = 4096;

/**
 * A copy of `s` that does not point into the status text. V8 keeps substrings as slices of their
 * parent, so a package list held between scans (the sensor's baseline) would otherwise pin the whole
 * file — 1.5 MiB of heap on a desktop — for the agent's lifetime.
 */
function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

function finishStanza(fields: Map<string, string>, garbage: boolean, out: DpkgParseResult): void {
  if (garbage) out.malformed++;
  if (fields.size === 0) return;
  const pkg = fields.get('package');
  const status = fields.get('status');
  if (!pkg || !status) {
    if (!garbage) out.malformed++;
    return;
  }
  // "want flag status": only fully installed packages count (not config-files, half-installed, …).
  if (status.trim().split(/\s+/).join(' ') !== 'install ok installed') {
    out.notInstalled++;
    return;
  }
  const name = sanitizeText(pkg, 128);
  if (name.length === 0 || /\s/.test(name)) {
    if (!garbage) out.malformed++;
    return;
  }
  const version = fields.get('version');
  const arch = fields.get('architecture');
  const v = version ? sanitizeText(version, 128) : '';
  const a = arch ? sanitizeText(arch, 32) : '';
  out.packages.push({
    name: detached(name),
    version: v ? detached(v) : null,
    arch: a ? detached(a) : null,
    publisher: null,
    source: 'dpkg',
  });
}

/**
 * Parses /var/lib/dpkg/status. Keeps only `Status: install ok installed`; counts, never throws on,
 * malformed stanzas. Continuation lines (leading space or tab) belong to the previous field.
 */
export function parseDpkgStatus(text: string): DpkgParseResult {
  const out: DpkgParseResult = { packages: [], malformed: 0, notInstalled: 0 };
  let fields = new Map<string, string>();
  let lastKey: string | null = null;
  let garbage = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim().length === 0) {
      finishStanza(fields, garbage, out);
      fields = new Map();
      lastKey = null;
      garbage = false;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // Continuation of a multi-line field (Description, Conffiles): not needed, but keep bounded.
      if (lastKey !== null) {
        const prev = fields.get(lastKey) ?? '';
        if (prev.length < MAX_FIELD) fields.set(lastKey, (prev + '\n' + line).slice(0, MAX_FIELD));
      }
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      // A garbage line: ignored (the stanza is still used if it has Package and Status) but counted.
      garbage = true;
      lastKey = null;
      continue;
    }
    const key = line.slice(0, colon).trim().toLowerCase();
    // A repeated field keeps its first value (dpkg itself refuses duplicates).
    if (!fields.has(key)) fields.set(key, line.slice(colon + 1).trim().slice(0, MAX_FIELD));
    lastKey = key;
  }
  finishStanza(fields, garbage, out);
  return out;
}
