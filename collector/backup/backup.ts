import Database from 'better-sqlite3';
import type { KeyObject } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppError, formatError } from '../../shared/errors.js';
import { loadSigningKey } from '../audit/signing-key.js';
import type { Db } from '../store/db.js';
import { verifyDatabaseCopy, type BackupCheck } from './verify-copy.js';

/** File name of the collector database inside the data dir (same as collector.ts DB_FILE). */
const DB_FILE = 'collector.db';

/** Result of one backup: the final file and what its verification counted. */
export interface BackupResult extends BackupCheck {
  file: string;
  bytes: number;
}

/** fsync of a file or directory (a directory's fsync makes a rename in it durable). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The public half of DATA/keys/audit-signing.key; empty when there is no key (then no checkpoint can verify). */
export function trustedKeysOf(dataDir: string): KeyObject[] {
  const k = loadSigningKey(dataDir, { create: false });
  return k ? [k.publicKey] : [];
}

/**
 * Online backup of `source` into `out` with SQLite's backup API (page steps between which the
 * owner keeps writing). The copy is written to a 0600 temp file beside `out`, switched to
 * rollback-journal mode (one self-contained file), verified, fsynced and only then renamed over
 * `out`: `out` is either absent, the previous file, or a verified backup. `oneStep` when `source`
 * is not the connection that writes (see below).
 * Throws STORE_ERR_WRITE, STORE_ERR_OPEN or AUDIT_ERR_BROKEN; the temp file is removed on failure.
 */
export async function backupDatabase(source: Db, out: string, trustedKeys: readonly KeyObject[], opts: { oneStep?: boolean } = {}): Promise<BackupResult> {
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    // Created empty with 0600 first: SQLite then writes into it and keeps the mode.
    closeSync(openSync(tmp, 'wx', 0o600));
    let bytes = 0;
    try {
      // SQLite restarts a step-wise backup whenever ANOTHER connection writes the source, so under
      // steady ingest it would never end: a separate connection copies everything in one step
      // (one read snapshot; in WAL mode the writer is not blocked meanwhile).
      if (opts.oneStep === true) await source.backup(tmp, { progress: (p) => Math.max(p.remainingPages, 100) });
      else await source.backup(tmp);
      const copy = new Database(tmp);
      try {
        copy.pragma('journal_mode = DELETE');
        bytes = (copy.pragma('page_count', { simple: true }) as number) * (copy.pragma('page_size', { simple: true }) as number);
      } finally {
        copy.close();
      }
    } catch (cause) {
      throw new AppError('STORE_ERR_WRITE', formatError('STORE_ERR_WRITE', `backup to ${out}`), { cause });
    }
    const check = verifyDatabaseCopy(tmp, trustedKeys);
    fsyncPath(tmp);
    renameSync(tmp, out);
    fsyncPath(dirname(out));
    return { file: out, bytes, ...check };
  } catch (err) {
    rmSync(tmp, { force: true });
    if (err instanceof AppError) throw err;
    throw new AppError('STORE_ERR_WRITE', formatError('STORE_ERR_WRITE', `backup to ${out}`), { cause: err });
  }
}

/**
 * `seatguard backup`: opens DATA/collector.db read-only beside a running collector (WAL lets
 * readers and the writer go on together) and backs it up to `out`, verified against DATA/keys.
 */
export async function backupDataDir(dataDir: string, out: string): Promise<BackupResult> {
  const path = join(dataDir, DB_FILE);
  let db: Db;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new AppError('STORE_ERR_OPEN', formatError('STORE_ERR_OPEN', path), { cause });
  }
  try {
    return await backupDatabase(db, out, trustedKeysOf(dataDir), { oneStep: true });
  } finally {
    db.close();
  }
}
