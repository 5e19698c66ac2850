import { afterEach, describe, expect, it } from 'vitest';
import { BASELINE_SQL } from '../../../collector/store/code-drift.js';
import { PROTOCOL_VERSION } from '../../../shared/protocol/version.js';
import { eventually } from '../../helpers/eventually.js';
import { connectReady, enroll, getJson, msgId, startCollector, type Running, type TestAgent } from './harness.js';

// Fleet code-hash drift over real agent.started events in a real SQLite file, through the API.

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

function started(seq: number, version: string, sha?: string) {
  return {
    v: PROTOCOL_VERSION,
    type: 'agent.started',
    id: msgId(),
    ts: new Date().toISOString(),
    seq,
    body: { agent_version: version, platform: 'linux', lock_state: 'locked', detail: '', ...(sha === undefined ? {} : { code_sha256: sha }) },
  };
}

async function send(run: Running, agent: TestAgent, frames: Array<ReturnType<typeof started>>): Promise<void> {
  const { conn } = await connectReady(run, agent);
  for (const f of frames) conn.send(f);
  await eventually(() => expect(conn.ackedSeqs()).toEqual(expect.arrayContaining(frames.map((f) => f.seq))));
  await conn.close();
}

type SeatCode = { agent_version: string | null; sha256: string | null; baseline_sha256: string | null; drift: boolean | null } | null;

async function codes(run: Running, token = run.collector.apiToken): Promise<Map<string, SeatCode>> {
  const res = await getJson(`${run.url}/api/v1/seats?limit=500`, token);
  expect(res.status).toBe(200);
  return new Map((res.json.seats as Array<{ agent_id: string; code: SeatCode }>).map((s) => [s.agent_id, s.code]));
}

describe('fleet code-hash drift (latest agent.started per seat)', () => {
  let run: Running | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });

  const seats = async (n: number, department?: string) => {
    const out: TestAgent[] = [];
    for (let i = 0; i < n; i++) out.push(await enroll(run!.url, run!.collector.createEnrollmentToken(department === undefined ? {} : { department })));
    return out;
  };

  it('flags the seat whose hash differs from the majority of its version, per version, on the list and on the seat', async () => {
    run = await startCollector();
    const [s1, s2, s3, odd, newer, silent, old] = await seats(7);
    for (const s of [s1!, s2!, s3!]) await send(run, s, [started(1, '1.0.0', A)]);
    await send(run, odd!, [started(1, '1.0.0', B)]);
    // Another version has its own majority, even with one seat.
    await send(run, newer!, [started(1, '1.1.0', C)]);
    // An older agent sends no hash: no verdict, and it does not vote.
    await send(run, old!, [started(1, '1.0.0')]);

    const map = await codes(run);
    for (const s of [s1!, s2!, s3!]) expect(map.get(s.agentId)).toMatchObject({ agent_version: '1.0.0', sha256: A, baseline_sha256: A, drift: false });
    expect(map.get(odd!.agentId)).toMatchObject({ sha256: B, baseline_sha256: A, drift: true });
    expect(map.get(newer!.agentId)).toMatchObject({ sha256: C, baseline_sha256: C, drift: false });
    expect(map.get(old!.agentId)).toMatchObject({ sha256: null, drift: null });
    expect(map.get(silent!.agentId)).toBeNull();

    const one = await getJson(`${run.url}/api/v1/seats/${odd!.agentId}`, run.collector.apiToken);
    expect(one.json.code).toMatchObject({ sha256: B, baseline_sha256: A, drift: true, reported_at: expect.any(String) });
  });

  it("uses each seat's latest agent.started: a re-installed seat stops drifting", async () => {
    run = await startCollector();
    const [s1, s2, odd] = await seats(3);
    for (const s of [s1!, s2!]) await send(run, s, [started(1, '1.0.0', A)]);
    await send(run, odd!, [started(1, '1.0.0', B)]);
    expect((await codes(run)).get(odd!.agentId)).toMatchObject({ drift: true });
    await send(run, odd!, [started(2, '1.0.0', A)]);
    expect((await codes(run)).get(odd!.agentId)).toMatchObject({ sha256: A, drift: false });
  });

  it('gives no verdict on a tie for the majority, and revoked seats do not vote', async () => {
    run = await startCollector();
    const [x, y] = await seats(2);
    await send(run, x!, [started(1, '2.0.0', A)]);
    await send(run, y!, [started(1, '2.0.0', B)]);
    let map = await codes(run);
    expect(map.get(x!.agentId)).toMatchObject({ baseline_sha256: null, drift: null });
    expect(map.get(y!.agentId)).toMatchObject({ baseline_sha256: null, drift: null });

    run.collector.store.agents.revoke(y!.agentId, new Date().toISOString());
    map = await codes(run);
    expect(map.get(x!.agentId)).toMatchObject({ baseline_sha256: A, drift: false });
    expect(map.get(y!.agentId)).toMatchObject({ baseline_sha256: A, drift: true });
  });

  it("compares a department's seats with the whole fleet, while listing only that department", async () => {
    run = await startCollector({ security: { scrypt: { N: 2 ** 10, r: 8, p: 1 } } });
    const sales = await seats(1, 'sales');
    const billing = await seats(2, 'billing');
    await send(run, sales[0]!, [started(1, '1.0.0', B)]);
    for (const s of billing) await send(run, s, [started(1, '1.0.0', A)]);
    const u = await run.collector.users.create({ username: 'sam', password: 'correct horse battery staple', roles: ['duty'], departments: ['sales'] }, 'test-setup');
    const token = run.collector.users.createApiToken(u.id, 'sam token', 'test-setup').token;
    const map = await codes(run, token);
    expect([...map.keys()]).toEqual([sales[0]!.agentId]);
    expect(map.get(sales[0]!.agentId)).toMatchObject({ baseline_sha256: A, drift: true });
  });

  it('documents the seat answer, code drift included, in the OpenAPI document', async () => {
    run = await startCollector();
    const doc = (await (await fetch(`${run.url}/api/openapi.json`)).json()) as {
      paths: Record<string, { get?: { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> } }>;
    };
    const list = doc.paths['/api/v1/seats']?.get?.responses?.['200']?.content?.['application/json']?.schema as { properties: { seats: { items: { properties: Record<string, unknown> } } } };
    const one = doc.paths['/api/v1/seats/{agent_id}']?.get?.responses?.['200']?.content?.['application/json']?.schema as { properties: Record<string, unknown> };
    for (const props of [list.properties.seats.items.properties, one.properties]) {
      expect(Object.keys(props)).toEqual(expect.arrayContaining(['agent_id', 'bios_password', 'software_compliance', 'code']));
      expect(JSON.stringify(props.code)).toContain('baseline_sha256');
      expect(JSON.stringify(props.code)).toContain('drift');
    }
  });

  it('computes the baseline with one index seek per seat, never a scan of the events table', async () => {
    run = await startCollector();
    const details = (run.collector.store.db.prepare(`EXPLAIN QUERY PLAN ${BASELINE_SQL}`).all() as Array<{ detail: string }>).map((r) => r.detail);
    const onEvents = details.filter((d) => /\b(e|events)\b/.test(d));
    // One correlated lookup, not one per use of the body (MATERIALIZED).
    expect(onEvents).toHaveLength(1);
    expect(onEvents[0], JSON.stringify(details)).toMatch(/SEARCH e USING (COVERING )?INDEX events_agent_type_seq \(agent_id=\? AND type=\?\)/);
  });
});
