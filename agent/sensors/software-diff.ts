import type { PackageRef } from '../../shared/protocol/sensor-messages.js';
import { sanitizeText } from '../../shared/domain/sanitize.js';
import type { InstalledPackage } from '../platform/sensors.js';
import { compareCodeUnits } from '../text-order.js';

export interface InventoryDiff {
  installed: InstalledPackage[];
  removed: InstalledPackage[];
  /** Same package, other version (upgrade or downgrade). */
  changed: Array<{ pkg: InstalledPackage; previousVersion: string | null }>;
}

/** Identity of a package across scans: the same name may be installed for two architectures. */
export function packageKey(p: Pick<InstalledPackage, 'source' | 'name' | 'arch'>): string {
  return `${p.source}\u0000${p.name}\u0000${p.arch ?? ''}`;
}

function group(list: readonly InstalledPackage[]): Map<string, InstalledPackage[]> {
  const m = new Map<string, InstalledPackage[]>();
  for (const p of list) {
    const k = packageKey(p);
    const g = m.get(k);
    if (g) g.push(p);
    else m.set(k, [p]);
  }
  return m;
}

/**
 * Differences between two complete inventories, each list sorted by name. A package present once on
 * both sides with another version is a change; rpm's install-only packages (several kernels side by
 * side) are compared version by version. Pure.
 */
export function diffInventory(prev: readonly InstalledPackage[], cur: readonly InstalledPackage[]): InventoryDiff {
  const before = group(prev);
  const after = group(cur);
  const diff: InventoryDiff = { installed: [], removed: [], changed: [] };
  for (const [k, now] of after) {
    const old = before.get(k);
    if (!old) {
      diff.installed.push(...now);
    } else if (old.length === 1 && now.length === 1) {
      const [o, n] = [old[0] as InstalledPackage, now[0] as InstalledPackage];
      if (o.version !== n.version) diff.changed.push({ pkg: n, previousVersion: o.version });
    } else {
      const oldVersions = new Set(old.map((p) => p.version));
      const newVersions = new Set(now.map((p) => p.version));
      diff.installed.push(...now.filter((p) => !oldVersions.has(p.version)));
      diff.removed.push(...old.filter((p) => !newVersions.has(p.version)));
    }
  }
  for (const [k, old] of before) if (!after.has(k)) diff.removed.push(...old);
  const byName = (a: InstalledPackage, b: InstalledPackage) => compareCodeUnits(a.name, b.name);
  diff.installed.sort(byName);
  diff.removed.sort(byName);
  diff.changed.sort((a, b) => byName(a.pkg, b.pkg));
  return diff;
}

/** The wire form of a package (re-sanitized: the baseline file may have been edited). */
export function packageRef(p: InstalledPackage, previousVersion?: string | null): PackageRef {
  const ref: PackageRef = {
    name: sanitizeText(p.name, 128),
    version: p.version === null ? null : sanitizeText(p.version, 128),
    arch: p.arch === null ? null : sanitizeText(p.arch, 32),
    source: p.source,
  };
  if (previousVersion !== undefined) ref.previous_version = previousVersion === null ? null : sanitizeText(previousVersion, 128);
  return ref;
}

/**
 * Splits items into batches whose JSON stays under `maxBytes` (and `maxItems`), so every event fits
 * in one protocol frame whatever the names hold.
 */
export function chunkBySize<T>(items: readonly T[], maxBytes = 40 * 1024, maxItems = 500): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const it of items) {
    const n = Buffer.byteLength(JSON.stringify(it), 'utf8') + 1;
    if (cur.length > 0 && (size + n > maxBytes || cur.length >= maxItems)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(it);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
