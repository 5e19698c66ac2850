import { constants, promises as fsp } from 'node:fs';
import { sanitizeBytes } from '../../../../shared/domain/sanitize.js';

export type SmallRead = { ok: true; data: Buffer } | { ok: false; code: string; reason: string };

/**
 * Reads at most `maxBytes` of a regular file. Opened non-blocking and checked with fstat first, so a
 * FIFO or device planted in a captured tree cannot hang the agent. Never throws.
 */
export async function readSmallFile(path: string, maxBytes = 4096): Promise<SmallRead> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, code: 'ENOTREG', reason: 'not a regular file' };
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
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, code, reason: code };
  } finally {
    await fh?.close().catch(() => undefined);
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
