import { statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../../collector/audit/audit-log.js';
import { loadSigningKey } from '../../../../collector/audit/signing-key.js';
import { createCollector } from '../../../../collector/collector.js';
import { openStore } from '../../../../collector/store/store.js';
import { ManualClock } from '../../../../shared/clock.js';
import { silentLogger } from '../../../../shared/logger.js';
import { AUDIT_EXIT, runAuditVerify } from '../../../../scripts/commands/audit.js';
import { eventually } from '../../../helpers/eventually.js';
import { connectReady, enroll, insertedEvent, tempDir, type Running } from '../harness.js';
import { addUser, call, FAST_SCRYPT, login, startSecured } from '../users/support.js';

const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
});
async function start(...args: Parameters<typeof startSecured>): Promise<Running> {
  const run = await startSecured(...args);
  runs.push(run);
  return run;
}

function sink() {
  let text = '';
  return { write: (c: string) => (text += c), get text() { return text; } };
}

function verifyCli(dataDir: string, extra: { publicKey?: string } = {}) {
  const out = sink();
  const err = sink();
  const code = runAuditVerify({ data: dataDir, ...extra, out, err });
  return { code, out: out.text, err: err.text };
}

/** Edits the database the way someone with file access could: around the append-only triggers. */
function tamper(dataDir: string, sql: string): void {
  const db = new Database(join(dataDir, 'collector.db'));
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS events_no_update;');
    db.exec(sql);
  } finally {
    db.close();
  }
}

/** A collector with an enrolled seat that sent `n` usb.inserted events, and a duty user. */
async function seatWithEvents(n: number): Promise<{ run: Running; agentId: string }> {
  const run = await start();
  const agent = await enroll(run.url, run.collector.createEnrollmentToken());
  const { conn } = await connectReady(run, agent);
  for (let seq = 1; seq <= n; seq++) conn.send(insertedEvent(seq));
  await eventually(() => run.collector.store.events.count() === n);
  await conn.close();
  return { run, agentId: agent.agentId };
}

describe('access to monitoring data is audited', () => {
  it('records who read a seat timeline and the global event list, with the query', async () => {
    const { run, agentId } = await seatWithEvents(2);
    const duty = await addUser(run, 'night-duty', ['duty']);
    const s = await login(run, 'night-duty');
    expect((await call(run, `/api/v1/seats/${agentId}/events?type=usb.inserted`, { cookie: s.cookie })).status).toBe(200);
    expect((await call(run, `/api/v1/events?agent_id=${agentId}`, { cookie: s.cookie })).status).toBe(200);
    const reads = run.collector.audit.list({ actor: duty.id }).records.filter((r) => r.action.startsWith('access.'));
    expect(reads.map((r) => [r.action, r.target_type, r.target_id, r.detail.query])).toEqual([
      ['access.seat_events', 'seat', agentId, { type: 'usb.inserted' }],
      ['access.events', 'seat', agentId, { agent_id: agentId }],
    ]);
  });

  it('does not record (or serve) a read that the role forbids', async () => {
    const { run, agentId } = await seatWithEvents(1);
    const approver = await addUser(run, 'boss', ['approver']);
    const s = await login(run, 'boss');
    expect((await call(run, `/api/v1/seats/${agentId}/events`, { cookie: s.cookie })).status).toBe(403);
    expect(run.collector.audit.list({ actor: approver.id, action: 'access.seat_events' }).records).toEqual([]);
  });

  it('lists the trail for auditors (the read is itself recorded) and verifies it over the API', async () => {
    const run = await start();
    const auditor = await addUser(run, 'auditor1', ['auditor']);
    const s = await login(run, 'auditor1', undefined, { client: 'cli' });
    const bearer = s.answer.json.token as string;
    const list = await call(run, '/api/v1/audit?action=user.create', { bearer });
    expect(list.status).toBe(200);
    expect(list.json.records.map((r: { target_id: string }) => r.target_id)).toEqual([auditor.id]);
    expect(list.json.records[0]).toMatchObject({ actor: 'system', detail: { username: 'auditor1', roles: ['auditor'] } });
    const v = await call(run, '/api/v1/audit/verify', { bearer, body: {} });
    expect(v.json).toMatchObject({ ok: true });
    const own = run.collector.audit.list({ actor: auditor.id }).records.map((r) => r.action);
    expect(own).toEqual(['auth.login', 'access.audit', 'audit.verify']);
  });
});

