import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Static } from 'typebox';
import { AppError, formatError } from '../../shared/errors.js';
import { generatedCheck } from '../generated-checks.js';
import type { PolicyFileSchema } from './policy-file-schema.js';

/**
 * The last policy the collector sent, kept in the state dir (policy.json, 0600) so an agent that
 * restarts without the network enforces it rather than the built-in default.
 */
export const POLICY_FILE = 'policy.json';

export type SavedPolicy = Static<typeof PolicyFileSchema>;
const checkFile = generatedCheck<SavedPolicy>('policy_file', 'policy file');

/** Lowercase hex SHA-256 of the rules text as UTF-8 (what policy.updated carries). */
export function rulesSha256(rules: string): string {
  return createHash('sha256').update(rules, 'utf8').digest('hex');
}

/** Reads the saved policy; null when there is none. Throws POLICY_ERR_STORE when damaged or its hash is wrong. */
export function readSavedPolicy(stateDir: string): SavedPolicy | null {
  const path = join(stateDir, POLICY_FILE);
  if (!existsSync(path)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AppError('POLICY_ERR_STORE', formatError('POLICY_ERR_STORE', path, 'not JSON'), { cause: err });
  }
  if (!checkFile.check(value)) throw new AppError('POLICY_ERR_STORE', formatError('POLICY_ERR_STORE', path, 'unexpected shape'));
  if (rulesSha256(value.rules) !== value.sha256) throw new AppError('POLICY_ERR_STORE', formatError('POLICY_ERR_STORE', path, 'sha256 mismatch'));
  return value;
}

/** Saves atomically (write, fsync by rename, 0600). Throws POLICY_ERR_STORE. */
export function writeSavedPolicy(stateDir: string, policy: SavedPolicy): void {
  const path = join(stateDir, POLICY_FILE);
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(policy)}\n`, { mode: 0o600, flush: true });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    throw new AppError('POLICY_ERR_STORE', formatError('POLICY_ERR_STORE', path, err instanceof Error ? err.message : 'write failed'), { cause: err });
  }
}
