import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, formatError } from '../../shared/errors.js';

/** Where the collector keeps its audit checkpoint key, relative to the data dir. */
export const AUDIT_KEY_DIR = 'keys';
export const AUDIT_KEY_FILE = 'audit-signing.key';
export const AUDIT_PUBLIC_KEY_FILE = 'audit-signing.pub';

export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** base64 SPKI DER of the public key, as stored on each checkpoint. */
  publicKeyB64: string;
  file: string;
  created: boolean;
}

const keyError = (what: string, cause?: unknown) =>
  new AppError('AUDIT_ERR_KEY', formatError('AUDIT_ERR_KEY', what), cause === undefined ? undefined : { cause });

/** base64 SPKI DER of an Ed25519 public key. */
export function publicKeyB64(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * Loads DATA/keys/audit-signing.key (PKCS#8 PEM, Ed25519), creating it (0600, dir 0700) plus the
 * .pub next to it when it does not exist and `create` is true; null when absent and not created.
 * Throws AUDIT_ERR_KEY when the file is unreadable or not Ed25519.
 */
export function loadSigningKey(dataDir: string, opts: { create: boolean }): AuditSigningKey | null {
  const dir = join(dataDir, AUDIT_KEY_DIR);
  const file = join(dir, AUDIT_KEY_FILE);
  let pem: string | null = null;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw keyError(`cannot read ${file}`, err);
  }
  if (pem === null) {
    if (!opts.create) return null;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    // 'wx' + mode: the file is 0600 from its first byte, and a concurrent creator loses cleanly.
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(join(dir, AUDIT_PUBLIC_KEY_FILE), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
    return { privateKey, publicKey, publicKeyB64: publicKeyB64(publicKey), file, created: true };
  }
  // A key others can read lets them forge checkpoints: tighten it, or refuse when that fails.
  const mode = statSync(file).mode & 0o077;
  if (mode !== 0) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      throw keyError(`${file} is readable by group or others`, err);
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw keyError(`${file} is not a PEM private key`, err);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw keyError(`${file} is not an Ed25519 key`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyB64: publicKeyB64(publicKey), file, created: false };
}

/** Reads an Ed25519 public key (SPKI PEM) kept off the collector, for `audit verify --public-key`. */
export function readPublicKeyFile(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(path, 'utf8'));
  } catch (err) {
    throw keyError(`${path} is not a readable PEM public key`, err);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw keyError(`${path} is not an Ed25519 key`);
  return key;
}
