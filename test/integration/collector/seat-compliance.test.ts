import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SEAT_COMPLIANCE_COLUMNS } from '../../../collector/store/agents-repo.js';
import { connectReady, enroll, getJson, msgId, startCollector, type Running, type TestAgent } from './harness.js';
import { eventually } from '../../helpers/eventually.js';

type Frame = { v: number; type: string; id: string; ts: string; seq: number; body: Record<string, unknown> };

/** A valid sensor event from the protocol fixtures, with a fresh id, seq and timestamp. */
function fixture(type: string, seq: number, patch: (body: Record<string, unknown>) => void = () => undefined): Frame {
  const f = JSON.parse(readFileSync(new URL(`../../fixtures/protocol/good/${type}.json`, import.meta.url), 'utf8')) as Frame;
  patch(f.body);
  return { ...f, id: msgId(), ts: new Date().toISOString(), seq };
}

function adminState(state: string) {
  return (body: Record<string, unknown>) => {
    body.admin_password = { state, source: 'firmware-attributes:fake-vendor' };
  };
}

async function sendAll(run: Running, agent: TestAgent, frames: Frame[]): Promise<void> {
  const { conn } = await connectReady(run, agent);
  for (const f of frames) conn.send(f);
  const seqs = frames.map((f) => f.seq);
  await eventually(() => expect(conn.ackedSeqs()).toEqual(expect.arrayContaining(seqs)));
  await conn.close();
}

async function seat(run: Running, agentId: string) {
  const res = await getJson(`${run.url}/api/v1/seats/${agentId}`, run.collector.apiToken);
  expect(res.status).toBe(200);
  return res.json as { bios_password: unknown; software_compliance: unknown };
}

describe('seat list compliance columns', () => {
  let run: Running | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });

  it('reports the latest admin password state and a recent software denial as a violation, on the list and on one seat', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken(), { hostname: 'seat-a' });
    await sendAll(run, agent, [
      fixture('firmware.state', 1, adminState('not_set')),
      fixture('software.inventory', 2),
      // The newest firmware reading wins, not the first.
      fixture('firmware.state', 3, adminState('set')),
      fixture('software.denied', 4),
    ]);

    expect(await seat(run, agent.agentId)).toMatchObject({ bios_password: 'set', software_compliance: 'violation' });
    const list = await getJson(`${run.url}/api/v1/seats`, run.collector.apiToken);
    expect(list.status).toBe(200);
    expect(list.json.seats).toEqual([expect.objectContaining({ agent_id: agent.agentId, bios_password: 'set', software_compliance: 'violation' })]);
  });

  it('counts a process denial as a violation too', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    await sendAll(run, agent, [fixture('process.denied', 1)]);
    expect(await seat(run, agent.agentId)).toMatchObject({ bios_password: null, software_compliance: 'violation' });
  });

  it('shows null for both fields on a seat that never reported a sensor', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const body = await seat(run, agent.agentId);
    expect(body.bios_password).toBeNull();
    expect(body.software_compliance).toBeNull();
  });

  it('passes not_implemented through and calls a seat with an inventory and no denial compliant', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    await sendAll(run, agent, [fixture('firmware.state', 1, adminState('not_implemented')), fixture('software.inventory', 2)]);
    expect(await seat(run, agent.agentId)).toMatchObject({ bios_password: 'not_implemented', software_compliance: 'compliant' });
  });

  it('stops counting a denial received more than 7 days ago', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    await sendAll(run, agent, [fixture('software.inventory', 1)]);
    // An old denial as the store would have recorded it 8 days ago (no socket can backdate received_at).
    const old = fixture('software.denied', 2);
    const receivedAt = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
    run.collector.store.events.insertIfNew({ agent_id: agent.agentId, seq: 2, type: old.type, ts: receivedAt, received_at: receivedAt, body: JSON.stringify(old.body) });
    expect(await seat(run, agent.agentId)).toMatchObject({ software_compliance: 'compliant' });

    await sendAll(run, agent, [fixture('software.denied', 3)]);
    expect(await seat(run, agent.agentId)).toMatchObject({ software_compliance: 'violation' });
  });

  it('answers the seat list with index seeks on events, never a scan of the events table', async () => {
    run = await startCollector();
    const plan = run.collector.store.db
      .prepare(`EXPLAIN QUERY PLAN SELECT a.*, ${SEAT_COMPLIANCE_COLUMNS} FROM agents a ORDER BY a.seat_name, a.agent_id LIMIT 50`)
      .all({ since: new Date().toISOString() }) as Array<{ detail: string }>;
    const details = plan.map((r) => r.detail);
    const onEvents = details.filter((d) => /\b(e|events)\b/.test(d));
    // bios_password, two denial types, inventory: four correlated lookups.
    expect(onEvents).toHaveLength(4);
    for (const d of onEvents) expect(d, JSON.stringify(details)).toMatch(/SEARCH e USING (COVERING )?INDEX events_agent_type_seq \(agent_id=\? AND type=\?\)/);
  });
});
