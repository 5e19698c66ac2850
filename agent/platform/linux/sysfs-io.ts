import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';

/** sysfs text attributes are at most one page; anything longer is not from the kernel. */
export const SYSFS_ATTR_MAX = 4096;

export interface CappedRead {
  bytes: Buffer;
  /** True when the file holds more than `cap` bytes (only `cap` were kept). */
  overflow: boolean;
}

/** Node's error code (ENOENT, EISDIR…) of a failed fs call, if any. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Reads at most `cap` bytes of a file. Binary sysfs attributes may arrive in several chunks, so it
 * loops until EOF; it stops one byte past the cap, so a hostile huge file costs no more than cap.
 */
export async function readCapped(path: string, cap: number): Promise<CappedRead> {
  const fh = await open(path, fsc.O_RDONLY);
  try {
    const buf = Buffer.alloc(cap + 1);
    let total = 0;
    while (total < buf.length) {
      const { bytesRead } = await fh.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return { bytes: buf.subarray(0, Math.min(total, cap)), overflow: total > cap };
  } finally {
    await fh.close();
  }
}

/** Reads a short text attribute and trims the kernel's trailing newline and padding. */
export async function readTextAttribute(path: string): Promise<string> {
  const { bytes } = await readCapped(path, SYSFS_ATTR_MAX);
  return bytes.toString('utf8').trim();
}

/**
 * Writes a sysfs attribute the way the kernel expects: O_WRONLY without O_CREAT (a missing
 * attribute is an error, never a new file) and one write that must be taken whole.
 */
export async function writeAttribute(path: string, value: string): Promise<void> {
  const fh = await open(path, fsc.O_WRONLY);
  try {
    const data = Buffer.from(value, 'utf8');
    const { bytesWritten } = await fh.write(data, 0, data.length, null);
    if (bytesWritten !== data.length) {
      throw Object.assign(new Error(`short write: ${bytesWritten} of ${data.length} bytes`), { code: 'ESHORTWRITE' });
    }
  } finally {
    await fh.close();
  }
}