describe('tamper evidence end to end', () => {
  it('verifies intact, then names the audit record whose stored byte was changed (library and CLI)', async () => {
    const run = await start();
    for (const name of ['u-one', 'u-two', 'u-three']) await addUser(run, name, ['duty']);
    const target = run.collector.audit.list({ action: 'user.create' }).records[1]!;
    await run.cleanup({ keepDir: true });
    const ok = verifyCli(run.dataDir);
    expect(ok.code).toBe(AUDIT_EXIT.ok);
    expect(ok.out).toMatch(/^audit trail intact: \d+ records, 1 signed checkpoints/);

    tamper(run.dataDir, `UPDATE audit_log SET detail = replace(detail, 'u-two', 'u-twO') WHERE id = ${target.id}`);
    const broken = verifyCli(run.dataDir);
    expect(broken.code).toBe(AUDIT_EXIT.broken);
    expect(broken.err).toContain(`audit trail broken at record ${target.id} (audit_log)`);

    const store = openStore(join(run.dataDir, 'collector.db'));
    try {
      const audit = createAuditLog(store.db, { clock: new ManualClock(), log: silentLogger(), signingKey: loadSigningKey(run.dataDir, { create: false }) });
      expect(audit.verify()).toMatchObject({ ok: false, table: 'audit_log', firstBrokenId: target.id });
    } finally {
      store.close();
    }
  });

  it('detects a changed byte in a stored event row', async () => {
    const { run } = await seatWithEvents(3);
    await run.cleanup({ keepDir: true });
    expect(verifyCli(run.dataDir).code).toBe(AUDIT_EXIT.ok);
    tamper(run.dataDir, `UPDATE events SET body = replace(body, 'SanDisk', 'SanDisc') WHERE seq = 2`);
    const r = verifyCli(run.dataDir);
    expect(r.code).toBe(AUDIT_EXIT.broken);
    expect(r.err).toMatch(/broken at event \d+ \(events\)/);
  });

  it('signs a checkpoint of the head on graceful shutdown', async () => {
    const run = await start();
    await addUser(run, 'someone', ['duty']);
    const head = run.collector.store.audit.head()!;
    await run.cleanup({ keepDir: true });
    const store = openStore(join(run.dataDir, 'collector.db'));
    try {
      expect(store.audit.lastCheckpoint()).toMatchObject({ last_audit_id: head.id, last_hash: head.hash });
    } finally {
      store.close();
    }
  });

  it('trusts only the given public key when --public-key is passed', async () => {
    const run = await start();
    await addUser(run, 'someone', ['duty']);
    await run.cleanup({ keepDir: true });
    const good = verifyCli(run.dataDir, { publicKey: join(run.dataDir, 'keys', 'audit-signing.pub') });
    expect(good.code).toBe(AUDIT_EXIT.ok);
    const other = join(run.dataDir, 'other.pub');
    writeFileSync(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
    const bad = verifyCli(run.dataDir, { publicKey: other });
    expect(bad.code).toBe(AUDIT_EXIT.broken);
    expect(bad.err).toMatch(/checkpoint 1 \(audit_checkpoints\).*not trusted/);
  });

  it('answers exit 2 for a data dir without a database', () => {
    const r = verifyCli(tempDir('seatguard-empty-'));
    expect(r.code).toBe(AUDIT_EXIT.usage);
  });
});

describe('audit signing key', () => {
  it('is created 0600 in a 0700 keys dir at first start', async () => {
    const run = await start();
    expect(statSync(join(run.dataDir, 'keys')).mode & 0o777).toBe(0o700);
    expect(statSync(join(run.dataDir, 'keys', 'audit-signing.key')).mode & 0o777).toBe(0o600);
  });

  it('refuses to start, every time, when the key is gone but signed checkpoints exist', async () => {
    const run = await start();
    await addUser(run, 'someone', ['duty']);
    await run.cleanup({ keepDir: true });
    unlinkSync(join(run.dataDir, 'keys', 'audit-signing.key'));
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(() => createCollector({ dataDir: run.dataDir, security: { scrypt: FAST_SCRYPT } })).toThrowError(
        expect.objectContaining({ code: 'AUDIT_ERR_KEY' }),
      );
    }
  });
});
