import { createPrivateKey } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ENROLL_PATH, generateAgentKeyPair, signEnrollProof } from '../../../shared/protocol/agent-auth.js';
import { startCollector, type Running } from './harness.js';

// Refused enrollments are audited, so they are throttled like logins: per token and per address.

let run: Running | undefined;
afterEach(async () => {
  await run?.cleanup();
  run = undefined;
});

function enroll(r: Running, token: string) {
  const keys = generateAgentKeyPair();
  const body = { token, public_key: keys.publicKeyB64, hostname: 'cc-1', platform: 'linux', proof: signEnrollProof(createPrivateKey(keys.privateKeyPem), token, keys.publicKeyB64) };
  return fetch(r.url + ENROLL_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

const refusals = (r: Running) => r.collector.audit.list({ action: 'agent.enroll_refused' }).records.length;

describe('enrollment throttling (POST /agent/v1/enroll)', () => {
  it('locks a used token after 3 refusals with 429 and Retry-After, and stops auditing its attempts', async () => {
    run = await startCollector({ security: { enrollLimits: { maxFailures: 3, lockoutMs: 60_000, maxLockoutMs: 120_000, ipMaxFailures: 100 } } });
    const token = run.collector.createEnrollmentToken();
    expect((await enroll(run, token)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await enroll(run, token)).status).toBe(401);
    expect(refusals(run)).toBe(3);
    const locked = await enroll(run, token);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe('ENROLL_ERR_LOCKED');
    for (let i = 0; i < 5; i++) expect((await enroll(run, token)).status).toBe(429);
    expect(refusals(run)).toBe(3);
    // Another token from the same address still enrolls: only the address limit spans tokens.
    expect((await enroll(run, run.collector.createEnrollmentToken())).status).toBe(200);
  });

  it('locks the source address after its failures across many unknown tokens, also for a valid token', async () => {
    run = await startCollector({ security: { enrollLimits: { maxFailures: 5, lockoutMs: 60_000, maxLockoutMs: 120_000, ipMaxFailures: 4 } } });
    for (let i = 0; i < 4; i++) expect((await enroll(run, `sgt_${'x'.repeat(40)}${i}`)).status).toBe(401);
    const valid = run.collector.createEnrollmentToken();
    expect((await enroll(run, valid)).status).toBe(429);
  });
});
