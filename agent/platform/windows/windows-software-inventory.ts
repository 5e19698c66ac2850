import { sanitizeText } from '../../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../../shared/errors.js';
import type { InstalledPackage, PowerShellRunner, SoftwareInventory } from '../sensors.js';
import { parsePowerShellJson } from './powershell.js';

/**
 * The Uninstall keys osquery's `programs` table reads: HKLM native and WOW6432Node views, the
 * running account's HKCU and every loaded user hive (HKU\<SID>). Run as a service, HKCU is
 * SYSTEM's own hive, and hives of users who are not logged on are not loaded, so their per-user
 * installs stay invisible. Win32_Product is avoided: it is slow and triggers MSI self-repair.
 */
export const UNINSTALL_SCRIPT = [
  "$paths = @('HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*', 'HKLM:\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*', 'HKCU:\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*')",
  "Get-ChildItem -Path 'Registry::HKEY_USERS' -ErrorAction SilentlyContinue | Where-Object { $_.PSChildName -match '^S-1-5-21-[0-9-]+$' } | ForEach-Object { $paths += ('Registry::HKEY_USERS\\' + $_.PSChildName + '\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\*') }",
  "Get-ItemProperty -Path $paths -ErrorAction SilentlyContinue | Select-Object PSPath,DisplayName,DisplayVersion,Publisher,SystemComponent,ParentKeyName,ReleaseType | ConvertTo-Json -Compress -Depth 2",
].join('; ');

// Entries that are parts or patches of something else, not separately installed software.
const UPDATE_RELEASE_TYPES = new Set(['security update', 'update rollup', 'hotfix', 'update', 'service pack']);

// PSPath is "Microsoft.PowerShell.Core\Registry::HKEY_…\…"; the key names keep the casing of the
// path that was queried ("SOFTWARE" or "Software"), so every match ignores case.
function view(psPath: string): string | null {
  const hive = /^Microsoft\.PowerShell\.Core\\Registry::HKEY_(LOCAL_MACHINE|USERS|CURRENT_USER)\\/i.exec(psPath)?.[1]?.toUpperCase();
  if (hive === undefined) return null;
  if (hive !== 'LOCAL_MACHINE') return 'user';
  return /\\WOW6432Node\\/i.test(psPath) ? 'x86' : 'x64';
}

const text = (v: unknown, max: number) => {
  if (typeof v !== 'string' && typeof v !== 'number') return null;
  const s = sanitizeText(String(v), max);
  return s.length > 0 ? s : null;
};

/**
 * Maps Get-ItemProperty rows of the Uninstall keys to packages: drops entries without DisplayName,
 * SystemComponent=1, entries with ParentKeyName (updates of a parent product) and update release types.
 */
export function parseUninstallEntries(rows: Record<string, unknown>[]): InstalledPackage[] {
  const out = new Map<string, InstalledPackage>();
  for (const r of rows) {
    const name = text(r.DisplayName, 128);
    if (!name) continue;
    if (r.SystemComponent === 1 || r.SystemComponent === '1') continue;
    if (typeof r.ParentKeyName === 'string' && r.ParentKeyName.trim() !== '') continue;
    if (typeof r.ReleaseType === 'string' && UPDATE_RELEASE_TYPES.has(r.ReleaseType.trim().toLowerCase())) continue;
    const pkg: InstalledPackage = {
      name,
      version: text(r.DisplayVersion, 128),
      arch: typeof r.PSPath === 'string' ? view(r.PSPath) : null,
      publisher: text(r.Publisher, 128),
      source: 'windows',
    };
    // The same product registered for two users is one package for the seat.
    out.set(`${pkg.name}\u0000${pkg.arch ?? ''}`, pkg);
  }
  return [...out.values()];
}

export interface WindowsSoftwareInventoryDeps {
  runPowerShell: PowerShellRunner;
}

/** Installed programs from the Uninstall registry keys. No change notification yet: the sensor polls. */
export function createWindowsSoftwareInventory(deps: WindowsSoftwareInventoryDeps): SoftwareInventory {
  return {
    async list() {
      const r = await deps.runPowerShell(UNINSTALL_SCRIPT);
      if (r.code !== 0) {
        const why = r.error ?? `exit ${String(r.code)}: ${r.stderr.split(/\r?\n/)[0]?.slice(0, 160) ?? ''}`;
        throw new AppError('SOFT_ERR_SOURCE', formatError('SOFT_ERR_SOURCE', `Uninstall registry keys: ${why}`));
      }
      let rows: Record<string, unknown>[];
      try {
        rows = parsePowerShellJson(r.stdout);
      } catch (cause) {
        throw new AppError('SOFT_ERR_SOURCE', formatError('SOFT_ERR_SOURCE', 'Uninstall registry keys: output is not JSON'), { cause });
      }
      return parseUninstallEntries(rows);
    },
    watch: () => Promise.resolve(null),
  };
}
