import Database from 'better-sqlite3';
import type { KeyObject } from 'node:crypto';
import { AppError, formatError } from '../../shared/errors.js';
import { verifyAuditTrail } from '../audit/verify.js';
import { createAuditRepo } from '../store/audit-repo.js';

/** What a checked backup holds. */
export interface BackupCheck {
  events: number;
  auditRecords: number;
  checkpoints: number;
}

/**
 * Checks a database copy: `PRAGMA integrity_check` and the audit chain (records, event seals,
 * checkpoints signed by one of `trustedKeys`). Throws STORE_ERR_OPEN or AUDIT_ERR_BROKEN.
 */
export function verifyDatabaseCopy(file: string, trustedKeys: readonly KeyObject[]): BackupCheck {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new AppError('STORE_ERR_OPEN', formatError('STORE_ERR_OPEN', file), { cause });
  }
  try {
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    if (rows.length !== 1 || rows[0]?.integrity_check !== 'ok') {
      const first = String(rows[0]?.integrity_check ?? 'no answer').slice(0, 200);
      throw new AppError('STORE_ERR_OPEN', formatError('STORE_ERR_OPEN', `${file} (integrity_check: ${first})`));
    }
    const result = db.transaction(() => verifyAuditTrail(createAuditRepo(db), trustedKeys)).deferred();
    if (!result.ok) {
      throw new AppError('AUDIT_ERR_BROKEN', formatError('AUDIT_ERR_BROKEN', result.table, String(result.firstBrokenId), result.reason));
    }
    return { events: result.events, auditRecords: result.records, checkpoints: result.checkpoints };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('STORE_ERR_OPEN', formatError('STORE_ERR_OPEN', file), { cause: err });
  } finally {
    db.close();
  }
}
