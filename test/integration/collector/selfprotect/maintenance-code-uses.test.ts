import { afterEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../../../shared/protocol/version.js';
import type { CollectorMessage } from '../../../../shared/protocol/messages.js';
import { eventually } from '../../../helpers/eventually.js';
import { connectReady, enroll, msgId, startCollector, type RawAgent, type Running } from '../harness.js';

// The collector's side of maintenance codes: issued through the API, each use the seats report is
// matched against the issue record in the audit trail; uses it cannot match are flagged.

const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
});

type Ack = Extract<CollectorMessage, { type: 'ack' }>;
const ts = () => new Date().toISOString();

async function send(conn: RawAgent, seq: number, type: string, body: unknown): Promise<void> {
  conn.send({ v: PROTOCOL_VERSION, type, id: msgId(), ts: ts(), seq, body });
  await conn.next((m): m is Ack => m.type === 'ack' && m.body.seqs.includes(seq));
}

describe('maintenance code uses reported by seats', () => {
  it('issues to maintainers and officers only, audits a matching use once, and flags and alerts on unknown, other-seat, other-purpose and reused codes', async () => {
    const run = await startCollector({ security: { scrypt: { N: 1024, r: 8, p: 1 } } });
    runs.push(run);
    const u = await run.collector.users.create({ username: 'maint01', password: 'correct-horse-battery', roles: ['maintainer'], departments: '*' }, 'usr_service');
    const { token } = run.collector.users.createApiToken(u.id, 'maint-token', 'usr_service');
    const a = await enroll(run.url, run.collector.createEnrollmentToken(), { seat_name: 'seat-a' });
    const b = await enroll(run.url, run.collector.createEnrollmentToken(), { seat_name: 'seat-b' });
    const issue = async (agentId: string, purpose: string) => {
      const res = await fetch(`${run.url}/api/v1/seats/${agentId}/maintenance-codes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ purpose, reason: 'swap the keyboard' }),
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('cache-control')).toBe('no-store');
      return ((await res.json()) as { maintenance_code: { code_id: string; code: string } }).maintenance_code;
    };
    // Security officers may issue codes too; duty staff may not.
    for (const [username, roles, status] of [['officer01', ['officer'], 201], ['duty01', ['duty'], 403]] as const) {
      const x = await run.collector.users.create({ username, password: 'correct-horse-battery', roles, departments: '*' }, 'usr_service');
      const t = run.collector.users.createApiToken(x.id, `${username}-token`, 'usr_service').token;
      const res = await fetch(`${run.url}/api/v1/seats/${a.agentId}/maintenance-codes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
        body: JSON.stringify({ purpose: 'stop', reason: 'swap the keyboard', ttl_ms: 60_000 }),
      });
      expect(res.status).toBe(status);
    }
    const stop = await issue(a.agentId, 'stop');
    const uninstall = await issue(a.agentId, 'uninstall');

    const { conn: ca } = await connectReady(run, a);
    const { conn: cb } = await connectReady(run, b);
    await send(ca, 1, 'agent.stopping', { reason: 'maintenance stop', authorized: true, code_id: stop.code_id, purpose: 'stop' });
    await send(ca, 2, 'agent.uninstalled', { code_id: uninstall.code_id, os_user: 'root' });
    await send(ca, 3, 'agent.stopping', { reason: 'maintenance uninstall', authorized: true, code_id: uninstall.code_id, purpose: 'uninstall' });
    await send(ca, 4, 'agent.stopping', { reason: 'maintenance stop', authorized: true, code_id: stop.code_id, purpose: 'stop' });
    await send(ca, 5, 'agent.stopping', { reason: 'maintenance stop', authorized: true, code_id: 'mc_00000000000000aa', purpose: 'stop' });
    await send(ca, 6, 'agent.uninstalled', { code_id: stop.code_id, os_user: 'root' });
    await send(cb, 1, 'agent.stopping', { reason: 'maintenance stop', authorized: true, code_id: uninstall.code_id, purpose: 'uninstall' });

    const audit = run.collector.audit;
    // Listeners run right after the commit that the ack reports; wait for the last one anyway.
    await eventually(() => expect(audit.list({ action: 'maintenance_code.flagged', targetId: b.agentId }).records).toHaveLength(1), 5_000);
    const uses = audit.list({ action: 'maintenance_code.use' }).records.map((r) => [r.target_id, r.detail.code_id, r.detail.event]);
    expect(uses).toEqual([
      [a.agentId, stop.code_id, 'agent.stopping'],
      [a.agentId, uninstall.code_id, 'agent.uninstalled'],
      [a.agentId, uninstall.code_id, 'agent.stopping'],
    ]);
    const flags = audit.list({ action: 'maintenance_code.flagged' }).records.map((r) => [r.target_id, r.detail.code_id, r.detail.flag]);
    expect(flags).toEqual([
      [a.agentId, stop.code_id, 'reused'],
      [a.agentId, 'mc_00000000000000aa', 'unknown_code'],
      [a.agentId, stop.code_id, 'other_purpose'],
      [b.agentId, uninstall.code_id, 'other_seat'],
    ]);
    // The codes themselves are nowhere in the trail.
    const everything = JSON.stringify(audit.list({}, { limit: 1000 }).records);
    expect(everything).not.toContain(stop.code);
    expect(everything).not.toContain(uninstall.code);
    // Authorized stops raise no alert; the uses the collector cannot match raise a critical one
    // (root on a seat can mint codes from the seat's secret).
    const all = run.collector.alerts.list({}).alerts;
    expect(all.filter((x) => x.rule === 'agent.stopping')).toEqual([]);
    const forged = all
      .filter((x) => x.rule === 'agent.maintenance_code')
      .map((x) => [x.seat.agent_id, x.severity, x.count, x.detail.en])
      .sort((p, q) => String(p[0]).localeCompare(String(q[0])) || String(p[3]).localeCompare(String(q[3])));
    expect(forged).toEqual(
      [
        [a.agentId, 'critical', 2, 'stop: the code was used before'],
        [a.agentId, 'critical', 1, 'uninstall: the code was issued for another purpose'],
        [b.agentId, 'critical', 1, 'stop: the code was issued for another seat'],
      ].sort((p, q) => String(p[0]).localeCompare(String(q[0])) || String(p[3]).localeCompare(String(q[3]))),
    );
    await ca.close();
    await cb.close();
  });
});
