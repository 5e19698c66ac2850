import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

type SystemInformation = typeof import('systeminformation');

/**
 * BIOS identity through systeminformation (dmidecode, then sysfs). Only the fallback of the Linux
 * firmware probe when sys/class/dmi/id is unreadable, run once per firmware scan (15 min).
 *
 * Loaded with require, not import, and dropped from the require cache afterwards: an ES import
 * stays in the module map for the life of the process, and systeminformation is ~25 modules and
 * ~1.5 MiB of source the agent would otherwise keep for one read every 15 minutes
 * (docs/benchmarks.md, agent footprint). Reloading it costs a few ms per scan.
 */
export async function systeminformationBios(): Promise<{ vendor?: string; version?: string; releaseDate?: string }> {
  // A fresh require per call: its parent module lists every module it loaded (`children`), so a
  // long-lived one would keep each dropped copy alive.
  const requireCjs = createRequire(import.meta.url);
  const entry = requireCjs.resolve('systeminformation');
  // Only this package's own files: other modules loaded meanwhile (native addons) must stay cached.
  const pkgDir = join(dirname(entry), '..') + sep;
  try {
    const si = requireCjs(entry) as SystemInformation;
    const b = await si.bios();
    return { vendor: b.vendor, version: b.version, releaseDate: b.releaseDate };
  } finally {
    for (const key of Object.keys(requireCjs.cache)) if (key.startsWith(pkgDir)) delete requireCjs.cache[key];
  }
}
