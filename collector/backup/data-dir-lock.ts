import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';

/** File in the data dir naming the pid of the process that owns the database (collector or restore). */
export const DATA_LOCK_FILE = 'collector.lock';

/** The pid written in DATA/collector.lock when that process still runs; null otherwise. */
export function liveLockHolder(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, DATA_LOCK_FILE), 'utf8').trim(), 10);
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    // Signal 0 only asks whether the pid exists; EPERM still means it does.
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/**
 * Claims the data dir for this process: refuses (COLLECTOR_ERR_STATE) while another live pid holds
 * the lock. A lock left by a killed process is taken over. Returns the release function.
 * A pid file, not an OS lock: better-sqlite3 gives no handle to flock and SQLite's own locks are
 * not held while the collector is idle. A reused pid can block a restore; the error names the pid.
 */
export function acquireDataDirLock(dataDir: string, purpose: string): () => void {
  const holder = liveLockHolder(dataDir);
  if (holder !== null && holder !== process.pid) {
    throw new AppError('COLLECTOR_ERR_STATE', formatError('COLLECTOR_ERR_STATE', purpose, `locked by running process ${holder}`), {
      details: { pid: holder },
    });
  }
  const file = join(dataDir, DATA_LOCK_FILE);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (liveLockHolder(dataDir) === process.pid) rmSync(file, { force: true });
  };
}
