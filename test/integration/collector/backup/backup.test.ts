import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATA_LOCK_FILE } from '../../../../collector/backup/data-dir-lock.js';
import { listScheduledBackups } from '../../../../collector/backup/retention.js';
import { DB_FILE } from '../../../../collector/collector.js';
import { runAuditVerify } from '../../../../scripts/commands/audit.js';
import { BACKUP_EXIT, runBackup, runRestore } from '../../../../scripts/commands/backup.js';
import { eventually } from '../../../helpers/eventually.js';
import { buildOnce, REPO_ROOT } from '../../../helpers/spawn.js';
import { connectReady, enroll, insertedEvent, startCollector, tempDir, type RawAgent, type Running } from '../harness.js';

const sink = () => {
  let text = '';
  return { write: (c: string) => (text += c), get text() { return text; } };
};

function storedSeqs(dbFile: string, agentId: string): number[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT seq FROM events WHERE agent_id = ? ORDER BY seq').all(agentId) as Array<{ seq: number }>).map((r) => r.seq);
  } finally {
    db.close();
  }
}

/** A data dir holding `dbFile` as its database and a copy of `keysFrom`/keys: what an operator restores. */
function dataDirWith(dbFile: string, keysFrom: string): string {
  const dir = tempDir('seatguard-restored-');
  cpSync(join(keysFrom, 'keys'), join(dir, 'keys'), { recursive: true });
  cpSync(dbFile, join(dir, DB_FILE));
  return dir;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function ingesting(): Promise<{ run: Running; conn: RawAgent; agentId: string; send: (n: number) => void; sent: () => number }> {
  const run = await startCollector();
  cleanups.push(() => run.cleanup());
  const agent = await enroll(run.url, run.collector.createEnrollmentToken());
  const { conn } = await connectReady(run, agent);
  cleanups.push(() => conn.close());
  let seq = 0;
  return {
    run,
    conn,
    agentId: agent.agentId,
    send: (n) => {
      for (let i = 0; i < n; i++) conn.send(insertedEvent(++seq));
    },
    sent: () => seq,
  };
}

describe('seatguard backup (online)', () => {
  beforeAll(() => buildOnce(), 180_000);
  it('copies every event acked before it started while the collector keeps acking new events from another process', async () => {
    const { run, conn, agentId, send, sent } = await ingesting();
    send(3_000);
    await eventually(() => conn.ackedSeqs().length === 3_000, 20_000);
    const ackedBefore = new Set(conn.ackedSeqs());

    // Traffic continues during the backup: a steady trickle from a timer.
    const trickle = setInterval(() => send(20), 1);
    const out = join(tempDir('seatguard-backup-'), 'nightly.db');
    cleanups.push(() => rmSync(join(out, '..'), { recursive: true, force: true }));
    // The backup runs in its own process, as `seatguard backup` does beside a running collector.
    const ackedAtStart = conn.ackedSeqs().length;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import(${JSON.stringify(`${REPO_ROOT}dist/scripts/commands/backup.js`)}); process.exitCode = await m.runBackup({ data: process.argv[1], out: process.argv[2], stdout: process.stdout, stderr: process.stderr });`, run.dataDir, out],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderrText = '';
    child.stderr.on('data', (c: Buffer) => (stderrText += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const ackedAtEnd = conn.ackedSeqs().length;
    clearInterval(trickle);
    expect(stderrText).toBe('');
    expect(code).toBe(BACKUP_EXIT.ok);

    // Everything sent, including during the backup, is still acked: the backup never stalled ingest.
    const total = sent();
    await eventually(() => conn.ackedSeqs().length === total, 20_000);
    expect(total).toBeGreaterThan(3_000);
    expect(ackedAtEnd).toBeGreaterThan(ackedAtStart);

    const inBackup = new Set(storedSeqs(out, agentId));
    for (const s of ackedBefore) expect(inBackup.has(s)).toBe(true);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    // One self-contained file: no WAL beside it, no temp file left behind.
    expect(readdirSync(join(out, '..'))).toEqual(['nightly.db']);

    const restored = dataDirWith(out, run.dataDir);
    cleanups.push(() => rmSync(restored, { recursive: true, force: true }));
    const verifyOut = sink();
    expect(runAuditVerify({ data: restored, out: verifyOut, err: sink() })).toBe(0);
    expect(verifyOut.text).toContain('audit trail intact');
  }, 60_000);

  it('refuses to write a backup of a database whose audit chain does not verify', async () => {
    const { run, conn, send } = await ingesting();
    send(10);
    await eventually(() => conn.ackedSeqs().length === 10);
    await conn.close();
    await run.cleanup({ keepDir: true });
    cleanups.push(() => rmSync(run.dataDir, { recursive: true, force: true }));
    // Tamper with history behind the collector's back (triggers forbid UPDATE, so drop them first).
    const db = new Database(join(run.dataDir, DB_FILE));
    for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'").all() as Array<{ name: string }>) {
      db.exec(`DROP TRIGGER "${t.name}"`);
    }
    db.prepare("UPDATE events SET body = json_set(body, '$.present_at_start', json('true')) WHERE seq = 3").run();
    db.close();

    const out = join(tempDir('seatguard-backup-'), 'bad.db');
    cleanups.push(() => rmSync(join(out, '..'), { recursive: true, force: true }));
    const stderr = sink();
    expect(await runBackup({ data: run.dataDir, out, stdout: sink(), stderr })).toBe(BACKUP_EXIT.failed);
    expect(stderr.text).toContain('AUDIT_ERR_BROKEN');
    expect(readdirSync(join(out, '..'))).toEqual([]);
  }, 30_000);
});

describe('seatguard restore', () => {
  it('brings back the backed-up events and keeps the replaced database as .pre-restore', async () => {
    const { run, conn, agentId, send } = await ingesting();
    send(200);
    await eventually(() => conn.ackedSeqs().length === 200, 10_000);
    const out = join(tempDir('seatguard-backup-'), 'b.db');
    cleanups.push(() => rmSync(join(out, '..'), { recursive: true, force: true }));
    expect(await runBackup({ data: run.dataDir, out, stdout: sink(), stderr: sink() })).toBe(0);
    send(50);
    await eventually(() => conn.ackedSeqs().length === 250, 10_000);
    await conn.close();
    await run.cleanup({ keepDir: true });
    cleanups.push(() => rmSync(run.dataDir, { recursive: true, force: true }));

    const stderr = sink();
    expect(runRestore({ data: run.dataDir, from: out, stdout: sink(), stderr })).toBe(BACKUP_EXIT.ok);
    expect(stderr.text).toBe('');
    expect(storedSeqs(join(run.dataDir, DB_FILE), agentId)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(storedSeqs(join(run.dataDir, DB_FILE + '.pre-restore'), agentId)).toHaveLength(250);
    expect(runAuditVerify({ data: run.dataDir, out: sink(), err: sink() })).toBe(0);

    // The restored database serves a collector again; the agent resends what the backup lacks.
    const again = await startCollector({ dataDir: run.dataDir });
    cleanups.push(() => again.cleanup({ keepDir: true }));
    expect(again.collector.store.db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 200 });
  }, 30_000);

  it('refuses while another live process holds the data dir lock and leaves the database alone', async () => {
    const { run, conn, agentId, send } = await ingesting();
    send(5);
    await eventually(() => conn.ackedSeqs().length === 5);
    const out = join(tempDir('seatguard-backup-'), 'b.db');
    cleanups.push(() => rmSync(join(out, '..'), { recursive: true, force: true }));
    expect(await runBackup({ data: run.dataDir, out, stdout: sink(), stderr: sink() })).toBe(0);
    // The running collector announced itself.
    expect(existsSync(join(run.dataDir, DATA_LOCK_FILE))).toBe(true);
    await conn.close();
    await run.cleanup({ keepDir: true });
    cleanups.push(() => rmSync(run.dataDir, { recursive: true, force: true }));
    expect(existsSync(join(run.dataDir, DATA_LOCK_FILE))).toBe(false);

    // Another process (as a collector started by systemd would be) holds the lock.
    const other: ChildProcess = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    cleanups.push(() => void other.kill('SIGKILL'));
    writeFileSync(join(run.dataDir, DATA_LOCK_FILE), `${other.pid}\n`);
    const stderr = sink();
    expect(runRestore({ data: run.dataDir, from: out, stdout: sink(), stderr })).toBe(BACKUP_EXIT.failed);
    expect(stderr.text).toContain('COLLECTOR_ERR_STATE');
    expect(stderr.text).toContain(String(other.pid));
    expect(existsSync(join(run.dataDir, DB_FILE + '.pre-restore'))).toBe(false);
    expect(storedSeqs(join(run.dataDir, DB_FILE), agentId)).toHaveLength(5);

    // Once that process is gone its stale lock no longer blocks.
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    expect(runRestore({ data: run.dataDir, from: out, stdout: sink(), stderr: sink() })).toBe(BACKUP_EXIT.ok);
  }, 30_000);

  it('refuses a backup file that is not a sound database', async () => {
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'keys'));
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, Buffer.alloc(8192, 7));
    const stderr = sink();
    expect(runRestore({ data: dir, from: junk, stdout: sink(), stderr })).toBe(BACKUP_EXIT.failed);
    expect(stderr.text).toContain('STORE_ERR_OPEN');
    expect(existsSync(join(dir, DB_FILE))).toBe(false);
  });
});

describe('scheduled backups', () => {
  it('keeps only the newest `keep` backups and leaves other files in the backup dir alone', async () => {
    const backupDir = tempDir('seatguard-backups-');
    cleanups.push(() => rmSync(backupDir, { recursive: true, force: true }));
    writeFileSync(join(backupDir, 'operator-notes.txt'), 'x');
    let now = Date.parse('2026-12-01T00:00:00Z');
    const clock = { now: () => now, monotonic: () => now };
    const run = await startCollector({ clock, backup: { dir: backupDir, keep: 3, intervalMs: 86_400_000 } });
    cleanups.push(() => run.cleanup());
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await run.collector.backupNow();
      names.push(r.file.slice(backupDir.length + 1));
      now += 86_400_000;
    }
    expect(new Set(names).size).toBe(5);
    expect(listScheduledBackups(backupDir)).toEqual(names.slice(2));
    expect(readdirSync(backupDir)).toContain('operator-notes.txt');
    for (const n of names.slice(2)) expect(statSync(join(backupDir, n)).mode & 0o777).toBe(0o600);
  });

  it('rejects backupNow when no backup dir is configured', async () => {
    const run = await startCollector();
    cleanups.push(() => run.cleanup());
    await expect(run.collector.backupNow()).rejects.toMatchObject({ code: 'COLLECTOR_ERR_STATE' });
  });
});
