import Database from 'better-sqlite3';
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';
import { acquireDataDirLock } from './data-dir-lock.js';
import { fsyncPath, trustedKeysOf } from './backup.js';
import { verifyDatabaseCopy, type BackupCheck } from './verify-copy.js';

const DB_FILE = 'collector.db';
/** Suffix of the database a restore replaced (kept beside it, one generation). */
export const PRE_RESTORE_SUFFIX = '.pre-restore';

export interface RestoreResult extends BackupCheck {
  /** Where the replaced database went; null when the data dir had none. */
  previous: string | null;
}

/**
 * Replaces DATA/collector.db with the backup `from`. Refuses (COLLECTOR_ERR_STATE) while a live
 * process holds DATA/collector.lock, and holds that lock itself meanwhile so no collector starts
 * half-way. The backup is verified against DATA/keys first (STORE_ERR_OPEN / AUDIT_ERR_BROKEN).
 * The old database has its WAL folded in and is kept as collector.db.pre-restore.
 */
export function restoreDataDir(dataDir: string, from: string): RestoreResult {
  const release = acquireDataDirLock(dataDir, 'restore');
  try {
    const check = verifyDatabaseCopy(from, trustedKeysOf(dataDir));
    const dbPath = join(dataDir, DB_FILE);
    const tmp = `${dbPath}.restore-tmp`;
    rmSync(tmp, { force: true });
    try {
      copyFileSync(from, tmp);
      fsyncPath(tmp);
    } catch (cause) {
      rmSync(tmp, { force: true });
      throw new AppError('STORE_ERR_WRITE', formatError('STORE_ERR_WRITE', `restore into ${dbPath}`), { cause });
    }
    let previous: string | null = null;
    if (existsSync(dbPath)) {
      // A killed collector leaves committed rows in the WAL: fold them in so .pre-restore is whole.
      const old = new Database(dbPath, { fileMustExist: true });
      try {
        old.pragma('wal_checkpoint(TRUNCATE)');
        old.pragma('journal_mode = DELETE');
      } finally {
        old.close();
      }
      previous = dbPath + PRE_RESTORE_SUFFIX;
      renameSync(dbPath, previous);
    }
    for (const side of ['-wal', '-shm', '-journal']) rmSync(dbPath + side, { force: true });
    renameSync(tmp, dbPath);
    fsyncPath(dataDir);
    return { previous, ...check };
  } finally {
    release();
  }
}
