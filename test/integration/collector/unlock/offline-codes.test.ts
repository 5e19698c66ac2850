import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCollector } from '../../../../collector/collector.js';
import { OFFLINE_MASTER_KEY_FILE } from '../../../../collector/workflow/offline-master-key.js';
import { deriveSeatSecret, formatChallenge, newChallenge, verifyResponse, type DeviceIdentity } from '../../../../shared/domain/offline-code.js';
import { SAMPLE_DEVICE, startCollector, tempDir, type Running } from '../harness.js';
import { api, eventFrame, sendEvent, unlockWorld, type SeatAgent, type TestUser, type UnlockWorld } from './unlock-harness.js';

let w: UnlockWorld | undefined;
const extra: Running[] = [];
afterEach(async () => {
  for (const r of extra.splice(0)) await r.cleanup({ keepDir: true });
  await w?.cleanup();
  w = undefined;
});

const DEVICE: DeviceIdentity = { vendor_id: SAMPLE_DEVICE.vendor_id, product_id: SAMPLE_DEVICE.product_id, serial: SAMPLE_DEVICE.serial, hash: SAMPLE_DEVICE.hash };

async function setup(): Promise<{ w: UnlockWorld; alice: TestUser; seat: SeatAgent }> {
  const world = await unlockWorld();
  w = world;
  return { w: world, alice: await world.user('alice', ['maintainer'], ['sales']), seat: await world.seat('sales') };
}

function usedFrame(seq: number, challenge: string, minutes: number, grantId = `off_${seq}`) {
  return eventFrame('offline.unlock_used', seq, { grant_id: grantId, challenge, minutes, device: SAMPLE_DEVICE });
}

