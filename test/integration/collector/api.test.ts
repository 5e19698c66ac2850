import { readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { connectReady, enroll, getJson, insertedEvent, startCollector, stoppingEvent, tempDir, type Running } from './harness.js';
import { eventually } from '../../helpers/eventually.js';

describe('collector HTTP API', () => {
  let run: Running | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });

  it('serves /api/health without auth and without data', async () => {
    run = await startCollector();
    const res = await getJson(`${run.url}/api/health`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/), uptime_s: expect.any(Number), agents_connected: 0, db: 'ok' });
  });

  it('requires a bearer token on every /api/v1 route, unknown ones included', async () => {
    run = await startCollector();
    for (const path of ['/api/v1/seats', '/api/v1/events', '/api/v1/seats/agt_x', '/api/v1/no-such-route']) {
      const none = await getJson(run.url + path);
      expect(none.status, path).toBe(401);
      expect(none.json).toEqual({ error: { code: 'AUTH_ERR_UNAUTHENTICATED', message: expect.any(String) } });
      const wrong = await getJson(run.url + path, 'sga_' + 'x'.repeat(43));
      expect(wrong.status, path).toBe(401);
    }
    const malformed = await fetch(`${run.url}/api/v1/seats`, { headers: { authorization: `Basic ${run.collector.apiToken}` } });
    expect(malformed.status).toBe(401);
    const ok = await getJson(`${run.url}/api/v1/no-such-route`, run.collector.apiToken);
    expect(ok.status).toBe(404);
    expect(ok.json.error.code).toBe('API_ERR_NOT_FOUND');
  });

  it('writes the API token once to DATA/api-token with mode 0600 and stores only its hash', async () => {
    const dataDir = tempDir();
    run = await startCollector({ dataDir });
    const token = run.collector.apiToken;
    expect(token).toMatch(/^sga_[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(run.collector.apiTokenFile, 'utf8').trim()).toBe(token);
    expect(statSync(run.collector.apiTokenFile).mode & 0o777).toBe(0o600);
    const rows = run.collector.store.db.prepare('SELECT * FROM api_tokens').all();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
    await run.cleanup({ keepDir: true });
    // A restart keeps the same token and does not mint another.
    run = await startCollector({ dataDir });
    expect(run.collector.apiToken).toBe(token);
    expect((await getJson(`${run.url}/api/v1/seats`, token)).status).toBe(200);
    expect(run.collector.store.apiTokens.countActive()).toBe(1);
  });

  it('lists seats with pagination and a search filter, without key material', async () => {
    run = await startCollector();
    const names = ['CC-LYON-001', 'CC-LYON-002', 'CC-LYON-003', 'CC-PARIS-001', 'CC-PARIS-002'];
    for (const n of names) await enroll(run.url, run.collector.createEnrollmentToken({ department: 'Sales' }), { hostname: n });
    const token = run.collector.apiToken;
    const pages = [];
    for (const offset of [0, 2, 4]) {
      const res = await getJson(`${run.url}/api/v1/seats?limit=2&offset=${offset}`, token);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ total: 5, limit: 2, offset });
      pages.push(...res.json.seats.map((s: { seat_name: string }) => s.seat_name));
    }
    expect(pages).toEqual(names);
    const lyon = await getJson(`${run.url}/api/v1/seats?q=lyon`, token);
    expect(lyon.json.total).toBe(3);
    const literal = await getJson(`${run.url}/api/v1/seats?q=${encodeURIComponent('%')}`, token);
    expect(literal.json.total).toBe(0);
    const seat = lyon.json.seats[0];
    expect(Object.keys(seat).sort()).toEqual(
      ['agent_id', 'agent_version', 'bios_password', 'code', 'department', 'enrolled_at', 'hostname', 'last_seen', 'last_seq', 'lock_state', 'online', 'outbox_depth', 'platform', 'revoked_at', 'seat_name', 'software_compliance'].sort(),
    );
    expect(JSON.stringify(lyon.json)).not.toMatch(/public_key|MCowBQYDK2Vw/);
    expect(seat).toMatchObject({ online: false, lock_state: 'unknown', department: 'Sales', last_seq: 0 });
  });

  it('returns one seat by agent id and a JSON 404 for an unknown one', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const res = await getJson(`${run.url}/api/v1/seats/${agent.agentId}`, run.collector.apiToken);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ agent_id: agent.agentId, seat_name: agent.seatName });
    const missing = await getJson(`${run.url}/api/v1/seats/agt_missing`, run.collector.apiToken);
    expect(missing.status).toBe(404);
    expect(missing.json.error.code).toBe('API_ERR_NOT_FOUND');
    const missingEvents = await getJson(`${run.url}/api/v1/seats/agt_missing/events`, run.collector.apiToken);
    expect(missingEvents.status).toBe(404);
  });

  it('pages a seat timeline by seq and filters it by type', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    for (let seq = 1; seq <= 7; seq++) conn.send(seq % 2 === 0 ? insertedEvent(seq) : stoppingEvent(seq));
    await eventually(() => conn.ackedSeqs().length === 7);
    const token = run.collector.apiToken;
    const base = `${run.url}/api/v1/seats/${agent.agentId}/events`;
    const p1 = await getJson(`${base}?limit=3`, token);
    expect(p1.json.events.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3]);
    expect(p1.json.next_after).toBe(3);
    const p2 = await getJson(`${base}?limit=3&after=${p1.json.next_after}`, token);
    expect(p2.json.events.map((e: { seq: number }) => e.seq)).toEqual([4, 5, 6]);
    const p3 = await getJson(`${base}?limit=3&after=6`, token);
    expect(p3.json.events.map((e: { seq: number }) => e.seq)).toEqual([7]);
    expect(p3.json.next_after).toBeNull();
    const usb = await getJson(`${base}?type=usb.inserted`, token);
    expect(usb.json.events.map((e: { seq: number }) => e.seq)).toEqual([2, 4, 6]);
    expect(usb.json.events[0].body.device.vendor_id).toBe('0781');
    await conn.close();
  });

  it('pages the global event list by id and filters by type and agent', async () => {
    run = await startCollector();
    const a = await enroll(run.url, run.collector.createEnrollmentToken());
    const b = await enroll(run.url, run.collector.createEnrollmentToken());
    const ca = await connectReady(run, a);
    const cb = await connectReady(run, b);
    for (let seq = 1; seq <= 3; seq++) {
      ca.conn.send(stoppingEvent(seq));
      cb.conn.send(insertedEvent(seq));
    }
    await eventually(() => ca.conn.ackedSeqs().length === 3 && cb.conn.ackedSeqs().length === 3);
    const token = run.collector.apiToken;
    const all: number[] = [];
    let after = 0;
    for (;;) {
      const res = await getJson(`${run.url}/api/v1/events?limit=4&after_id=${after}`, token);
      all.push(...res.json.events.map((e: { id: number }) => e.id));
      if (res.json.next_after_id === null) break;
      after = res.json.next_after_id;
    }
    expect(all).toHaveLength(6);
    expect([...all].sort((x, y) => x - y)).toEqual(all);
    const usb = await getJson(`${run.url}/api/v1/events?type=usb.inserted`, token);
    expect(new Set(usb.json.events.map((e: { agent_id: string }) => e.agent_id))).toEqual(new Set([b.agentId]));
    const onlyA = await getJson(`${run.url}/api/v1/events?agent_id=${a.agentId}`, token);
    expect(onlyA.json.events).toHaveLength(3);
    const none = await getJson(`${run.url}/api/v1/events?agent_id=${a.agentId}&type=usb.inserted`, token);
    expect(none.json.events).toEqual([]);
    await ca.conn.close();
    await cb.conn.close();
  });

  it('rejects invalid query parameters with API_ERR_VALIDATION', async () => {
    run = await startCollector();
    const token = run.collector.apiToken;
    for (const q of ['limit=0', 'limit=abc', 'limit=501', 'offset=-1', 'unknown=1', `q=${'x'.repeat(65)}`]) {
      const res = await getJson(`${run.url}/api/v1/seats?${q}`, token);
      expect(res.status, q).toBe(400);
      expect(res.json.error.code, q).toBe('API_ERR_VALIDATION');
    }
    for (const q of ['type=DROP%20TABLE', 'after_id=-5', 'agent_id=%00']) {
      const res = await getJson(`${run.url}/api/v1/events?${q}`, token);
      expect(res.status, q).toBe(400);
    }
  });

  it('counts connected agents in health once they said hello', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const { conn } = await connectReady(run, agent);
    expect((await getJson(`${run.url}/api/health`)).json.agents_connected).toBe(1);
    const seat = await getJson(`${run.url}/api/v1/seats/${agent.agentId}`, run.collector.apiToken);
    expect(seat.json.online).toBe(true);
    await conn.close();
    await eventually(async () => (await getJson(`${run!.url}/api/health`)).json.agents_connected === 0);
  });
});
