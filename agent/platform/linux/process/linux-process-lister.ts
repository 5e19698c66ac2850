import { constants, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { sanitizeText } from '../../../../shared/domain/sanitize.js';
import type { Logger } from '../../../../shared/logger.js';
import type { ProcessInfo, ProcessLister, TerminateResult } from '../../sensors.js';
import { attributeText, listDir, readSmallFile } from '../firmware/small-file.js';
import { MAX_HASH_BYTES, createHashCache, identityKey, sha256OfHandle, type HashCache } from './exe-hash.js';

export interface LinuxProcessListerDeps {
  /** Directory under which proc/ is read (default '/'). terminate() refuses any other root. */
  root?: string;
  log: Logger;
  /** Reused across lists; default a cache of 4096 identities. */
  cache?: HashCache;
  /** Processes read in parallel during list() (default 4; hashing is I/O bound). */
  concurrency?: number;
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code ?? 'EIO';

/** Field 22 of /proc/PID/stat (starttime, clock ticks since boot), parsed after the last ')' of comm. */
export function parseStartTime(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const rest = stat.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field 22 is rest[19].
  const v = rest[19];
  return v !== undefined && /^[0-9]+$/.test(v) ? v : null;
}

/**
 * Lists /proc/<pid> and hashes each executable by opening /proc/<pid>/exe itself (the mapped inode,
 * even if the file on disk was replaced or deleted), cached by the opened file's identity.
 */
export function createLinuxProcessLister(deps: LinuxProcessListerDeps): ProcessLister {
  const cache = deps.cache ?? createHashCache();
  const root = deps.root ?? '/';
  const procDir = join(root, 'proc');
  const live = root === '/' || root === '';

  async function hashExe(exePath: string, fresh: boolean): Promise<{ sha256: string } | { problem: string }> {
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(exePath, constants.O_RDONLY | constants.O_NONBLOCK);
      const st = await fh.stat();
      if (!st.isFile()) return { problem: 'executable is not a regular file' };
      if (st.size > MAX_HASH_BYTES) return { problem: `executable too large to hash (${st.size} bytes)` };
      const key = identityKey(st);
      const hit = fresh ? undefined : cache.get(key);
      if (hit) return { sha256: hit };
      const sha256 = await sha256OfHandle(fh);
      cache.set(key, sha256);
      return { sha256 };
    } catch (err) {
      return { problem: `exe unreadable (${errno(err)})` };
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  async function readProcess(pid: number, fresh: boolean): Promise<ProcessInfo | null> {
    const dir = join(procDir, String(pid));
    let uid: number | null = null;
    try {
      uid = (await fsp.stat(dir)).uid;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ESRCH') return null;
    }
    const [comm, stat] = await Promise.all([readSmallFile(join(dir, 'comm'), 64), readSmallFile(join(dir, 'stat'), 4096)]);
    const name = comm.ok ? attributeText(comm.data, 64) || null : null;
    const startTime = stat.ok ? parseStartTime(stat.data.toString('latin1')) : null;
    const info: ProcessInfo = { pid, name, path: null, sha256: null, startTime, uid };

    try {
      info.path = sanitizeText(await fsp.readlink(join(dir, 'exe')), 512);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' && !comm.ok) return null;
      // EINVAL: exe is not a link — a captured tree may hold a copied binary instead; hash it.
      if (code !== 'EINVAL') {
        // Kernel threads have no exe link; EACCES means another user's process and we are not root.
        info.problem = code === 'ENOENT' ? 'kernel thread or zombie (no exe)' : `exe link unreadable (${code})`;
        return info;
      }
    }
    const h = await hashExe(join(dir, 'exe'), fresh);
    if ('sha256' in h) info.sha256 = h.sha256;
    else info.problem = h.problem;
    return info;
  }

  return {
    async list() {
      const listing = await listDir(procDir);
      if (!listing.ok) return [];
      const pids = listing.names.filter((n) => /^[0-9]{1,10}$/.test(n)).map(Number);
      const out: ProcessInfo[] = [];
      let next = 0;
      const worker = async () => {
        while (next < pids.length) {
          const pid = pids[next++] as number;
          try {
            const p = await readProcess(pid, false);
            if (p) out.push(p);
          } catch (err) {
            deps.log.debug({ err, pid }, 'process read failed');
          }
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, deps.concurrency ?? 4) }, worker));
      return out.sort((a, b) => a.pid - b.pid);
    },

    identify: (pid) => readProcess(pid, true),

    terminate(pid): Promise<{ result: TerminateResult; detail: string }> {
      // SECURITY: a captured tree's PIDs are not this machine's processes.
      if (!live) return Promise.resolve({ result: 'failed', detail: 'refusing to signal: lister reads a captured tree, not the live /proc' });
      try {
        process.kill(pid, 'SIGKILL');
        return Promise.resolve({ result: 'killed', detail: 'SIGKILL sent' });
      } catch (err) {
        const code = errno(err);
        if (code === 'ESRCH') return Promise.resolve({ result: 'gone', detail: 'process already exited' });
        return Promise.resolve({ result: 'failed', detail: `kill failed (${code})` });
      }
    },
  };
}
