import type { Command } from 'commander';
import { isAppError } from '../../shared/errors.js';
import { backupDataDir } from '../../collector/backup/backup.js';
import { restoreDataDir } from '../../collector/backup/restore.js';

/** Where a command writes; process.stdout / process.stderr in the CLI, buffers in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** Exit codes: 0 done, 1 refused or failed (backup unverifiable, collector running), 2 usage. */
export const BACKUP_EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function describe(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return `${isAppError(err) ? `${err.code}: ` : ''}${msg}${cause}`;
}

/** `seatguard backup --data DIR --out FILE`; returns the exit code, never exits itself. */
export async function runBackup(o: { data: string; out: string; stdout: TextSink; stderr: TextSink }): Promise<number> {
  try {
    const r = await backupDataDir(o.data, o.out);
    o.stdout.write(`backup written to ${r.file}: ${r.bytes} bytes, ${r.events} events, ${r.auditRecords} audit records verified\n`);
    o.stdout.write('note: DATA/keys is not in the backup; back it up separately (docs/operations.md)\n');
    return BACKUP_EXIT.ok;
  } catch (err) {
    o.stderr.write(`seatguard backup: ${describe(err)}\n`);
    return BACKUP_EXIT.failed;
  }
}

/** `seatguard restore --data DIR --from FILE`; returns the exit code, never exits itself. */
export function runRestore(o: { data: string; from: string; stdout: TextSink; stderr: TextSink }): number {
  try {
    const r = restoreDataDir(o.data, o.from);
    o.stdout.write(`restored ${r.events} events, ${r.auditRecords} audit records${r.previous ? `; previous database kept as ${r.previous}` : ''}\n`);
    return BACKUP_EXIT.ok;
  } catch (err) {
    o.stderr.write(`seatguard restore: ${describe(err)}\n`);
    return BACKUP_EXIT.failed;
  }
}

/** Registers `seatguard backup`. */
export function registerBackupCommand(program: Command): Command {
  return program
    .command('backup')
    .description('online backup of the collector database (verified; keys/ must be backed up separately)')
    .requiredOption('--data <dir>', 'collector data directory')
    .requiredOption('--out <file>', 'backup file to write (replaced atomically, mode 0600)')
    .action(async (o: { data: string; out: string }) => {
      process.exitCode = await runBackup({ ...o, stdout: process.stdout, stderr: process.stderr });
    });
}

/** Registers `seatguard restore`. */
export function registerRestoreCommand(program: Command): Command {
  return program
    .command('restore')
    .description('replace the collector database with a verified backup (collector must be stopped)')
    .requiredOption('--data <dir>', 'collector data directory')
    .requiredOption('--from <file>', 'backup file written by `seatguard backup`')
    .action((o: { data: string; from: string }) => {
      process.exitCode = runRestore({ ...o, stdout: process.stdout, stderr: process.stderr });
    });
}
