import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.js';
import { buildOnce, killAll, spawnCli } from '../../helpers/spawn.js';
import { startSite, STICK, type Site, type UnlockView } from './harness.js';

// The built agent process (agent/main.ts wiring: grant policy, collector commands, seat socket)
// against the real collector; devices are plugged through --fake-stdin and the seat user uses the
// built CLI against the agent's socket in its state dir.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

beforeAll(() => buildOnce(), 120_000);

async function cli(args: string[]): Promise<{ code: number | string; out: string }> {
  const p = spawnCli(args);
  const code = await p.exited;
  return { code, out: [...p.text, ...p.stderr].join('\n') };
}

describe('the agent process and the seat CLI', () => {
  it('lists, requests, gets unlocked by an approval and relocked by a revocation', async () => {
    const site: Site = await startSite();
    cleanups.push(() => site.cleanup());
    const state = mkdtempSync(join(tmpdir(), 'sg-e2e-agent-'));
    cleanups.push(async () => rmSync(state, { recursive: true, force: true }));
    const agent = spawnCli(
      ['agent', '--collector', site.url, '--state', state, '--platform', 'fake', '--fake-stdin', '--seat-name', 'e2e-proc-01', '--enroll-token', site.enrollToken(), '--ca-fingerprint', site.caFingerprint, '--backoff-base-ms', '10', '--backoff-cap-ms', '200', '--resync-interval-ms', '0'],
      { stdin: true },
    );
    await agent.waitForLog((l) => l.msg === 'local request socket listening');
    expect(statSync(join(state, 'agent.sock')).mode & 0o777).toBe(0o666);
    agent.send(JSON.stringify({ op: 'insert', device: STICK(), port: '1-2' }));

    await eventually(async () => {
      const l = await cli(['agent', 'request-unlock', '--state', state, '--list']);
      expect(l.out).toMatch(/^1-2\s+0781:5583\s+blocked/m);
    }, 15_000);
    const req = await cli(['agent', 'request-unlock', '--state', state, '--device', '1-2', '--reason', 'copy the monthly call report', '--duration', '10m']);
    expect(req.code).toBe(0);

    const pending = await eventually(async () => {
      const r = await site.api<{ requests: UnlockView[] }>('duty01', 'GET', '/unlock-requests?state=pending');
      const [one] = r.json.requests;
      if (!one) throw new Error('no request yet');
      return one;
    }, 15_000);
    expect(pending.request_ref).toBe(/rq_[0-9a-f]+/.exec(req.out)?.[0]);
    expect((await site.api<UnlockView>('maint01', 'POST', `/unlock-requests/${pending.id}/approve`, {})).json.state).toBe('active');
    await eventually(async () => expect((await cli(['agent', 'request-unlock', '--state', state, '--list'])).out).toMatch(/^1-2\s+0781:5583\s+unlocked .*grant grt_/m), 15_000);

    await site.api('duty01', 'POST', `/unlock-requests/${pending.id}/revoke`, { reason: 'finished' });
    await eventually(async () => expect((await cli(['agent', 'request-unlock', '--state', state, '--list'])).out).toMatch(/^1-2\s+0781:5583\s+blocked/m), 15_000);
    await eventually(async () => {
      const r = await site.api<{ request: UnlockView }>('duty01', 'GET', `/unlock-requests/${pending.id}`);
      expect(r.json.request.grant?.agent_end_reason).toBe('revoked');
    }, 15_000);

    expect(await agent.kill('SIGTERM')).toBe(0);
  });
});
