import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/logger.js';
import type { Db } from '../store/db.js';
import { backupDatabase, trustedKeysOf, type BackupResult } from './backup.js';
import { pruneBackups, scheduledBackupName } from './retention.js';

/** Collector `backup` option: where, how often, how many to keep. */
export interface BackupScheduleOptions {
  dir: string;
  /** Default 24 h. */
  intervalMs?: number;
  /** Default 14. */
  keep?: number;
}

export const BACKUP_DEFAULTS = Object.freeze({ intervalMs: 86_400_000, keep: 14 });

export interface BackupScheduler {
  start(): void;
  /** Stops the timer and waits for a running backup. */
  stop(): Promise<void>;
  /** Takes one backup now (then prunes); runs never overlap. */
  runNow(): Promise<BackupResult>;
}

/** Periodic online backups of the collector's own connection into `dir`, pruned to `keep`. */
export function createBackupScheduler(deps: { db: Db; dataDir: string; options: BackupScheduleOptions; clock: Clock; log: Logger }): BackupScheduler {
  const { db, dataDir, clock, log } = deps;
  const dir = deps.options.dir;
  const intervalMs = deps.options.intervalMs ?? BACKUP_DEFAULTS.intervalMs;
  const keep = deps.options.keep ?? BACKUP_DEFAULTS.keep;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<BackupResult> | undefined;

  const runNow = (): Promise<BackupResult> => {
    running ??= (async () => {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const result = await backupDatabase(db, join(dir, scheduledBackupName(new Date(clock.now()))), trustedKeysOf(dataDir));
        const pruned = pruneBackups(dir, keep);
        log.info({ file: result.file, bytes: result.bytes, events: result.events, pruned: pruned.length }, 'backup written');
        return result;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  return {
    runNow,
    start() {
      timer ??= setInterval(() => {
        runNow().catch((err: unknown) => log.error({ err }, 'scheduled backup failed'));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
