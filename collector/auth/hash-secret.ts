import { createHash } from 'node:crypto';

/** sha256 hex of a bearer secret (API or enrollment token): what the store keeps instead of it. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
