import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import { hashSecret } from './hash-secret.js';
import type { Store } from '../store/store.js';

export const API_TOKEN_FILE = 'api-token';

/**
 * Makes sure an API token exists. At first start (no active token) a new one is generated, its
 * plaintext written once to DATA/api-token (mode 0600) and only its sha256 stored. Later starts
 * read the file back if the operator kept it; `token` is null when it is gone.
 */
export function ensureApiToken(deps: { store: Store; dataDir: string; clock: Clock; log: Logger }): {
  token: string | null;
  file: string;
  created: boolean;
} {
  const file = join(deps.dataDir, API_TOKEN_FILE);
  if (deps.store.apiTokens.countActive() > 0) {
    try {
      const token = readFileSync(file, 'utf8').trim();
      return { token: token.length > 0 ? token : null, file, created: false };
    } catch {
      return { token: null, file, created: false };
    }
  }
  const token = `sga_${randomBytes(32).toString('base64url')}`;
  // A stale file (from a deleted database) is replaced; 'wx' + mode makes the new file 0600 from
  // its first byte. The file is written before the hash is stored so a crash in between only
  // leaves an unusable file that the next start replaces.
  try {
    unlinkSync(file);
  } catch {
    /* did not exist */
  }
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  deps.store.apiTokens.insert(hashSecret(token), 'initial', new Date(deps.clock.now()).toISOString());
  deps.log.info({ api_token_file: file }, 'api token created');
  return { token, file, created: true };
}
