import Database from 'better-sqlite3';
import { AppError } from '../../shared/errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the collector database, sets the pragmas and applies pending
 * migrations in one IMMEDIATE transaction. Throws STORE_ERR_OPEN / STORE_ERR_MIGRATION.
 */
export function openDatabase(path: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  let db: Db;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: an `ack` tells the agent it may delete its copy of the event, so a
    // commit must survive power loss, not only a process crash. Group commit amortizes the fsync.
    db.pragma('synchronous = FULL');
    // Another process (the `token create` CLI) may write while the collector runs.
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
  } catch (cause) {
    throw new AppError('STORE_ERR_OPEN', `Could not open database ${path}`, { cause });
  }
  try {
    migrate(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** Applies the migrations the database has not seen yet; refuses a database newer than the code. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const run = db.transaction((): number[] => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`);
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
    const applied = new Set(rows.map((r) => r.version));
    const known = new Set(migrations.map((m) => m.version));
    for (const v of applied) {
      // Fail closed: a newer schema may hold constraints this code does not know about.
      if (!known.has(v)) throw new AppError('STORE_ERR_MIGRATION', `Database has unknown migration ${v}; it is newer than this collector`);
    }
    const insert = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    const done: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      try {
        db.exec(m.sql);
      } catch (cause) {
        throw new AppError('STORE_ERR_MIGRATION', `Schema migration ${m.name} failed`, { cause });
      }
      insert.run(m.version, m.name, new Date().toISOString());
      done.push(m.version);
    }
    return done;
  });
  return run.immediate();
}
