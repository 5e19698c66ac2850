import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../collector/store/db.js';
import { MIGRATIONS } from '../../../collector/store/migrations.js';
import { openStore, type Store } from '../../../collector/store/store.js';
import { createEventDigest } from '../../../collector/audit/chain.js';
import type { AgentEvent } from '../../../shared/protocol/messages.js';
import { SAMPLE_DEVICE, tempDir } from './harness.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

function seedAgent(store: Store, agentId = 'agt_a'): void {
  store.agents.insert({
    agent_id: agentId,
    seat_name: 'CC-1',
    hostname: 'cc-1',
    platform: 'linux',
    department: null,
    public_key: 'MCowBQYDK2VwAyEA' + 'A'.repeat(44),
    enrolled_at: at(0),
  });
}

function stopping(seq: number, reason = 'r'): AgentEvent {
  return { v: 1, type: 'agent.stopping', id: `m-${seq}`, ts: at(seq), seq, body: { reason } };
}

function inserted(seq: number, ts: string): AgentEvent {
  return { v: 1, type: 'usb.inserted', id: `u-${seq}`, ts, seq, body: { device: SAMPLE_DEVICE as never, present_at_start: false } };
}

describe('collector store (SQLite file)', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  const open = (dir?: string): { store: Store; dir: string } => {
    const d = dir ?? tempDir('seatguard-store-');
    if (!dir) dirs.push(d);
    const store = openStore(join(d, 'collector.db'));
    stores.push(store);
    return { store, dir: d };
  };
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('sets WAL, synchronous=FULL, foreign keys and a busy timeout', () => {
    const { store } = open();
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('rejects UPDATE and DELETE on events (append-only triggers)', () => {
    const { store } = open();
    seedAgent(store);
    store.ingest([{ kind: 'event', agentId: 'agt_a', msg: stopping(1), receivedAt: at(1) }]);
    expect(() => store.db.prepare("UPDATE events SET type = 'x'").run()).toThrow(/append-only/);
    expect(() => store.db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    expect(store.events.count()).toBe(1);
  });

  it('applies migrations once: reopening is idempotent and keeps the data', () => {
    const { store, dir } = open();
    seedAgent(store);
    store.close();
    const again = open(dir).store;
    const rows = again.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    expect(again.agents.get('agt_a')?.seat_name).toBe('CC-1');
  });

  it('refuses to open a database migrated by a newer collector', () => {
    const { store, dir } = open();
    store.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999-future', 'x')").run();
    store.close();
    expect(() => openDatabase(join(dir, 'collector.db'))).toThrow(expect.objectContaining({ code: 'STORE_ERR_MIGRATION' }));
  });

  it('rolls back a failing migration as a whole', () => {
    const dir = tempDir('seatguard-store-');
    dirs.push(dir);
    const broken = [...MIGRATIONS, { version: 2, name: '002-broken', sql: 'CREATE TABLE ok_table (x); THIS IS NOT SQL;' }];
    expect(() => openDatabase(join(dir, 'collector.db'), broken)).toThrow(expect.objectContaining({ code: 'STORE_ERR_MIGRATION' }));
    const db = openDatabase(join(dir, 'collector.db'));
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
    db.close();
    expect(tables.map((t) => t.name)).not.toContain('ok_table');
  });

  it('stores a batch in one transaction, ignoring duplicate (agent, seq)', () => {
    const { store } = open();
    seedAgent(store);
    const results = store.ingest([
      { kind: 'event', agentId: 'agt_a', msg: stopping(1), receivedAt: at(1) },
      { kind: 'event', agentId: 'agt_a', msg: stopping(2), receivedAt: at(1) },
      { kind: 'event', agentId: 'agt_a', msg: stopping(1, 'again'), receivedAt: at(1) },
      { kind: 'heartbeat', agentId: 'agt_a', at: at(2), lockState: 'locked', outboxDepth: 3 },
    ]);
    expect(results).toEqual(['stored', 'stored', 'duplicate', 'applied']);
    expect(store.events.count()).toBe(2);
    expect(store.agents.get('agt_a')).toMatchObject({ last_seq: 2, lock_state: 'locked', outbox_depth: 3 });
  });

  it('writes nothing from a batch that fails part-way', () => {
    const { store } = open();
    seedAgent(store);
    expect(() =>
      store.ingest([
        { kind: 'event', agentId: 'agt_a', msg: stopping(1), receivedAt: at(1) },
        // Unknown agent: the foreign key fails and the whole batch must roll back.
        { kind: 'event', agentId: 'agt_nobody', msg: stopping(2), receivedAt: at(1) },
      ]),
    ).toThrow(expect.objectContaining({ code: 'STORE_ERR_WRITE' }));
    expect(store.events.count()).toBe(0);
    expect(store.agents.get('agt_a')?.last_seq).toBe(0);
  });

  it('keeps the first/last seen window of a device right when old events are replayed', () => {
    const { store } = open();
    seedAgent(store);
    store.ingest([{ kind: 'event', agentId: 'agt_a', msg: inserted(1, at(50)), receivedAt: at(60) }]);
    store.ingest([{ kind: 'event', agentId: 'agt_a', msg: inserted(2, at(10)), receivedAt: at(61) }]);
    store.ingest([{ kind: 'event', agentId: 'agt_a', msg: inserted(2, at(10)), receivedAt: at(62) }]);
    const key = `${SAMPLE_DEVICE.vendor_id}:${SAMPLE_DEVICE.product_id}:s:${SAMPLE_DEVICE.serial}`;
    expect(store.devices.get(key)).toMatchObject({ first_seen: at(10), last_seen: at(50) });
    expect(store.devices.sightings(key)).toEqual([{ device_key: key, agent_id: 'agt_a', first_seen: at(10), last_seen: at(50), count: 2 }]);
  });

  it('seals an ingest batch from the rows as bound, with the digest a re-read of the stored rows gives, for hostile bodies too', () => {
    const { store } = open();
    seedAgent(store);
    const hostile = ['\ud800 lone', 'nul \u0000 here', 'rtl \u202e gpj.exe', '𝕌𝕊𝔹 \u2028', '<img src=x onerror=alert(1)>', 'é'.repeat(300)];
    const items = hostile.map((reason, i) => ({ kind: 'event' as const, agentId: 'agt_a', msg: stopping(i + 1, reason), receivedAt: at(i) }));
    // A duplicate inside the batch is not stored and must not be sealed.
    items.push({ kind: 'event', agentId: 'agt_a', msg: stopping(1, 'again'), receivedAt: at(9) });
    store.ingest(items);
    const seals = store.db.prepare("SELECT detail FROM audit_log WHERE action = 'events.sealed'").all() as Array<{ detail: string }>;
    expect(seals).toHaveLength(1);
    const detail = JSON.parse(seals[0]!.detail) as { count: number; digest: string; first_id: number; last_id: number };
    expect(detail.count).toBe(hostile.length);
    const reread = createEventDigest();
    for (const r of store.audit.eventsPage(detail.first_id, detail.last_id, 100)) reread.add(r);
    expect(detail.digest).toBe(reread.digest());
  });
});
