import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../../collector/collector.js';
import { openStore } from '../../../collector/store/store.js';
import { decodeAgentMessage } from '../../../shared/protocol/decode.js';
import type { AgentEvent, CollectorMessage } from '../../../shared/protocol/messages.js';
import { PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import { connectReady, enroll, msgId, startCollector, tempDir, type RawAgent, type Running, type TestAgent } from './harness.js';

// Maintenance code uses and software fulfilment are side effects of stored seat events. They must
// survive a collector that dies after the events' commit: each test leaves a real SQLite file with
// the events stored and the side effect missing, then starts a collector on it (or sends the next
// batch) and expects the side effect to appear exactly once.

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
type Ack = Extract<CollectorMessage, { type: 'ack' }>;

const dirs: string[] = [];
const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup({ keepDir: true });
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<Running> {
  const run = await startCollector({ dataDir, security: { scrypt: FAST_SCRYPT } });
  runs.push(run);
  return run;
}

async function stop(run: Running): Promise<void> {
  runs.splice(runs.indexOf(run), 1);
  await run.cleanup({ keepDir: true });
}

function event(type: string, seq: number, body: unknown): AgentEvent {
  const d = decodeAgentMessage(JSON.stringify({ v: PROTOCOL_VERSION, type, id: msgId(), ts: new Date().toISOString(), seq, body }));
  if (d.ok !== true || !('seq' in d.msg)) throw new Error(`not an agent event: ${type}`);
  return d.msg as AgentEvent;
}

/**
 * What a collector that died right after an ingest commit leaves on disk: the events (rows, seal,
 * rollups, seat seq) without anything a hook or listener would have added. Written with the store's
 * own ingest transaction while no collector runs.
 */
function commitWithoutSideEffects(dataDir: string, agentId: string, events: AgentEvent[]): void {
  const store = openStore(join(dataDir, DB_FILE));
  try {
    const out = store.ingest(events.map((msg) => ({ kind: 'event' as const, agentId, msg, receivedAt: new Date().toISOString() })));
    expect(out).toEqual(events.map(() => 'stored'));
  } finally {
    store.close();
  }
}

async function maintainerToken(run: Running): Promise<string> {
  const u = await run.collector.users.create({ username: 'maint01', password: 'correct-horse-battery', roles: ['maintainer'], departments: '*' }, 'usr_service');
  return run.collector.users.createApiToken(u.id, 'maint-token', 'usr_service').token;
}

async function issueCode(run: Running, token: string, agentId: string, purpose: 'stop' | 'uninstall'): Promise<string> {
  const res = await fetch(`${run.url}/api/v1/seats/${agentId}/maintenance-codes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ purpose, reason: 'replace the agent binary' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { maintenance_code: { code_id: string } }).maintenance_code.code_id;
}

async function send(conn: RawAgent, msg: AgentEvent): Promise<void> {
  conn.send(msg);
  await conn.next((m): m is Ack => m.type === 'ack' && m.body.seqs.includes(msg.seq));
}

const usesOf = (run: Running, codeId: string) =>
  run.collector.audit.list({ caseId: codeId }).records.filter((r) => r.action !== 'maintenance_code.issue').map((r) => [r.action, r.detail.event, r.detail.flag]);

const stopping = (seq: number, codeId?: string) =>
  event('agent.stopping', seq, codeId === undefined ? { reason: 'service stop', authorized: false } : { reason: 'maintenance stop', authorized: true, code_id: codeId, purpose: 'stop' });

describe('side effects of stored seat events survive a collector crash', () => {
  it('records a maintenance code use, once, when the collector starts on a database whose report was committed but never applied', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await start(dataDir);
    const seat: TestAgent = await enroll(first.url, first.collector.createEnrollmentToken(), { seat_name: 'seat-a' });
    const codeId = await issueCode(first, await maintainerToken(first), seat.agentId, 'stop');
    await stop(first);

    commitWithoutSideEffects(dataDir, seat.agentId, [stopping(1, codeId)]);

    const second = await start(dataDir);
    expect(usesOf(second, codeId)).toEqual([['maintenance_code.use', 'agent.stopping', null]]);
    // A third start finds nothing left to apply: the cursor moved with the record.
    await stop(second);
    const third = await start(dataDir);
    expect(usesOf(third, codeId)).toEqual([['maintenance_code.use', 'agent.stopping', null]]);
  });

  it('marks an approved software case fulfilled when the collector starts on a database whose install report was committed but never applied', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await start(dataDir);
    const seat = await enroll(first.url, first.collector.createEnrollmentToken({ department: 'sales' }), { seat_name: 'seat-b' });
    const software = first.collector.workflow.software;
    const filed = software.createRequest({ id: 'usr_duty', roles: ['duty'], departments: '*' }, { agentId: seat.agentId, target: { package: 'steam' }, reason: 'onboarding game module' });
    expect(software.approve(filed.id, { id: 'usr_maint', roles: ['maintainer'], departments: '*' }, 'ok').state).toBe('active');
    await stop(first);

    commitWithoutSideEffects(dataDir, seat.agentId, [
      event('software.installed', 1, { packages: [{ name: 'steam', version: '1.0.0.79', arch: 'amd64', source: 'dpkg' }] }),
    ]);

    const second = await start(dataDir);
    expect(second.collector.workflow.software.get(filed.id)).toMatchObject({ state: 'active', fulfilled_version: '1.0.0.79' });
    expect(second.collector.audit.list({ caseId: filed.id, action: 'software.fulfilled' }).records).toHaveLength(1);
  });

  it('does not count an install received before the approval when its step is applied after it', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const run = await start(dataDir);
    const seat = await enroll(run.url, run.collector.createEnrollmentToken({ department: 'sales' }), { seat_name: 'seat-e' });
    const software = run.collector.workflow.software;
    const filed = software.createRequest({ id: 'usr_duty', roles: ['duty'], departments: '*' }, { agentId: seat.agentId, target: { package: 'steam' }, reason: 'onboarding game module' });
    const { conn } = await connectReady(run, seat);
    // The install arrives while the case is pending, and its step fails (the cursor cannot move).
    run.collector.store.db.exec(`CREATE TEMP TRIGGER fail_cursor BEFORE UPDATE ON event_effect_cursors
      BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
    const installed = (seq: number, name: string) => event('software.installed', seq, { packages: [{ name, version: '1.0.0.79', arch: 'amd64', source: 'dpkg' }] });
    await send(conn, installed(1, 'steam'));
    run.collector.store.db.exec('DROP TRIGGER temp.fail_cursor');
    expect(software.approve(filed.id, { id: 'usr_maint', roles: ['maintainer'], departments: '*' }, 'ok').state).toBe('active');
    // The next report applies the earlier one first: it predates the allow, so it fulfils nothing.
    await send(conn, installed(2, 'steam-devices'));
    expect(software.get(filed.id)?.fulfilled_at).toBeNull();
    await send(conn, installed(3, 'steam'));
    expect(software.get(filed.id)).toMatchObject({ fulfilled_version: '1.0.0.79' });
    await conn.close();
  });

  it('does not replay reports stored before the upgrade that added the cursors (the old listeners applied them)', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await start(dataDir);
    const seat = await enroll(first.url, first.collector.createEnrollmentToken(), { seat_name: 'seat-d' });
    const codeId = await issueCode(first, await maintainerToken(first), seat.agentId, 'stop');
    await stop(first);

    // A database as the previous version left it: the report stored, no cursor table yet.
    commitWithoutSideEffects(dataDir, seat.agentId, [stopping(1, codeId)]);
    const store = openStore(join(dataDir, DB_FILE));
    store.db.exec('DROP TABLE event_effect_cursors; DELETE FROM schema_migrations WHERE version = 800');
    store.close();

    const upgraded = await start(dataDir);
    expect(usesOf(upgraded, codeId)).toEqual([]);
    const maxId = upgraded.collector.store.db.prepare('SELECT max(id) FROM events').pluck().get();
    expect(upgraded.collector.store.db.prepare('SELECT name, last_event_id FROM event_effect_cursors ORDER BY name').all()).toEqual([
      { name: 'maintenance_codes', last_event_id: maxId },
      { name: 'software_fulfilment', last_event_id: maxId },
    ]);
  });

  it('commits a reported use with its event, and applies one whose step failed with the next report of the same kind', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const run = await start(dataDir);
    const seat = await enroll(run.url, run.collector.createEnrollmentToken(), { seat_name: 'seat-c' });
    const codeId = await issueCode(run, await maintainerToken(run), seat.agentId, 'stop');
    const { conn } = await connectReady(run, seat);

    // A fault at the side effect's write, on the collector's own connection: its step rolls back,
    // the event still commits and is acknowledged.
    run.collector.store.db.exec(`CREATE TEMP TRIGGER fail_use BEFORE INSERT ON audit_log WHEN NEW.action = 'maintenance_code.use'
      BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
    await send(conn, stopping(1, codeId));
    expect(run.collector.store.db.prepare('SELECT count(*) FROM events WHERE agent_id = ? AND seq = 1').pluck().get(seat.agentId)).toBe(1);
    expect(usesOf(run, codeId)).toEqual([]);

    run.collector.store.db.exec('DROP TRIGGER temp.fail_use');
    await send(conn, stopping(2));
    expect(usesOf(run, codeId)).toEqual([['maintenance_code.use', 'agent.stopping', null]]);
    await conn.close();

    // And nothing is applied twice across a restart.
    await stop(run);
    const again = await start(dataDir);
    expect(usesOf(again, codeId)).toEqual([['maintenance_code.use', 'agent.stopping', null]]);
  });
});
