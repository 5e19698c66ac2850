import { execFile } from 'node:child_process';
import type { CommandResult, CommandRunner } from '../../sensors.js';

export interface ExecRunnerOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Largest stdout accepted (default 64 MiB). */
  maxBuffer?: number;
}

// SECURITY: a fixed environment, not the agent's: a hostile PATH or LD_PRELOAD in the service
// environment must not pick the binary, and LC_ALL=C keeps the output parseable.
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** Runs commands with execFile (no shell). A missing binary resolves with `error: 'ENOENT'`, never rejects. */
export function createExecRunner(opts: ExecRunnerOptions = {}): CommandRunner {
  return (file, args) =>
    new Promise<CommandResult>((resolve) => {
      execFile(
        file,
        [...args],
        { timeout: opts.timeoutMs ?? 30_000, maxBuffer: opts.maxBuffer ?? 64 * 1024 * 1024, env: ENV, windowsHide: true, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (!err) return resolve({ code: 0, stdout, stderr });
          const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
          if (typeof e.code === 'number') return resolve({ code: e.code, stdout, stderr });
          const error = e.killed ? 'timeout' : (e.code ?? e.message);
          resolve({ code: null, stdout, stderr, error: String(error) });
        },
      );
    });
}
