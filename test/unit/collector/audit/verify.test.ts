import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog, type AuditLog } from '../../../../collector/audit/audit-log.js';
import { recordHash, signCheckpoint } from '../../../../collector/audit/chain.js';
import { loadSigningKey, publicKeyB64, type AuditSigningKey } from '../../../../collector/audit/signing-key.js';
import type { AuditRow } from '../../../../collector/store/audit-repo.js';
import { openStore, type Store } from '../../../../collector/store/store.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import type { AgentEvent } from '../../../../shared/protocol/messages.js';

interface Fixture {
  dir: string;
  dbPath: string;
  store: Store;
  audit: AuditLog;
  key: AuditSigningKey;
  clock: ManualClock;
}

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fixture(checkpointEvery = 10): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'seatguard-audit-'));
  dirs.push(dir);
  const dbPath = join(dir, 'collector.db');
  const store = openStore(dbPath);
  stores.push(store);
  const key = loadSigningKey(dir, { create: true })!;
  const clock = new ManualClock();
  const audit = createAuditLog(store.db, { clock, log: silentLogger(), signingKey: key, checkpointEvery });
  return { dir, dbPath, store, audit, key, clock };
}

function appendMany(f: Fixture, n: number): void {
  for (let i = 0; i < n; i++) {
    f.clock.advance(1000);
    f.audit.append({ actor: `usr_${i % 3}`, action: 'user.create', targetType: 'user', targetId: `usr_t${i}`, detail: { i, roles: ['duty'] } });
  }
}

/** A second connection that can do what an attacker with file access can: drop triggers, edit rows. */
function tamper(f: Fixture, fn: (db: Database.Database) => void): void {
  const db = new Database(f.dbPath);
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;');
    db.exec('DROP TRIGGER IF EXISTS audit_checkpoints_no_update; DROP TRIGGER IF EXISTS audit_checkpoints_no_delete;');
    db.exec('DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;');
    fn(db);
  } finally {
    db.close();
  }
}

function seedAgentEvents(f: Fixture, batches: number[][]): void {
  f.store.agents.insert({
    agent_id: 'agt_a',
    seat_name: 'CC-1',
    hostname: 'cc-1',
    platform: 'linux',
    department: null,
    public_key: 'MCowBQYDK2VwAyEA' + 'A'.repeat(44),
    enrolled_at: '2026-01-01T00:00:00.000Z',
  });
  for (const seqs of batches) {
    f.store.ingest(
      seqs.map((seq) => {
        const msg: AgentEvent = { v: 1, type: 'agent.stopping', id: `m-${seq}`, ts: '2026-01-01T00:00:01.000Z', seq, body: { reason: `r${seq}` } };
        return { kind: 'event' as const, agentId: 'agt_a', msg, receivedAt: `2026-01-01T00:00:0${seq % 10}.000Z` };
      }),
    );
  }
}

