import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../shared/clock.js';
import { CLOSE_CODES } from '../../../shared/protocol/version.js';
import { authHeaders, challenge, connect, enroll, helloFrame, openSocket, startCollector, type Running } from './harness.js';
import { eventually } from '../../helpers/eventually.js';

function errorCode(body: string): string {
  return (JSON.parse(body) as { error: { code: string } }).error.code;
}

describe('agent WebSocket authentication at upgrade', () => {
  let run: Running | undefined;
  afterEach(async () => {
    await run?.cleanup();
    run = undefined;
  });

  it('refuses an upgrade without auth headers with 401', async () => {
    run = await startCollector();
    const out = await openSocket(run.wsUrl, {});
    expect(out).toMatchObject({ ok: false, status: 401 });
    if (!out.ok) expect(errorCode(out.body)).toBe('AUTH_ERR_UNAUTHENTICATED');
  });

  it('refuses a signature made with a key that was not enrolled', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const impostor = await enroll(run.url, run.collector.createEnrollmentToken());
    const nonce = await challenge(run.url, agent.agentId);
    const out = await openSocket(run.wsUrl, authHeaders({ ...agent, privateKey: impostor.privateKey }, nonce));
    expect(out).toMatchObject({ ok: false, status: 401 });
    if (!out.ok) expect(errorCode(out.body)).toBe('AUTH_ERR_BAD_SIGNATURE');
  });

  it('refuses a replayed nonce even with a valid signature', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const nonce = await challenge(run.url, agent.agentId);
    const headers = authHeaders(agent, nonce);
    const first = await openSocket(run.wsUrl, headers);
    expect(first.ok).toBe(true);
    const replay = await openSocket(run.wsUrl, headers);
    expect(replay).toMatchObject({ ok: false, status: 401 });
    if (!replay.ok) expect(errorCode(replay.body)).toBe('AUTH_ERR_CHALLENGE');
    if (first.ok) await first.agent.close();
  });

  it('refuses an unknown agent with 401 and a revoked agent with 403', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const ghost = { ...agent, agentId: 'agt_000000000000000000000000' };
    const unknown = await openSocket(run.wsUrl, authHeaders(ghost, await challenge(run.url, ghost.agentId)));
    expect(unknown).toMatchObject({ ok: false, status: 401 });
    if (!unknown.ok) expect(errorCode(unknown.body)).toBe('AUTH_ERR_UNKNOWN_AGENT');

    run.collector.store.agents.revoke(agent.agentId, new Date().toISOString());
    const revoked = await openSocket(run.wsUrl, authHeaders(agent, await challenge(run.url, agent.agentId)));
    expect(revoked).toMatchObject({ ok: false, status: 403 });
  });

  it('refuses an expired nonce', async () => {
    const clock = new ManualClock(Date.now());
    run = await startCollector({ clock, challengeTtlMs: 5_000 });
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const nonce = await challenge(run.url, agent.agentId);
    clock.advance(5_001);
    const out = await openSocket(run.wsUrl, authHeaders(agent, nonce));
    expect(out).toMatchObject({ ok: false, status: 401 });
    if (!out.ok) expect(errorCode(out.body)).toBe('AUTH_ERR_CHALLENGE');
  });

  it('refuses a nonce issued for another agent even when the signature is right', async () => {
    run = await startCollector();
    const a = await enroll(run.url, run.collector.createEnrollmentToken());
    const b = await enroll(run.url, run.collector.createEnrollmentToken());
    const nonceForA = await challenge(run.url, a.agentId);
    const out = await openSocket(run.wsUrl, authHeaders(b, nonceForA));
    expect(out).toMatchObject({ ok: false, status: 401 });
    if (!out.ok) expect(errorCode(out.body)).toBe('AUTH_ERR_CHALLENGE');
  });

  it('answers 404 on upgrades to other paths and 400 on a malformed challenge request', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const out = await openSocket(run.url.replace('http', 'ws') + '/elsewhere', authHeaders(agent, await challenge(run.url, agent.agentId)));
    expect(out).toMatchObject({ ok: false, status: 404 });
    const bad = await fetch(`${run.url}/agent/v1/challenge?agent_id=${encodeURIComponent('a b\u0000')}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('API_ERR_VALIDATION');
  });

  it('replaces the first connection of an agent when a second one authenticates', async () => {
    run = await startCollector();
    const agent = await enroll(run.url, run.collector.createEnrollmentToken());
    const first = await connect(run, agent);
    first.send(helloFrame(agent.agentId));
    await first.next((m) => m.type === 'welcome');
    const second = await connect(run, agent);
    expect((await first.closed).code).toBe(CLOSE_CODES.replaced);
    second.send(helloFrame(agent.agentId));
    await second.next((m) => m.type === 'welcome');
    // The replaced socket's close must not mark the seat offline under the live one.
    await eventually(() => run!.collector.stats().agentsConnected === 1);
    expect(run.collector.store.agents.get(agent.agentId)?.online).toBe(1);
    await second.close();
    await eventually(() => run!.collector.store.agents.get(agent.agentId)?.online === 0);
  });
});
