import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_POLICY } from '../../../../shared/rules/index.js';
import { api, eventFrame, isType, sendEvent, unlockWorld, type UnlockWorld } from './unlock-harness.js';

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const NEW_RULES = `# allow the registered encrypted sticks, block other storage
allow id 0781:5567 serial "4C530001230517109291"
allow except-interface { 08:*:* }
`;

describe('USB policy store', () => {
  it('starts at version 1 = DEFAULT_POLICY, created by system and audited', async () => {
    w = await unlockWorld();
    const officer = await w.user('olga', ['officer'], '*');
    const res = await api(w.run, officer.token, '/policies/current');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ version: 1, rules: DEFAULT_POLICY, sha256: sha(DEFAULT_POLICY), created_by: 'system' });
    expect(w.run.collector.audit.list({ action: 'policy.publish' }).records.map((r) => r.target_id)).toEqual(['1']);
  });

  it('refuses an invalid ruleset with 400 POLICY_ERR_INVALID listing every bad line and column', async () => {
    w = await unlockWorld();
    const admin = await w.user('root', ['admin'], '*');
    const res = await api(w.run, admin.token, '/policies', {
      rules: 'allow except-interface { 08:*:* }\nallow id 07g1:5567\n# fine\nblok\n',
      comment: 'typo test',
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('POLICY_ERR_INVALID');
    expect(res.json.error.details.errors.map((e: { line: number; column: number }) => [e.line, e.column > 0])).toEqual([
      [2, true],
      [4, true],
    ]);
    const empty = await api(w.run, admin.token, '/policies', { rules: '# nothing\n', comment: 'empty' });
    expect([empty.status, empty.json.error.code]).toEqual([400, 'POLICY_ERR_INVALID']);
    expect((await api(w.run, admin.token, '/policies')).json.total).toBe(1);
  });

  it('publishes a new version, keeps the history newest first, audits it and pushes policy.updated to connected seats', async () => {
    w = await unlockWorld();
    const admin = await w.user('root', ['admin'], '*');
    const seat = await w.seat('sales');
    const conn = await w.online(seat);
    const welcomePolicy = await conn.next(isType('policy.updated'));
    expect(welcomePolicy.body.version).toBe(1);
    const from = conn.received.length;
    const res = await api(w.run, admin.token, '/policies', { rules: NEW_RULES, comment: 'register encrypted sticks' });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ version: 2, sha256: sha(NEW_RULES), created_by: admin.id, comment: 'register encrypted sticks' });
    const pushed = await conn.next(isType('policy.updated'), 5_000, from);
    expect(pushed.body).toEqual({ version: 2, rules: NEW_RULES, sha256: sha(NEW_RULES) });
    const history = await api(w.run, admin.token, '/policies');
    expect(history.json.policies.map((p: { version: number }) => p.version)).toEqual([2, 1]);
    expect((await api(w.run, admin.token, '/policies/1')).json.rules).toBe(DEFAULT_POLICY);
    expect(w.run.collector.audit.list({ action: 'policy.publish' }).records.map((r) => [r.actor, r.target_id])).toEqual([
      ['system', '1'],
      [admin.id, '2'],
    ]);
  });

  it('keeps history append-only in the database', async () => {
    w = await unlockWorld();
    const db = w.run.collector.store.db;
    expect(() => db.prepare("UPDATE policies SET rules = 'allow'").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM policies').run()).toThrow(/append-only/);
  });

  it('lets only policy.manage publish (maintainer 403) and policy.read read (approver 403)', async () => {
    w = await unlockWorld();
    const maint = await w.user('alice', ['maintainer'], '*');
    const approver = await w.user('carol', ['approver'], '*');
    expect((await api(w.run, maint.token, '/policies', { rules: NEW_RULES, comment: 'x' })).status).toBe(403);
    expect((await api(w.run, maint.token, '/policies/current')).status).toBe(200);
    expect((await api(w.run, approver.token, '/policies/current')).status).toBe(403);
  });

  it('tracks the rollout from policy.applied and audits a seat that failed to apply', async () => {
    w = await unlockWorld();
    const officer = await w.user('olga', ['officer'], '*');
    const ok = await w.seat('sales');
    const bad = await w.seat('sales');
    await w.seat('sales');
    const v1 = sha(DEFAULT_POLICY);
    await sendEvent(await w.online(ok), eventFrame('policy.applied', 1, { version: 1, sha256: v1, ok: true, detail: '1 rule' }));
    await sendEvent(await w.online(bad), eventFrame('policy.applied', 1, { version: 1, sha256: v1, ok: false, detail: 'usb1: cannot write' }));
    const res = await api(w.run, officer.token, '/policies/current');
    expect(res.json.rollout).toEqual({ applied: 1, failed: 1, pending: 1 });
    const failed = w.run.collector.audit.list({ action: 'policy.apply_failed' }).records;
    expect(failed.map((f) => f.actor)).toEqual([`agent:${bad.agentId}`]);
  });
});