describe('offline unlock codes', () => {
  it('hands each seat its own offline secret at enrollment, derived from a 0600 master key that survives restarts', async () => {
    const { w, seat } = await setup();
    const file = join(w.run.dataDir, OFFLINE_MASTER_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const master = readFileSync(file);
    expect(seat.offlineSecret).toBe(deriveSeatSecret(master, seat.agentId).toString('base64'));
    const other = await w.seat('sales');
    expect(other.offlineSecret).not.toBe(seat.offlineSecret);
    const again = await startCollector({ dataDir: w.run.dataDir });
    extra.push(again);
    expect(readFileSync(file).equals(master)).toBe(true);
  });

  it('refuses to start with a master key readable by others or of the wrong size (OFFLINE_ERR_KEY)', () => {
    for (const [bytes, mode] of [
      [32, 0o640],
      [16, 0o600],
    ] as const) {
      const dir = tempDir('seatguard-offline-key-');
      mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
      const file = join(dir, OFFLINE_MASTER_KEY_FILE);
      writeFileSync(file, Buffer.alloc(bytes, 7), { mode });
      chmodSync(file, mode);
      try {
        expect(() => createCollector({ dataDir: dir })).toThrow(expect.objectContaining({ code: 'OFFLINE_ERR_KEY' }));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('answers a challenge with a response the seat verifies, for exactly the asked minutes; the response is not in the trail', async () => {
    const { w, alice, seat } = await setup();
    const challenge = newChallenge(DEVICE);
    const res = await api(w.run, alice.token, '/offline-codes', {
      agent_id: seat.agentId,
      challenge: formatChallenge(challenge).toLowerCase().replace(/-/g, ' '),
      device: DEVICE,
      minutes: 45,
      reason: 'network down on floor 3',
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ agent_id: seat.agentId, challenge: formatChallenge(challenge), minutes: 45, issued_by: alice.id });
    const secret = Buffer.from(seat.offlineSecret!, 'base64');
    expect(verifyResponse(secret, seat.agentId, [challenge], res.json.response as string)).toEqual({ index: 0, minutes: 45 });
    expect(verifyResponse(secret, 'agt_other', [challenge], res.json.response as string)).toBeNull();
    const trail = w.run.collector.audit.list({ caseId: res.json.id as string }).records;
    expect(trail.map((t) => t.action)).toEqual(['offline_code.issue']);
    expect(JSON.stringify(trail)).not.toContain(res.json.response);
  });

  it('refuses minutes outside the policy bounds, a malformed challenge, a challenge for another device, and a seat outside scope', async () => {
    const { w, alice, seat } = await setup();
    const good = formatChallenge(newChallenge(DEVICE));
    const post = (body: Record<string, unknown>, token = alice.token) => api(w.run, token, '/offline-codes', { agent_id: seat.agentId, challenge: good, minutes: 30, ...body });
    expect((await post({ minutes: 5 })).json.error.code).toBe('OFFLINE_ERR_MINUTES');
    expect((await post({ minutes: 9 * 60 })).json.error.code).toBe('OFFLINE_ERR_MINUTES');
    const bad = await post({ challenge: 'not-a-challenge' });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'OFFLINE_ERR_CHALLENGE']);
    const otherDevice = await post({ device: { ...DEVICE, serial: 'SOMEONE-ELSES' } });
    expect([otherDevice.status, otherDevice.json.error.code]).toEqual([400, 'OFFLINE_ERR_CHALLENGE']);
    const mallory = await w.user('mallory', ['maintainer'], ['billing']);
    const scoped = await post({}, mallory.token);
    expect([scoped.status, scoped.json.error.code]).toEqual([403, 'UNLOCK_ERR_SCOPE']);
    const duty = await w.user('dave', ['duty'], '*');
    expect((await post({}, duty.token)).status).toBe(403);
    expect(w.run.collector.workflow.offline.list({ limit: 10, offset: 0 }).total).toBe(0);
  });

  it('links the seat report of a used code to its case, and flags a second use of the same challenge', async () => {
    const { w, alice, seat } = await setup();
    const challenge = formatChallenge(newChallenge(DEVICE));
    const issued = await api(w.run, alice.token, '/offline-codes', { agent_id: seat.agentId, challenge, minutes: 30 });
    const conn = await w.online(seat);
    await sendEvent(conn, usedFrame(1, challenge, 30));
    const first = w.run.collector.workflow.offline.get(issued.json.id as string)!;
    expect(first.code.used_at).not.toBeNull();
    expect(first.uses.map((u) => [u.flag, u.grant_id])).toEqual([[null, 'off_1']]);
    // Replay of the same challenge (a cloned seat, or a replayed response): recorded and flagged.
    await sendEvent(conn, usedFrame(2, challenge, 30));
    const after = w.run.collector.workflow.offline.get(issued.json.id as string)!;
    expect(after.uses.map((u) => u.flag)).toEqual([null, 'reused']);
    const trail = w.run.collector.audit.list({ caseId: issued.json.id as string }).records.map((t) => t.action);
    expect(trail).toEqual(['offline_code.issue', 'offline_code.use', 'offline_code.flagged']);
  });

  it('flags an offline unlock no code was issued for (unknown challenge or other minutes)', async () => {
    const { w, alice, seat } = await setup();
    const issuedFor = formatChallenge(newChallenge(DEVICE));
    await api(w.run, alice.token, '/offline-codes', { agent_id: seat.agentId, challenge: issuedFor, minutes: 30 });
    const conn = await w.online(seat);
    await sendEvent(conn, usedFrame(1, formatChallenge(newChallenge(DEVICE)), 30));
    await sendEvent(conn, usedFrame(2, issuedFor, 480));
    const flagged = w.run.collector.audit.list({ action: 'offline_code.flagged' }).records;
    expect(flagged.map((f) => f.detail.flag)).toEqual(['unknown_code', 'unknown_code']);
    expect(flagged.map((f) => f.case_id)).toEqual([null, null]);
  });

  it('records the relock of an offline grant under the code case', async () => {
    const { w, alice, seat } = await setup();
    const challenge = formatChallenge(newChallenge(DEVICE));
    const issued = await api(w.run, alice.token, '/offline-codes', { agent_id: seat.agentId, challenge, minutes: 30 });
    const conn = await w.online(seat);
    await sendEvent(conn, usedFrame(1, challenge, 30, 'off_7'));
    await sendEvent(conn, eventFrame('grant.applied', 2, { grant_id: 'off_7', device: SAMPLE_DEVICE, authorized_interfaces: ['08:06:50'] }));
    await sendEvent(conn, eventFrame('grant.ended', 3, { grant_id: 'off_7', reason: 'expired_offline', relocked_interfaces: ['08:06:50'] }));
    const use = w.run.collector.workflow.offline.get(issued.json.id as string)!.uses[0]!;
    expect(use).toMatchObject({ grant_id: 'off_7', end_reason: 'expired_offline' });
    expect(use.relocked_at).not.toBeNull();
    const trail = w.run.collector.audit.list({ caseId: issued.json.id as string }).records.map((t) => t.action);
    expect(trail).toEqual(['offline_code.issue', 'offline_code.use', 'offline_code.apply', 'offline_code.relock']);
    expect(w.run.collector.audit.list({ action: 'unlock.unknown_grant' }).records).toHaveLength(0);
    const shown = await api(w.run, alice.token, `/offline-codes/${issued.json.id as string}`);
    expect(shown.json.uses[0]).toMatchObject({ grant_id: 'off_7', end_reason: 'expired_offline', flag: null });
  });
});
