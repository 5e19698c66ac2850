import { afterEach, describe, expect, it } from 'vitest';
import { MIN, api, requestedFrame, sendEvent, unlockWorld, type UnlockWorld } from './unlock-harness.js';

// The unlock API names the people on a case (requester, approvers, executor, the trail's actors)
// next to their ids, so the console can show 「张伟 (zhangwei)」 instead of usr_3f9a….

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

async function person(world: UnlockWorld, username: string, displayName: string, roles: Array<'maintainer' | 'approver'>) {
  const u = await world.run.collector.users.create({ username, displayName, password: 'correct horse battery staple', roles, departments: '*' }, 'test-setup');
  return { id: u.id, username, displayName, token: world.run.collector.users.createApiToken(u.id, `${username} token`, 'test-setup').token };
}

describe('unlock views: people, not ids', () => {
  it('returns requester, approver and executor as {id, username, display_name} beside the ids, in list, detail and trail', async () => {
    const world = await unlockWorld();
    w = world;
    const zhang = await person(world, 'zhangwei', '张伟', ['maintainer']);
    const wang = await person(world, 'wangfang', '王芳', ['approver']);
    const li = await person(world, 'lina', '李娜', ['maintainer']);
    const seat = await world.seat(null);
    const created = await api(world.run, zhang.token, '/unlock-requests', {
      agent_id: seat.agentId,
      device: { vendor_id: '0781', product_id: '5567', serial: '4C530001230517109291' },
      reason: '安装打印机驱动',
      duration_ms: 30 * MIN,
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    expect(created.json.requested_by_user).toEqual({ id: zhang.id, username: 'zhangwei', display_name: '张伟' });

    expect((await api(world.run, wang.token, `/unlock-requests/${id}/approve`, { note: 'ok' })).status).toBe(200);
    world.clock.advance(MIN);
    const executed = await api(world.run, li.token, `/unlock-requests/${id}/execute`, {});
    expect(executed.status).toBe(200);
    expect(executed.json.grant).toMatchObject({ executor: li.id, executor_user: { id: li.id, username: 'lina', display_name: '李娜' } });
    expect(executed.json.approvals).toEqual([expect.objectContaining({ by: wang.id, by_user: { id: wang.id, username: 'wangfang', display_name: '王芳' } })]);

    const list = await api(world.run, li.token, '/unlock-requests?limit=10');
    const row = (list.json.requests as Array<Record<string, unknown>>).find((r) => r.id === id);
    expect(row).toMatchObject({ requested_by: zhang.id, requested_by_user: { display_name: '张伟' } });

    const detail = await api(world.run, li.token, `/unlock-requests/${id}`);
    const actors = new Map((detail.json.trail as Array<{ actor: string; actor_user: { display_name: string } | null }>).map((t) => [t.actor, t.actor_user?.display_name ?? null]));
    expect(actors.get(zhang.id)).toBe('张伟');
    expect(actors.get(wang.id)).toBe('王芳');
    expect(actors.get(li.id)).toBe('李娜');
  });

  it('gives a request raised at the seat no requester user (the requester is the seat, not a person)', async () => {
    const world = await unlockWorld();
    w = world;
    const li = await person(world, 'lina', '李娜', ['maintainer']);
    const seat = await world.seat(null);
    const conn = await world.online(seat);
    await sendEvent(conn, requestedFrame(1));
    const list = await api(world.run, li.token, `/unlock-requests?agent_id=${seat.agentId}`);
    expect(list.json.requests[0]).toMatchObject({ requested_by: `seat:${seat.agentId}`, requested_by_user: null, closed_by_user: null, grant: null });
  });
});