describe('audit trail verify', () => {
  it('accepts an untouched chain and reports records, checkpoints and the unsigned tail', () => {
    const f = fixture(10);
    appendMany(f, 25);
    const r = f.audit.verify();
    expect(r).toMatchObject({ ok: true, records: 25, checkpoints: 2, unsignedTail: 5, headId: 25 });
  });

  it('names the record whose stored bytes changed in the middle of the chain', () => {
    const f = fixture(10);
    appendMany(f, 25);
    tamper(f, (db) => db.prepare(`UPDATE audit_log SET detail = replace(detail, '"i":12', '"i":13') WHERE id = 13`).run());
    expect(f.audit.verify()).toMatchObject({ ok: false, table: 'audit_log', firstBrokenId: 13 });
  });

  it('detects a one-character change of the actor column', () => {
    const f = fixture(1000);
    appendMany(f, 6);
    tamper(f, (db) => db.prepare(`UPDATE audit_log SET actor = 'usr_X' WHERE id = 4`).run());
    const r = f.audit.verify();
    expect(r).toMatchObject({ ok: false, firstBrokenId: 4 });
    expect(r.ok === false && r.reason).toMatch(/does not match its hash/);
  });

  it('detects a deleted record', () => {
    const f = fixture(1000);
    appendMany(f, 8);
    tamper(f, (db) => db.prepare('DELETE FROM audit_log WHERE id = 5').run());
    const r = f.audit.verify();
    expect(r).toMatchObject({ ok: false, table: 'audit_log', firstBrokenId: 5 });
    expect(r.ok === false && r.reason).toMatch(/missing/);
  });

  it('detects two records swapped (reordered) at the first of them', () => {
    const f = fixture(1000);
    appendMany(f, 8);
    tamper(f, (db) => {
      const get = db.prepare('SELECT * FROM audit_log WHERE id = ?');
      const a = get.get(5) as AuditRow;
      const b = get.get(6) as AuditRow;
      const put = db.prepare(
        'UPDATE audit_log SET ts=@ts, actor=@actor, action=@action, target_type=@target_type, target_id=@target_id, case_id=@case_id, detail=@detail, prev_hash=@prev_hash, hash=@hash WHERE id=@id',
      );
      // Hashes are UNIQUE: park both rows first.
      db.prepare(`UPDATE audit_log SET prev_hash = 'x' || id, hash = 'y' || id WHERE id IN (5, 6)`).run();
      put.run({ ...b, id: 5 });
      put.run({ ...a, id: 6 });
    });
    expect(f.audit.verify()).toMatchObject({ ok: false, firstBrokenId: 5 });
  });

  it('catches a chain rewritten end-to-end without the key at the first signed checkpoint', () => {
    const f = fixture(10);
    appendMany(f, 25);
    tamper(f, (db) => {
      // The attacker edits record 14 and recomputes every hash after it: the chain itself is consistent again.
      const rows = db.prepare('SELECT * FROM audit_log ORDER BY id').all() as AuditRow[];
      db.prepare(`UPDATE audit_log SET prev_hash = 'p' || id, hash = 'h' || id`).run();
      let prev = rows[12]!.hash;
      const put = db.prepare('UPDATE audit_log SET detail=@detail, prev_hash=@prev_hash, hash=@hash WHERE id=@id');
      for (const row of rows) {
        if (row.id < 14) {
          put.run(row);
          continue;
        }
        const detail = row.id === 14 ? row.detail.replace('"duty"', '"admin"') : row.detail;
        const hash = recordHash(prev, { ...row, detail });
        put.run({ ...row, detail, prev_hash: prev, hash });
        prev = hash;
      }
    });
    const r = f.audit.verify();
    // Checkpoint 1 (record 10) still holds; checkpoint 2 (record 20) no longer matches.
    expect(r).toMatchObject({ ok: false, table: 'audit_log', firstBrokenId: 11, checkpointId: 2 });
  });

  it('rejects a checkpoint forged with another key, and one whose signature was altered', () => {
    const f = fixture(1000);
    appendMany(f, 5);
    const head = f.store.audit.head()!;
    const attacker = generateKeyPairSync('ed25519');
    const claim = { last_audit_id: head.id, last_hash: head.hash, ts: '2026-01-02T00:00:00.000Z' };
    tamper(f, (db) =>
      db
        .prepare('INSERT INTO audit_checkpoints (last_audit_id, last_hash, ts, public_key, signature) VALUES (?, ?, ?, ?, ?)')
        .run(head.id, head.hash, claim.ts, publicKeyB64(attacker.publicKey), signCheckpoint(attacker.privateKey, claim)),
    );
    const r = f.audit.verify();
    expect(r).toMatchObject({ ok: false, table: 'audit_checkpoints', firstBrokenId: 1 });
    expect(r.ok === false && r.reason).toMatch(/not trusted/);

    const g = fixture(1000);
    appendMany(g, 5);
    g.audit.checkpoint();
    tamper(g, (db) => db.prepare(`UPDATE audit_checkpoints SET ts = '2030-01-01T00:00:00.000Z' WHERE id = 1`).run());
    const r2 = g.audit.verify();
    expect(r2).toMatchObject({ ok: false, table: 'audit_checkpoints', firstBrokenId: 1 });
    expect(r2.ok === false && r2.reason).toMatch(/signature does not verify/);
  });

  it('detects records cut from the end when a checkpoint covers them', () => {
    const f = fixture(1000);
    appendMany(f, 6);
    f.audit.checkpoint();
    tamper(f, (db) => db.prepare('DELETE FROM audit_log WHERE id >= 5').run());
    expect(f.audit.verify()).toMatchObject({ ok: false, table: 'audit_log', firstBrokenId: 5, checkpointId: 1 });
  });

  it('cannot see records cut from the end after the last checkpoint (documented limit)', () => {
    const f = fixture(1000);
    appendMany(f, 6);
    f.audit.checkpoint();
    appendMany(f, 3);
    tamper(f, (db) => db.prepare('DELETE FROM audit_log WHERE id >= 8').run());
    expect(f.audit.verify()).toMatchObject({ ok: true, records: 7, unsignedTail: 1 });
  });

  it('fails when checkpoints exist but no trusted key is available', () => {
    const f = fixture(2);
    appendMany(f, 3);
    const keyless = createAuditLog(f.store.db, { clock: f.clock, log: silentLogger() });
    expect(keyless.verify()).toMatchObject({ ok: false, table: 'audit_checkpoints', firstBrokenId: 1 });
    expect(keyless.verify({ trustedKeys: [f.key.publicKey] })).toMatchObject({ ok: true });
  });

  it('seals ingested events in the chain and detects a changed byte in an event row', () => {
    const f = fixture(1000);
    seedAgentEvents(f, [[1, 2, 3], [4, 5]]);
    expect(f.audit.verify()).toMatchObject({ ok: true, events: 5 });
    tamper(f, (db) => db.prepare(`UPDATE events SET body = replace(body, 'r4', 'r9') WHERE seq = 4`).run());
    const r = f.audit.verify();
    expect(r).toMatchObject({ ok: false, table: 'events', firstBrokenId: 4 });
    expect(r.ok === false && r.reason).toMatch(/events 4\.\.5 do not match/);
  });

  it('detects a deleted event row and an event row added behind the collector', () => {
    const f = fixture(1000);
    seedAgentEvents(f, [[1, 2, 3]]);
    tamper(f, (db) => db.prepare('DELETE FROM events WHERE seq = 2').run());
    expect(f.audit.verify()).toMatchObject({ ok: false, table: 'events', firstBrokenId: 1 });

    const g = fixture(1000);
    seedAgentEvents(g, [[1, 2]]);
    tamper(g, (db) =>
      db
        .prepare(`INSERT INTO events (agent_id, seq, type, ts, received_at, body) VALUES ('agt_a', 3, 'agent.stopping', 't', 'r', '{"reason":"x"}')`)
        .run(),
    );
    const r = g.audit.verify();
    expect(r).toMatchObject({ ok: false, table: 'events', firstBrokenId: 3 });
    expect(r.ok === false && r.reason).toMatch(/not sealed/);
  });

  it('writes no seal for a batch of duplicates only', () => {
    const f = fixture(1000);
    seedAgentEvents(f, [[1, 2], [1, 2]]);
    expect(f.audit.list({ action: 'events.sealed' }).records).toHaveLength(1);
    expect(f.audit.verify()).toMatchObject({ ok: true, events: 2 });
  });
});

