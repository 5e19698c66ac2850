import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The seatguard package version, found by walking up from this file (works from src and dist). */
export function readPackageVersion(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (let i = 0; i < 6; i++) {
    try {
      const raw = readFileSync(join(dir, 'package.json'), 'utf8');
      const m = /"name"\s*:\s*"seatguard"[\s\S]*?"version"\s*:\s*"([0-9A-Za-z.+-]{1,32})"/.exec(raw);
      if (m?.[1]) return m[1];
    } catch {
      /* keep walking up */
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return '0.0.0';
}

export const COLLECTOR_VERSION = readPackageVersion();
