import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRequestSoftware, SEAT_EXIT } from '../../../../agent/ipc/seat-cli.js';
import { eventually } from '../../../helpers/eventually.js';
import { startInProcessAgent, type InProcessAgent } from '../../../helpers/fake-agent.js';
import { api, unlockWorld, type UnlockWorld } from '../unlock/unlock-harness.js';

// The seat user's path end to end: the seat CLI function over the agent's real local socket → the
// agent's seat service → software.requested in the real outbox → the real WebSocket → the collector
// creates the case; a person then approves it through the API.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(): Promise<{ w: UnlockWorld; agent: InProcessAgent & { socketPath: string } }> {
  const w = await unlockWorld({ insecureDev: true });
  cleanups.push(() => w.cleanup());
  const stateDir = await mkdtemp(join(tmpdir(), 'sg-sw-seat-'));
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
  const agent = await startInProcessAgent({
    collectorUrl: w.run.url,
    stateDir,
    token: w.run.collector.createEnrollmentToken({ department: 'sales' }),
    seatName: 'CC-SW-SEAT-01',
    unlock: { ipc: true },
  });
  cleanups.push(() => agent.stop());
  if (agent.socketPath === null) throw new Error('the agent did not open its seat socket');
  return { w, agent: { ...agent, socketPath: agent.socketPath } };
}

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
}

describe('seatguard agent request-software (seat → agent socket → collector)', () => {
  it('turns a seat request into one pending case with the seat user’s claim, which another person can approve', async () => {
    const { w, agent } = await world();
    const approver = await w.user('bob', ['maintainer'], '*');
    const o = io();
    const code = await runRequestSoftware({ socketPath: agent.socketPath, package: 'libreoffice-calc', version: '>= 7.4', reason: '月度话务统计需要电子表格', osUser: 'zhangsan' }, o.io);
    expect(o.err).toEqual([]);
    expect(code).toBe(SEAT_EXIT.ok);
    const ref = /\((rq_[0-9a-f]+)\)/.exec(o.out[0] ?? '')?.[1];
    expect(ref).toBeDefined();

    const row = await eventually(() => {
      const r = w.run.collector.workflow.software.list({ limit: 10, offset: 0 }).rows[0];
      if (!r) throw new Error('no case yet');
      return r;
    }, 10_000);
    expect(row).toMatchObject({
      agent_id: agent.identity.agentId,
      source: 'agent',
      request_ref: ref,
      package: 'libreoffice-calc',
      versions: '>= 7.4',
      os_user: 'zhangsan',
      department: 'sales',
      state: 'pending',
      requested_by: `seat:${agent.identity.agentId}`,
    });

    const approved = await api(w.run, approver.token, `/software-requests/${row.id}/approve`, { note: 'ok' });
    expect(approved.json).toMatchObject({ state: 'active', allow: { rule_id: `swreq:${row.id}` } });
  });

  it('refuses a glob or an empty reason at the seat, before anything reaches the collector', async () => {
    const { w, agent } = await world();
    const glob = io();
    expect(await runRequestSoftware({ socketPath: agent.socketPath, package: 'steam*', reason: 'games please' }, glob.io)).toBe(SEAT_EXIT.refused);
    expect(glob.err.join('\n')).toContain('IPC_ERR_BAD_REQUEST');
    const usage = io();
    expect(await runRequestSoftware({ socketPath: agent.socketPath, package: 'steam', reason: ' ' }, usage.io)).toBe(SEAT_EXIT.usage);
    expect(await runRequestSoftware({ socketPath: agent.socketPath, reason: 'no package' }, usage.io)).toBe(SEAT_EXIT.usage);
    // Nothing was emitted: the outbox stays without a software.requested.
    await new Promise((r) => setTimeout(r, 200));
    expect(w.run.collector.workflow.software.list({ limit: 10, offset: 0 }).total).toBe(0);
  });
});
