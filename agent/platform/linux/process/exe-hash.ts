import { createHash } from 'node:crypto';
import type { promises as fsp, Stats } from 'node:fs';

/** Executables larger than this are not hashed (sha256 null, problem "too large"): 1 GiB. */
export const MAX_HASH_BYTES = 1024 * 1024 * 1024;

/**
 * Cache key of an opened file's identity. ctime is included on top of dev:ino:size:mtime because
 * mtime can be set back by the file's owner (touch -r) after an in-place edit; ctime cannot.
 */
export function identityKey(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** Streams an already opened file through sha256 (lowercase hex). */
export async function sha256OfHandle(fh: fsp.FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return hash.digest('hex');
}

/** A small bounded map of identity key → sha256 (dropped wholesale when full: simple and bounded). */
export function createHashCache(maxEntries = 4096) {
  const map = new Map<string, string>();
  return {
    get: (k: string) => map.get(k),
    set(k: string, v: string) {
      if (map.size >= maxEntries) map.clear();
      map.set(k, v);
    },
    get size() {
      return map.size;
    },
  };
}
export type HashCache = ReturnType<typeof createHashCache>;
