import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureIdentity, IDENTITY_FILE, KEY_FILE, loadIdentity, OFFLINE_SECRET_FILE } from '../../../agent/identity.js';
import { silentLogger } from '../../../shared/logger.js';
import { startAnswerDroppingProxy, type AnswerDroppingProxy } from '../../helpers/answer-dropping-proxy.js';
import { startCollector, type Running } from '../collector/harness.js';

// The agent's half of a retry-safe enrollment: the key is on disk before the request goes out and
// is what every later attempt proves, so an answer lost after the collector committed the
// enrollment costs nothing but the retry. Real collector, real SQLite file, loopback proxy.

let run: Running | undefined;
let proxy: AnswerDroppingProxy | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await proxy?.close();
  await run?.cleanup();
  proxy = undefined;
  run = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'seatguard-agent-'));
  dirs.push(d);
  return join(d, 'state');
}

const portOf = (url: string) => Number(new URL(url).port);
const spki = (pem: string) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' }).toString('base64');

describe('enrollment whose answer is lost after the collector committed it', () => {
  it('keeps the key, and the retry with the same token gets the agent id the collector committed; another key is refused', async () => {
    run = await startCollector();
    proxy = await startAnswerDroppingProxy(portOf(run.url));
    const token = run.collector.createEnrollmentToken({ department: 'sales' });
    const dir = stateDir();
    const opts = { stateDir: dir, collectorUrl: proxy.url, enrollToken: token, hostname: 'seat-9', platform: 'fake' as const, seatName: 'cc-lyon-009', log: silentLogger() };

    const dropped = proxy.dropNext();
    await expect(ensureIdentity(opts)).rejects.toMatchObject({ code: 'AGENT_ERR_ENROLL' });
    await dropped;
    // The collector committed the enrollment; the seat has its key but no identity yet.
    const rows = run.collector.store.db.prepare('SELECT agent_id, public_key FROM agents').all() as Array<{ agent_id: string; public_key: string }>;
    expect(rows).toHaveLength(1);
    expect(loadIdentity(dir)).toBeNull();
    const pem = readFileSync(join(dir, KEY_FILE), 'utf8');
    expect(spki(pem)).toBe(rows[0]!.public_key);

    const identity = await ensureIdentity(opts);
    expect(identity.agentId).toBe(rows[0]!.agent_id);
    expect(identity.seatName).toBe('cc-lyon-009');
    expect(readFileSync(join(dir, KEY_FILE), 'utf8')).toBe(pem);
    expect(existsSync(join(dir, IDENTITY_FILE))).toBe(true);
    expect(identity.offlineSecret?.length).toBe(32);
    expect(readFileSync(join(dir, OFFLINE_SECRET_FILE), 'utf8').trim()).toBe(identity.offlineSecret?.toString('base64'));
    expect(run.collector.store.db.prepare('SELECT count(*) FROM agents').pluck().get()).toBe(1);

    // Someone else with the same (now used) token: a new state dir means a new key.
    await expect(ensureIdentity({ ...opts, stateDir: stateDir() })).rejects.toMatchObject({ code: 'ENROLL_ERR_TOKEN' });
    expect(run.collector.audit.list({ action: 'agent.enroll_refused' }).records.map((r) => r.detail.reason)).toEqual(['other_key']);
  });
});
