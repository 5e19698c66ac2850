import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { connectReady, enroll, getJson, stoppingEvent, type Running } from './harness.js';
import { addUser, startSecured } from './users/support.js';

// A user limited to some departments (e.g. a department's approver, or anyone who is themselves
// monitored elsewhere) sees only those seats: lists are filtered and other seats answer 404.
let run: Running;
let salesOnly: string;
let everyone: string;
let salesSeat: string;
let billingSeat: string;

beforeAll(async () => {
  run = await startSecured();
  const admin = await addUser(run, 'scope-admin', ['admin']);
  const a = await addUser(run, 'scope-sales', ['maintainer'], ['Sales']);
  const b = await addUser(run, 'scope-all', ['maintainer'], '*');
  salesOnly = run.collector.users.createApiToken(a.id, 'scope sales', admin.id).token;
  everyone = run.collector.users.createApiToken(b.id, 'scope all', admin.id).token;
  const sales = await enroll(run.url, run.collector.createEnrollmentToken({ department: 'Sales' }), { seat_name: 'SALES-01' });
  const billing = await enroll(run.url, run.collector.createEnrollmentToken({ department: 'Billing' }), { seat_name: 'BILL-01' });
  salesSeat = sales.agentId;
  billingSeat = billing.agentId;
  // One stored event per seat, so the event lists have something to filter.
  for (const agent of [sales, billing]) {
    const { conn } = await connectReady(run, agent);
    conn.send(stoppingEvent(1));
    await eventually(() => conn.ackedSeqs().includes(1));
    await conn.close();
  }
});

afterAll(async () => {
  await run.cleanup();
});

describe('department scope of seat history', () => {
  it('lists only the seats of the user departments, with a matching total', async () => {
    const scoped = await getJson(`${run.url}/api/v1/seats`, salesOnly);
    expect(scoped.json.seats.map((s: { agent_id: string }) => s.agent_id)).toEqual([salesSeat]);
    expect(scoped.json.total).toBe(1);
    const searched = await getJson(`${run.url}/api/v1/seats?q=BILL`, salesOnly);
    expect(searched.json.total).toBe(0);
    const all = await getJson(`${run.url}/api/v1/seats`, everyone);
    expect(all.json.total).toBe(2);
  });

  it('answers 404 for another department seat and its timeline, as for a missing seat', async () => {
    expect((await getJson(`${run.url}/api/v1/seats/${billingSeat}`, salesOnly)).status).toBe(404);
    expect((await getJson(`${run.url}/api/v1/seats/${billingSeat}/events`, salesOnly)).status).toBe(404);
    expect((await getJson(`${run.url}/api/v1/seats/${salesSeat}`, salesOnly)).status).toBe(200);
    expect((await getJson(`${run.url}/api/v1/seats/${billingSeat}`, everyone)).status).toBe(200);
  });

  it('returns no events of other departments from the global event list', async () => {
    const other = await getJson(`${run.url}/api/v1/events?agent_id=${billingSeat}`, salesOnly);
    expect(other.json.events).toEqual([]);
    const mine = await getJson(`${run.url}/api/v1/events`, salesOnly);
    expect((mine.json.events as Array<{ agent_id: string }>).map((e) => e.agent_id)).toEqual([salesSeat]);
    const all = await getJson(`${run.url}/api/v1/events`, everyone);
    expect(new Set((all.json.events as Array<{ agent_id: string }>).map((e) => e.agent_id))).toEqual(new Set([salesSeat, billingSeat]));
  });
});
