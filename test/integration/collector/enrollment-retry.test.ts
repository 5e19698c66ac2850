import { createPrivateKey } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/clock.js';
import { ENROLL_PATH, generateAgentKeyPair, signEnrollProof } from '../../../shared/protocol/agent-auth.js';
import { postJson, startCollector, type Running } from './harness.js';

// A used enrollment token answers again only to the key it registered, proved by a signature:
// that is the retry of an enrollment whose answer was lost after the commit. Everyone else gets the
// unknown-token answer, and the attempt lands in the audit trail.

type Keys = ReturnType<typeof generateAgentKeyPair>;
type Answer = { agent_id: string; seat_name: string; offline_secret?: string };

let run: Running | undefined;
afterEach(async () => {
  await run?.cleanup();
  run = undefined;
});

function request(token: string, keys: Keys, extra: { proof?: string | null; seat_name?: string; hostname?: string } = {}) {
  const proof = extra.proof === undefined ? signEnrollProof(createPrivateKey(keys.privateKeyPem), token, keys.publicKeyB64) : extra.proof;
  return {
    token,
    public_key: keys.publicKeyB64,
    hostname: extra.hostname ?? 'CC-LYON-042',
    platform: 'linux',
    ...(extra.seat_name === undefined ? {} : { seat_name: extra.seat_name }),
    ...(proof === null ? {} : { proof }),
  };
}

const refusals = (r: Running) => r.collector.audit.list({ action: 'agent.enroll_refused' }).records.map((x) => x.detail.reason);
const agentRows = (r: Running) => r.collector.store.db.prepare('SELECT count(*) FROM agents').pluck().get();

describe('enrollment retry after a lost answer (POST /agent/v1/enroll)', () => {
  it('answers the same key proving it again with the same agent id, seat name and offline secret, and records the retry', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken({ department: 'Collections' });
    const keys = generateAgentKeyPair();
    const first = await postJson(run.url + ENROLL_PATH, request(token, keys, { seat_name: 'cc-lyon-042' }));
    expect(first.status).toBe(200);
    // The retry may name itself differently (a fixed config): the answer is what was committed.
    const again = await postJson(run.url + ENROLL_PATH, request(token, keys, { hostname: 'renamed-host' }));
    expect(again.status).toBe(200);
    const a = first.json as Answer;
    expect(again.json).toEqual({ agent_id: a.agent_id, seat_name: 'cc-lyon-042', offline_secret: a.offline_secret });
    expect(a.offline_secret).toEqual(expect.any(String));
    expect(agentRows(run)).toBe(1);
    const actions = run.collector.audit.list({ targetId: a.agent_id }).records.map((r) => r.action);
    expect(actions).toEqual(['agent.enroll', 'agent.enroll_retry']);
    expect(refusals(run)).toEqual([]);
  });

  it('refuses a used token with another key, with the unknown-token answer, and audits the attempt', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    const owner = await postJson(run.url + ENROLL_PATH, request(token, generateAgentKeyPair()));
    expect(owner.status).toBe(200);
    const intruder = await postJson(run.url + ENROLL_PATH, request(token, generateAgentKeyPair(), { hostname: 'attacker-pc' }));
    expect(intruder.status).toBe(401);
    expect(intruder.json).toEqual({ error: { code: 'ENROLL_ERR_TOKEN', message: expect.any(String) } });
    expect(JSON.stringify(intruder.json)).not.toContain((owner.json as Answer).agent_id);
    const rec = run.collector.audit.list({ action: 'agent.enroll_refused' }).records;
    expect(rec).toHaveLength(1);
    expect(rec[0]).toMatchObject({ actor: 'anonymous', detail: { reason: 'other_key', hostname: 'attacker-pc', used_by: (owner.json as Answer).agent_id } });
    // Neither the token nor the secret reaches the trail.
    expect(JSON.stringify(rec[0])).not.toContain(token);
    expect(agentRows(run)).toBe(1);
  });

  it('refuses a retry by the right key without a proof (older agents keep the one-shot behaviour) and audits it', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    const keys = generateAgentKeyPair();
    // The first enrollment of an older agent, without a proof, still works.
    expect((await postJson(run.url + ENROLL_PATH, request(token, keys, { proof: null }))).status).toBe(200);
    const retry = await postJson(run.url + ENROLL_PATH, request(token, keys, { proof: null }));
    expect(retry.status).toBe(401);
    expect(refusals(run)).toEqual(['no_proof']);
  });

  it('refuses a proof made with another key before looking at the token, and leaves the token usable', async () => {
    run = await startCollector();
    const token = run.collector.createEnrollmentToken();
    const keys = generateAgentKeyPair();
    const other = generateAgentKeyPair();
    const forged = signEnrollProof(createPrivateKey(other.privateKeyPem), token, keys.publicKeyB64);
    const res = await postJson(run.url + ENROLL_PATH, request(token, keys, { proof: forged }));
    expect(res.status).toBe(400);
    expect((res.json as { error: { code: string } }).error.code).toBe('API_ERR_VALIDATION');
    // A signature over another token does not verify either.
    const elsewhere = signEnrollProof(createPrivateKey(keys.privateKeyPem), `${token}x`, keys.publicKeyB64);
    expect((await postJson(run.url + ENROLL_PATH, request(token, keys, { proof: elsewhere }))).status).toBe(400);
    expect((await postJson(run.url + ENROLL_PATH, request(token, keys))).status).toBe(200);
  });

  it('refuses a retry once the token has expired, and one for a revoked seat', async () => {
    const clock = new ManualClock(Date.now());
    run = await startCollector({ clock });
    const keys = generateAgentKeyPair();
    const shortLived = run.collector.createEnrollmentToken({ ttlMs: 60_000 });
    expect((await postJson(run.url + ENROLL_PATH, request(shortLived, keys))).status).toBe(200);
    clock.advance(60_001);
    expect((await postJson(run.url + ENROLL_PATH, request(shortLived, keys))).status).toBe(401);

    const keys2 = generateAgentKeyPair();
    const token = run.collector.createEnrollmentToken();
    const first = await postJson(run.url + ENROLL_PATH, request(token, keys2));
    expect(first.status).toBe(200);
    run.collector.store.agents.revoke((first.json as Answer).agent_id, new Date(clock.now()).toISOString());
    expect((await postJson(run.url + ENROLL_PATH, request(token, keys2))).status).toBe(401);
    expect(refusals(run)).toEqual(['expired', 'revoked']);
  });
});
