import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeatSecret } from '../../shared/domain/offline-code.js';
import { AppError, formatError } from '../../shared/errors.js';

/** Where the offline master key lives inside the data dir. */
export const OFFLINE_MASTER_KEY_FILE = join('keys', 'offline-master.key');
const KEY_BYTES = 32;

/**
 * Reads DATA/keys/offline-master.key, creating it (32 random bytes, mode 0600, dir 0700) on first
 * use. Throws OFFLINE_ERR_KEY when the file has the wrong size or is readable by group/others.
 */
export function loadOrCreateOfflineMasterKey(dataDir: string): Buffer {
  const dir = join(dataDir, 'keys');
  const file = join(dataDir, OFFLINE_MASTER_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    // 'wx' fails if the file exists, so two collectors starting at once cannot both write a key.
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AppError('OFFLINE_ERR_KEY', formatError('OFFLINE_ERR_KEY', `cannot create ${file}`), { cause: err });
    }
    return readKey(file);
  }
  try {
    writeSync(fd, randomBytes(KEY_BYTES));
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
  return readKey(file);
}

function readKey(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new AppError('OFFLINE_ERR_KEY', formatError('OFFLINE_ERR_KEY', `cannot read ${file}`), { cause: err });
  }
  try {
    // SECURITY: every seat secret derives from this key; refuse a copy others can read.
    if ((fstatSync(fd).mode & 0o077) !== 0) {
      throw new AppError('OFFLINE_ERR_KEY', formatError('OFFLINE_ERR_KEY', `${file} is accessible to group or others (chmod 600)`));
    }
    const key = readFileSync(fd);
    if (key.length !== KEY_BYTES) {
      throw new AppError('OFFLINE_ERR_KEY', formatError('OFFLINE_ERR_KEY', `${file} must hold ${KEY_BYTES} bytes`));
    }
    return key;
  } finally {
    closeSync(fd);
  }
}

/** The per-seat offline secret handed to the agent at enrollment (base64 on the wire). */
export function seatOfflineSecret(masterKey: Buffer, agentId: string): Buffer {
  return deriveSeatSecret(masterKey, agentId);
}
