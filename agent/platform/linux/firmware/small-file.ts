import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync } from 'node:fs';
import { sanitizeBytes } from '../../../../shared/domain/sanitize.js';

export type SmallRead = { ok: true; data: Buffer } | { ok: false; code: string; reason: string };

// The refusals both readers give (the async one and the sync one for procfs).
const notRegular = (): SmallRead => ({ ok: false, code: 'ENOTREG', reason: 'not a regular file' });
function failed(err: unknown): SmallRead {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return { ok: false, code, reason: code };
}

/**
 * Reads at most `maxBytes` of a regular file. Opened non-blocking and checked with fstat first, so a
 * FIFO or device planted in a captured tree cannot hang the agent. Never throws.
 */
export async function readSmallFile(path: string, maxBytes = 4096): Promise<SmallRead> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile()) return notRegular();
    const buf = Buffer.alloc(maxBytes);
    let total = 0;
    // sysfs reports size 4096 whatever the content, so read until EOF or the cap.
    for (;;) {
      const { bytesRead } = await fh.read(buf, total, maxBytes - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total >= maxBytes) break;
    }
    return { ok: true, data: buf.subarray(0, total) };
  } catch (err) {
    return failed(err);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/**
 * readSmallFile without the thread-pool round trips, for procfs files (a few hundred bytes, served
 * from kernel memory): the process sensor reads three per process every 10 s, and the async version
 * cost ~4x the CPU (docs/benchmarks.md, agent footprint). Same checks and cap. Never throws.
 */
export function readSmallFileSync(path: string, maxBytes = 4096): SmallRead {
  let fd = -1;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return notRegular();
    const buf = Buffer.alloc(maxBytes);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, total, maxBytes - total, null);
      if (n === 0) break;
      total += n;
      if (total >= maxBytes) break;
    }
    return { ok: true, data: buf.subarray(0, total) };
  } catch (err) {
    return failed(err);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** Lists a directory's entry names, sorted; null when it is absent or unreadable (with the errno). */
export async function listDir(path: string): Promise<{ ok: true; names: string[] } | { ok: false; code: string }> {
  try {
    const names = await fsp.readdir(path);
    return { ok: true, names: names.sort() };
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? 'EIO' };
  }
}

/**
 * A sysfs attribute as text: the kernel's trailing newline removed (before sanitizing, which would
 * otherwise turn it into U+FFFD), then sanitized and capped at `max` code points.
 */
export function attributeText(data: Buffer, max: number): string {
  let end = data.length;
  while (end > 0 && (data[end - 1] === 0x0a || data[end - 1] === 0x0d)) end--;
  return sanitizeBytes(data.subarray(0, end), max);
}
