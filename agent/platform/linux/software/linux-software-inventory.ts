import { promises as fsp, watch as fsWatch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { AppError, formatError } from '../../../../shared/errors.js';
import type { Logger } from '../../../../shared/logger.js';
import type { CommandRunner, InstalledPackage, InventoryWatch, SoftwareInventory } from '../../sensors.js';
import { DPKG_DIR, DPKG_STATUS, parseDpkgStatus } from './dpkg-status.js';
import { RPM_DIR, parseRpmQuery, rpmQueryArgs } from './rpm.js';

export interface LinuxSoftwareInventoryDeps {
  /** Directory under which var/lib/dpkg and var/lib/rpm are read (default '/'). */
  root?: string;
  /** Runs `rpm`; without it rpm databases are reported as unreadable rather than skipped. */
  runCommand?: CommandRunner;
  log: Logger;
}

// A real status file is a few MB at most; anything far larger is damage or an attack.
const MAX_STATUS_BYTES = 64 * 1024 * 1024;

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installed packages from dpkg's status file and, where an rpm database exists, `rpm -qa`. Every
 * present source must be read completely or list() throws SOFT_ERR_SOURCE.
 */
export function createLinuxSoftwareInventory(deps: LinuxSoftwareInventoryDeps): SoftwareInventory {
  const log = deps.log.child({ component: 'linux-software' });
  const root = deps.root ?? '/';

  async function readDpkg(): Promise<InstalledPackage[] | 'absent'> {
    const path = join(root, DPKG_STATUS);
    let text: string;
    try {
      const st = await fsp.stat(path);
      if (!st.isFile()) throw new AppError('SENSOR_ERR_READ', formatError('SENSOR_ERR_READ', DPKG_STATUS, 'not a regular file'));
      if (st.size > MAX_STATUS_BYTES) throw new AppError('SENSOR_ERR_READ', formatError('SENSOR_ERR_READ', DPKG_STATUS, `too large (${st.size} bytes)`));
      text = await fsp.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      if (err instanceof AppError) throw err;
      throw new AppError('SENSOR_ERR_READ', formatError('SENSOR_ERR_READ', DPKG_STATUS, (err as NodeJS.ErrnoException).code ?? 'EIO'), { cause: err });
    }
    const parsed = parseDpkgStatus(text);
    if (parsed.malformed > 0) log.warn({ malformed: parsed.malformed }, 'dpkg status has malformed stanzas');
    return parsed.packages;
  }

  async function readRpm(): Promise<InstalledPackage[] | 'absent'> {
    if (!(await exists(join(root, RPM_DIR)))) return 'absent';
    if (!deps.runCommand) throw new AppError('SENSOR_ERR_READ', formatError('SENSOR_ERR_READ', RPM_DIR, 'no command runner for rpm'));
    const r = await deps.runCommand('rpm', rpmQueryArgs(root));
    if (r.code !== 0) {
      const why = r.error ?? `exit ${String(r.code)}: ${r.stderr.slice(0, 200)}`;
      throw new AppError('CMD_ERR_FAILED', formatError('CMD_ERR_FAILED', 'rpm -qa', why));
    }
    const parsed = parseRpmQuery(r.stdout);
    if (parsed.malformed > 0) log.warn({ malformed: parsed.malformed }, 'rpm output has malformed lines');
    return parsed.packages;
  }

  return {
    async list() {
      const results = await Promise.allSettled([readDpkg(), readRpm()]);
      const packages: InstalledPackage[] = [];
      const failures: string[] = [];
      let present = 0;
      for (const r of results) {
        if (r.status === 'rejected') {
          failures.push(r.reason instanceof Error ? r.reason.message : String(r.reason));
          present++;
        } else if (r.value !== 'absent') {
          packages.push(...r.value);
          present++;
        }
      }
      if (failures.length > 0) throw new AppError('SOFT_ERR_SOURCE', formatError('SOFT_ERR_SOURCE', failures.join('; ')));
      if (present === 0) throw new AppError('SOFT_ERR_SOURCE', formatError('SOFT_ERR_SOURCE', `neither ${DPKG_STATUS} nor ${RPM_DIR} exists`));
      return packages;
    },

    async watch(onChange, onError): Promise<InventoryWatch | null> {
      const watchers: FSWatcher[] = [];
      // dpkg replaces status through status-new → rename, so a watch on the file itself would die
      // after the first change: watch the directory and react to the status* names.
      const targets: Array<{ dir: string; relevant: (f: string | null) => boolean }> = [
        { dir: join(root, DPKG_DIR), relevant: (f) => f === null || f.startsWith('status') },
        { dir: join(root, RPM_DIR), relevant: () => true },
      ];
      for (const t of targets) {
        if (!(await exists(t.dir))) continue;
        try {
          const w = fsWatch(t.dir, { persistent: false }, (_event, filename) => {
            if (t.relevant(filename === null ? null : String(filename))) onChange();
          });
          w.on('error', (err) => onError(err));
          watchers.push(w);
        } catch (err) {
          onError(err instanceof Error ? err : new Error(String(err)));
        }
      }
      if (watchers.length === 0) return null;
      return {
        stop() {
          for (const w of watchers) w.close();
          return Promise.resolve();
        },
      };
    },
  };
}
