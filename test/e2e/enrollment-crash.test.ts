import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureIdentity, IDENTITY_FILE } from '../../agent/identity.js';
import { createEnrollmentService } from '../../collector/enrollment/enrollment-service.js';
import { openStore } from '../../collector/store/store.js';
import { systemClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';
import { startAnswerDroppingProxy, type AnswerDroppingProxy } from '../helpers/answer-dropping-proxy.js';
import { killAllGroups, spawnGroup, waitUntil, type GroupProc } from '../helpers/fault-procs.js';
import { buildOnce, freePort } from '../helpers/spawn.js';

// A real collector process is SIGKILLed after it committed an enrollment and before its answer
// reaches the agent (the answer's first bytes are held at a loopback proxy while the kill happens).
// The real agent process keeps retrying with the key it saved before the first attempt; once a new
// collector runs on the same data dir, the retry gets the agent id that was committed. The same
// token with another key is refused and audited.

const AGENT_LOGS = ['agent enrolled', 'enrollment failed; retrying', 'collector session ready'];

let proxy: AnswerDroppingProxy | undefined;
const roots: string[] = [];
beforeAll(() => buildOnce(), 120_000);
afterEach(async () => {
  await killAllGroups();
  await proxy?.close();
  proxy = undefined;
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

async function startCollectorProcess(dataDir: string, port: number, life: number): Promise<GroupProc> {
  const c = spawnGroup(`collector#${life}`, ['collector', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--insecure-dev'], { track: ['collector listening'] });
  await waitUntil('collector listening', () => c.count('collector listening') > 0 || !c.alive(), 30_000);
  if (!c.alive()) throw new Error(`collector exited at start (${String(await c.exited)})\n${c.tail()}`);
  return c;
}

function readDb<T>(dataDir: string, fn: (db: ReturnType<typeof openStore>['db']) => T): T {
  const store = openStore(join(dataDir, 'collector.db'));
  try {
    return fn(store.db);
  } finally {
    store.close();
  }
}

describe('enrollment across a collector crash between commit and answer (child processes)', () => {
  it('gives the retrying agent the agent id committed before the crash, and refuses the token to another key', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sg-enroll-crash-'));
    roots.push(root);
    const dataDir = join(root, 'collector');
    const state = join(root, 'seat');
    mkdirSync(state, { mode: 0o700 });
    const port = await freePort();
    const first = await startCollectorProcess(dataDir, port, 1);
    // Minted in the data dir beside the running collector, as `seatguard token create` does.
    const store = openStore(join(dataDir, 'collector.db'));
    let token: string;
    try {
      token = createEnrollmentService({ store, clock: systemClock, log: silentLogger() }).createToken({ ttlMs: 3_600_000 });
    } finally {
      store.close();
    }
    proxy = await startAnswerDroppingProxy(port);
    // The collector has answered, so it has committed: kill it before a byte of the answer moves on.
    const killed = proxy.dropNext(async () => {
      await first.stop('SIGKILL');
    });
    const agent = spawnGroup(
      'agent',
      ['agent', '--collector', proxy.url, '--state', state, '--seat-name', 'crash-seat-01', '--platform', 'fake', '--insecure-dev',
        '--enroll-token', token, '--backoff-base-ms', '50', '--backoff-cap-ms', '300'],
      { track: AGENT_LOGS },
    );
    await killed;
    expect(first.alive()).toBe(false);
    await waitUntil('a failed enrollment attempt', () => agent.count('enrollment failed; retrying') > 0 || !agent.alive(), 30_000);
    expect(agent.alive(), agent.tail()).toBe(true);
    expect(agent.count('agent enrolled')).toBe(0);
    const committed = readDb(dataDir, (db) => db.prepare('SELECT agent_id FROM agents').pluck().all() as string[]);
    expect(committed).toHaveLength(1);

    await startCollectorProcess(dataDir, port, 2);
    await waitUntil('the retried enrollment', () => agent.count('agent enrolled') > 0 || !agent.alive(), 30_000);
    expect(agent.alive(), agent.tail()).toBe(true);
    expect(agent.lines('agent enrolled')[0]).toMatchObject({ agent_id: committed[0], seat_name: 'crash-seat-01' });
    const saved = JSON.parse(readFileSync(join(state, IDENTITY_FILE), 'utf8')) as { agent_id: string };
    expect(saved.agent_id).toBe(committed[0]);
    // And the identity works: the agent authenticates its session with that id and key.
    await waitUntil('the agent session', () => agent.count('collector session ready') > 0 || !agent.alive(), 30_000);

    const otherState = join(root, 'intruder');
    await expect(
      ensureIdentity({ stateDir: otherState, collectorUrl: proxy.url, enrollToken: token, hostname: 'intruder', platform: 'fake', seatName: null, log: silentLogger() }),
    ).rejects.toMatchObject({ code: 'ENROLL_ERR_TOKEN' });
    const audit = readDb(dataDir, (db) => db.prepare("SELECT action, json_extract(detail, '$.reason') AS reason FROM audit_log WHERE action LIKE 'agent.enroll%' ORDER BY id").all());
    expect(audit).toEqual([
      { action: 'agent.enroll', reason: null },
      { action: 'agent.enroll_retry', reason: null },
      { action: 'agent.enroll_refused', reason: 'other_key' },
    ]);
    expect(readDb(dataDir, (db) => db.prepare('SELECT count(*) FROM agents').pluck().get())).toBe(1);
  });
});