describe('audit log append', () => {
  it('commits nothing when the caller transaction rolls back', () => {
    const f = fixture();
    expect(() =>
      f.store.transaction(() => {
        f.audit.append({ actor: 'usr_1', action: 'policy.update', targetType: 'policy', targetId: 'p1' });
        throw new Error('state write failed');
      }),
    ).toThrow('state write failed');
    expect(f.store.audit.count()).toBe(0);
    f.audit.append({ actor: 'usr_1', action: 'policy.update', targetType: 'policy', targetId: 'p1' });
    expect(f.audit.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('refuses malformed action and target type names and oversized details', () => {
    const f = fixture();
    const bad = [
      { actor: 'a', action: 'Unlock.Approve', targetType: 'x', targetId: '1' },
      { actor: 'a', action: 'unlock approve', targetType: 'x', targetId: '1' },
      { actor: 'a', action: 'x', targetType: 'x;drop', targetId: '1' },
      { actor: '', action: 'x', targetType: 'x', targetId: '1' },
      { actor: 'a', action: 'x', targetType: 'x', targetId: '1', detail: { big: 'x'.repeat(1000), more: Array.from({ length: 40 }, () => 'y'.repeat(1000)) } },
    ];
    for (const rec of bad) expect(() => f.audit.append(rec)).toThrowError(expect.objectContaining({ code: 'AUDIT_ERR_INVALID' }));
    expect(f.store.audit.count()).toBe(0);
  });

  it('stores hostile strings with control and bidi characters neutralized', () => {
    const f = fixture();
    const rec = f.audit.append({ actor: 'usr_1\u202e', action: 'auth.login_failed', targetType: 'user', targetId: 'a\nb', detail: { username: 'x\u0000\u202ey' } });
    expect(rec.actor).toBe('usr_1\ufffd');
    expect(rec.target_id).toBe('a\ufffdb');
    expect(rec.detail).toEqual({ username: 'x\ufffd\ufffdy' });
    expect(f.audit.verify()).toMatchObject({ ok: true });
  });

  it('writes a signed checkpoint every N records', () => {
    const f = fixture(3);
    appendMany(f, 7);
    expect(f.store.audit.checkpoints().map((c) => c.last_audit_id)).toEqual([3, 6]);
    expect(f.audit.checkpoint()?.last_audit_id).toBe(7);
    expect(f.audit.checkpoint()).toBeNull();
  });

  it('never forks the chain when two connections append alternately', () => {
    const f = fixture(1000);
    const other = openStore(f.dbPath);
    stores.push(other);
    const audit2 = createAuditLog(other.db, { clock: f.clock, log: silentLogger(), signingKey: f.key });
    for (let i = 0; i < 10; i++) {
      f.audit.append({ actor: 'usr_a', action: 'x.one', targetType: 't', targetId: String(i) });
      audit2.append({ actor: 'usr_b', action: 'x.two', targetType: 't', targetId: String(i) });
    }
    expect(f.audit.verify()).toMatchObject({ ok: true, records: 20 });
  });

  it('refuses to write any row whose prev_hash repeats (a fork) at the database level', () => {
    const f = fixture(1000);
    appendMany(f, 2);
    const first = f.store.audit.page(0, 1)[0]!;
    expect(() =>
      f.store.db
        .prepare('INSERT INTO audit_log (id, ts, actor, action, target_type, target_id, case_id, detail, prev_hash, hash) VALUES (99, ?, ?, ?, ?, ?, NULL, ?, ?, ?)')
        .run(first.ts, first.actor, first.action, first.target_type, first.target_id, first.detail, first.prev_hash, 'f'.repeat(64)),
    ).toThrow(/UNIQUE/);
  });

  it('is append-only at the database level (triggers)', () => {
    const f = fixture();
    appendMany(f, 2);
    expect(() => f.store.db.prepare(`UPDATE audit_log SET actor = 'x' WHERE id = 1`).run()).toThrow(/append-only/);
    expect(() => f.store.db.prepare('DELETE FROM audit_log WHERE id = 1').run()).toThrow(/append-only/);
  });

  it('filters and pages the list', () => {
    const f = fixture();
    appendMany(f, 9);
    expect(f.audit.list({ actor: 'usr_1' }).records.map((r) => r.id)).toEqual([2, 5, 8]);
    const page1 = f.audit.list({}, { limit: 4 });
    expect(page1.records.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(page1.nextAfterId).toBe(4);
    expect(f.audit.list({}, { afterId: 8, limit: 4 })).toMatchObject({ nextAfterId: null });
    expect(f.audit.list({ targetId: 'usr_t3' }).records).toHaveLength(1);
  });
});
