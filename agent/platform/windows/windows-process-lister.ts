import { constants, promises as fsp } from 'node:fs';
import { sanitizeText } from '../../../shared/domain/sanitize.js';
import { AppError, formatError } from '../../../shared/errors.js';
import type { ProcessInfo, ProcessLister, PowerShellRunner, TerminateResult } from '../sensors.js';
import { MAX_HASH_BYTES, createHashCache, identityKey, sha256OfHandle, type HashCache } from '../linux/process/exe-hash.js';
import { psDateText, runCimQuery } from './powershell.js';

export interface WindowsProcessListerDeps {
  runPowerShell: PowerShellRunner;
  cache?: HashCache;
  /** Opens an executable for hashing; injected so tests can point Windows paths at local files. */
  openExecutable?: (path: string) => Promise<fsp.FileHandle>;
}

const PROPS = ['ProcessId', 'Name', 'ExecutablePath', 'CreationDate'];

// Win32_Process.ProcessId is a uint32; JSON carries it as a number, a digit string is tolerated.
function pidOf(v: unknown): number | null {
  const n = typeof v === 'string' && /^[0-9]{1,10}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : null;
}

/** Maps Win32_Process rows (without hashes) to ProcessInfo. */
export function parseWin32Processes(rows: Record<string, unknown>[]): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const r of rows) {
    const pid = pidOf(r.ProcessId);
    if (pid === null) continue;
    const path = typeof r.ExecutablePath === 'string' && r.ExecutablePath.trim() !== '' ? sanitizeText(r.ExecutablePath, 512) : null;
    const created = psDateText(r.CreationDate);
    const info: ProcessInfo = {
      pid,
      name: typeof r.Name === 'string' ? sanitizeText(r.Name, 64) || null : null,
      path,
      sha256: null,
      // CreationDate is the PID-reuse guard, kept opaque: "/Date(ms)/" from Get-CimInstance under
      // Windows PowerShell 5.1, ISO 8601 under 7.x, CIM_DATETIME from Get-WmiObject.
      startTime: created !== null && created !== '' ? sanitizeText(created, 64) : null,
      uid: null,
    };
    // WMI reports no path for System Idle (0), System (4), smss, csrss and other protected
    // processes, even to an administrator.
    if (path === null) info.problem = 'no executable path (system or protected process)';
    out.push(info);
  }
  return out;
}

/**
 * Windows processes from Win32_Process; each ExecutablePath is hashed in Node (cached by file
 * identity). The path can be swapped between listing and hashing — a known limit of path hashing.
 */
export function createWindowsProcessLister(deps: WindowsProcessListerDeps): ProcessLister {
  const cache = deps.cache ?? createHashCache();
  const open = deps.openExecutable ?? ((p: string) => fsp.open(p, constants.O_RDONLY));

  async function hash(p: ProcessInfo, fresh: boolean): Promise<void> {
    if (p.path === null) return;
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await open(p.path);
      const st = await fh.stat();
      if (st.size > MAX_HASH_BYTES) {
        p.problem = `executable too large to hash (${st.size} bytes)`;
        return;
      }
      const key = identityKey(st);
      const hit = fresh ? undefined : cache.get(key);
      p.sha256 = hit ?? (await sha256OfHandle(fh));
      if (!hit) cache.set(key, p.sha256);
    } catch (err) {
      p.problem = `executable unreadable (${(err as NodeJS.ErrnoException).code ?? 'EIO'})`;
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  return {
    async list() {
      const r = await runCimQuery(deps.runPowerShell, 'root/cimv2', 'Win32_Process', PROPS);
      if (!r.ok) throw new AppError('SENSOR_ERR_READ', formatError('SENSOR_ERR_READ', 'Win32_Process', sanitizeText(r.failure.detail, 160)));
      const procs = parseWin32Processes(r.rows);
      for (const p of procs) await hash(p, false);
      return procs;
    },
    async identify(pid) {
      const r = await runCimQuery(deps.runPowerShell, 'root/cimv2', 'Win32_Process', PROPS, `ProcessId = ${Math.trunc(pid)}`);
      if (!r.ok) return null;
      const p = parseWin32Processes(r.rows).find((x) => x.pid === pid);
      if (!p) return null;
      await hash(p, true);
      return p;
    },
    terminate(pid): Promise<{ result: TerminateResult; detail: string }> {
      try {
        // On Windows Node maps SIGKILL to TerminateProcess.
        process.kill(pid, 'SIGKILL');
        return Promise.resolve({ result: 'killed', detail: 'TerminateProcess' });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        if (code === 'ESRCH') return Promise.resolve({ result: 'gone', detail: 'process already exited' });
        return Promise.resolve({ result: 'failed', detail: `terminate failed (${code})` });
      }
    },
  };
}
