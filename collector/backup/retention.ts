import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const NAME = /^collector-(\d{8}T\d{9}Z)\.db$/;

/** File name of a scheduled backup taken at `at`: collector-YYYYMMDDTHHMMSSmmmZ.db (sorts by time). */
export function scheduledBackupName(at: Date): string {
  return `collector-${at.toISOString().replace(/[-:.]/g, '')}.db`;
}

/** Scheduled backups in `dir`, oldest first. Other files are never touched. */
export function listScheduledBackups(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => NAME.test(n))
    .sort();
}

/** Deletes the oldest scheduled backups beyond `keep`; returns the deleted names. */
export function pruneBackups(dir: string, keep: number): string[] {
  const all = listScheduledBackups(dir);
  const doomed = all.slice(0, Math.max(0, all.length - keep));
  for (const n of doomed) rmSync(join(dir, n), { force: true });
  return doomed;
}
