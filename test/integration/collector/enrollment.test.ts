import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/clock.js';
import { ENROLL_PATH, generateAgentKeyPair } from '../../../shared/protocol/agent-auth.js';
import { enroll, postJson, startCollector, type Running } from './harness.js';

describe('agent enrollment (POST /agent/v1/enroll)', () => {
  let run: Running | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });

  const body = (token: string, extra: Record<string, unknown> = {}) => ({
    token,
    public_key: generateAgentKeyPair().publicKeyB64,
    hostname: 'CC-LYON-042',
    platform: 'windows',
    ...extra,
  });

  it('registers the key and names the seat after the hostname when no seat name is given', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken({ department: 'Collections' });
    const res = await postJson(run.url + ENROLL_PATH, body(token));
    expect(res.status).toBe(200);
    const { agent_id, seat_name } = res.json as { agent_id: string; seat_name: string };
    expect(seat_name).toBe('CC-LYON-042');
    expect(agent_id).toMatch(/^agt_[0-9a-f]{24}$/);
    const row = run.collector.store.agents.get(agent_id);
    expect(row).toMatchObject({ seat_name: 'CC-LYON-042', department: 'Collections', platform: 'windows', online: 0 });
  });

  it('accepts a token only once', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    expect((await postJson(run.url + ENROLL_PATH, body(token))).status).toBe(200);
    const second = await postJson(run.url + ENROLL_PATH, body(token, { hostname: 'other-seat' }));
    expect(second.status).toBe(401);
    expect(second.json).toEqual({ error: { code: 'ENROLL_ERR_TOKEN', message: expect.any(String) } });
  });

  it('refuses an expired token', async () => {
    const clock = new ManualClock(Date.now());
    run = await startCollector({ clock });
    const token = run.collector.createEnrollmentToken({ ttlMs: 60_000 });
    clock.advance(60_001);
    const res = await postJson(run.url + ENROLL_PATH, body(token));
    expect(res.status).toBe(401);
    expect((res.json as { error: { code: string } }).error.code).toBe('ENROLL_ERR_TOKEN');
  });

  it('refuses an unknown token with the same answer as a used one', async () => {
    run = await startCollector();
    const res = await postJson(run.url + ENROLL_PATH, body('sgt_this-token-was-never-issued'));
    expect(res.status).toBe(401);
    expect((res.json as { error: { code: string } }).error.code).toBe('ENROLL_ERR_TOKEN');
  });

  it('enforces the seat pattern of the token without burning the token on a mismatch', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken({ seatPattern: 'CC-LYON-*' });
    const wrong = await postJson(run.url + ENROLL_PATH, body(token, { seat_name: 'CC-PARIS-007' }));
    expect(wrong.status).toBe(403);
    expect((wrong.json as { error: { code: string } }).error.code).toBe('ENROLL_ERR_SEAT_NAME');
    const right = await postJson(run.url + ENROLL_PATH, body(token, { hostname: 'pc-1234', seat_name: 'cc-lyon-001' }));
    expect(right.status).toBe(200);
    expect((right.json as { seat_name: string }).seat_name).toBe('cc-lyon-001');
  });

  it('rejects a public key that is not an Ed25519 SPKI key', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    // 1024-bit RSA SPKI is longer than the schema allows; a truncated-but-valid-base64 key fails parsing.
    const notAKey = Buffer.from('definitely not a DER public key').toString('base64');
    for (const public_key of [rsa, notAKey]) {
      const res = await postJson(run.url + ENROLL_PATH, body(token, { public_key }));
      expect(res.status).toBe(400);
      expect((res.json as { error: { code: string } }).error.code).toBe('API_ERR_VALIDATION');
    }
    // The token was not consumed by the failed attempts.
    expect((await postJson(run.url + ENROLL_PATH, body(token))).status).toBe(200);
  });

  it('rejects hostile or malformed bodies before touching the token', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    const cases: Array<Record<string, unknown>> = [
      body(token, { hostname: 'seat\u0007\u202e01' }),
      body(token, { seat_name: 'seat 01' }),
      body(token, { platform: 'macos' }),
      body(token, { extra: true }),
      { token },
    ];
    for (const c of cases) {
      const res = await postJson(run.url + ENROLL_PATH, c);
      expect(res.status, JSON.stringify(c)).toBe(400);
      expect((res.json as { error: { code: string } }).error.code).toBe('API_ERR_VALIDATION');
    }
    const notJson = await fetch(run.url + ENROLL_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('API_ERR_VALIDATION');
    expect((await postJson(run.url + ENROLL_PATH, body(token))).status).toBe(200);
  });

  it('stores only a hash of enrollment tokens', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    const rows = run.collector.store.db.prepare('SELECT * FROM enrollment_tokens').all();
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(rows).toHaveLength(1);
  });

  it('refuses invalid token options with ENROLL_ERR_OPTIONS', async () => {
    run = await startCollector();
    expect(() => run!.collector.createEnrollmentToken({ ttlMs: 0 })).toThrow(expect.objectContaining({ code: 'ENROLL_ERR_OPTIONS' }));
    expect(() => run!.collector.createEnrollmentToken({ seatPattern: 'CC LYON' })).toThrow(expect.objectContaining({ code: 'ENROLL_ERR_OPTIONS' }));
    expect(() => run!.collector.createEnrollmentToken({ department: 'a\u0000b' })).toThrow(expect.objectContaining({ code: 'ENROLL_ERR_OPTIONS' }));
  });

  it('gives every enrollment its own agent id, even for the same host name', async () => {
    run = await startCollector();
    const a = await enroll(run.url, run.collector.createEnrollmentToken());
    const b = await enroll(run.url, run.collector.createEnrollmentToken());
    expect(a.agentId).not.toBe(b.agentId);
  });
});
