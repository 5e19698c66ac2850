import { closeSync, constants, fstatSync, openSync, promises as fsp, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sanitizeText } from '../../../../shared/domain/sanitize.js';
import type { Logger } from '../../../../shared/logger.js';
import type { ProcessInfo, ProcessLister, TerminateResult } from '../../sensors.js';
import { attributeText, listDir, readSmallFileSync } from '../firmware/small-file.js';
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

  /**
   * The cached hash of an executable, looked up synchronously by the identity of the opened image;
   * `miss` (with the identity key) when it must be hashed. Same checks as hashExe.
   */
  function cachedHash(exePath: string): { sha256: string } | { problem: string } | { miss: string } {
    let fd = -1;
    try {
      fd = openSync(exePath, constants.O_RDONLY | constants.O_NONBLOCK);
      const st = fstatSync(fd);
      if (!st.isFile()) return { problem: 'executable is not a regular file' };
      if (st.size > MAX_HASH_BYTES) return { problem: `executable too large to hash (${st.size} bytes)` };
      const key = identityKey(st);
      const hit = cache.get(key);
      return hit ? { sha256: hit } : { miss: key };
    } catch (err) {
      return { problem: `exe unreadable (${errno(err)})` };
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }

  /**
   * What procfs says about one process, read synchronously: a handful of small kernel-generated
   * files, where the thread-pool hops of the async API cost ~4x the CPU of the reads themselves, on
   * every 10 s scan (docs/benchmarks.md). `exe` is the link to hash when there is one; null when the
   * process is gone.
   */
  function readMeta(pid: number): { info: ProcessInfo; exe: string | null } | null {
    const dir = join(procDir, String(pid));
    let uid: number | null = null;
    try {
      uid = statSync(dir).uid;
    } catch (err) {
      if (errno(err) === 'ENOENT' || errno(err) === 'ESRCH') return null;
    }
    const comm = readSmallFileSync(join(dir, 'comm'), 64);
    const stat = readSmallFileSync(join(dir, 'stat'), 4096);
    const name = comm.ok ? attributeText(comm.data, 64) || null : null;
    const startTime = stat.ok ? parseStartTime(stat.data.toString('latin1')) : null;
    const info: ProcessInfo = { pid, name, path: null, sha256: null, startTime, uid };

    try {
      info.path = sanitizeText(readlinkSync(join(dir, 'exe')), 512);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' && !comm.ok) return null;
      // EINVAL: exe is not a link — a captured tree may hold a copied binary instead; hash it.
      if (code !== 'EINVAL') {
        // Kernel threads have no exe link; EACCES means another user's process and we are not root.
        info.problem = code === 'ENOENT' ? 'kernel thread or zombie (no exe)' : `exe link unreadable (${code})`;
        return { info, exe: null };
      }
    }
    return { info, exe: join(dir, 'exe') };
  }

  async function finish(meta: { info: ProcessInfo; exe: string }, fresh: boolean): Promise<void> {
    const h = await hashExe(meta.exe, fresh);
    if ('sha256' in h) meta.info.sha256 = h.sha256;
    else meta.info.problem = h.problem;
  }

  async function readProcess(pid: number, fresh: boolean): Promise<ProcessInfo | null> {
    const meta = readMeta(pid);
    if (!meta) return null;
    if (meta.exe !== null) await finish({ info: meta.info, exe: meta.exe }, fresh);
    return meta.info;
  }

  return {
    async list() {
      const listing = await listDir(procDir);
      if (!listing.ok) return [];
      const pids = listing.names.filter((n) => /^[0-9]{1,10}$/.test(n)).map(Number);
      const out: ProcessInfo[] = [];
      // Misses grouped by image identity: one group is hashed once, by one worker.
      const misses = new Map<string, Array<{ info: ProcessInfo; exe: string }>>();
      for (let i = 0; i < pids.length; i++) {
        // Yield now and then, so a seat with thousands of processes does not stall the event loop.
        if (i > 0 && i % 64 === 0) await new Promise((r) => setImmediate(r));
        const pid = pids[i] as number;
        try {
          const meta = readMeta(pid);
          if (!meta) continue;
          out.push(meta.info);
          if (meta.exe === null) continue;
          const cached = cachedHash(meta.exe);
          if ('miss' in cached) {
            const group = misses.get(cached.miss);
            if (group) group.push({ info: meta.info, exe: meta.exe });
            else misses.set(cached.miss, [{ info: meta.info, exe: meta.exe }]);
          } else if ('sha256' in cached) meta.info.sha256 = cached.sha256;
          else meta.info.problem = cached.problem;
        } catch (err) {
          deps.log.debug({ err, pid }, 'process read failed');
        }
      }
      // Only new images are hashed, asynchronously (they can be large). Within a group the first
      // hashes and the rest find it in the cache (hashExe re-checks it).
      const groups = [...misses.values()];
      let next = 0;
      const worker = async () => {
        while (next < groups.length) {
          for (const m of groups[next++]!) {
            try {
              await finish(m, false);
            } catch (err) {
              deps.log.debug({ err, pid: m.info.pid }, 'process hash failed');
            }
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
