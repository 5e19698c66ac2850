import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerUnlockCommand, runUnlockCli, UNLOCK_EXIT, type UnlockCliCall } from '../../../../scripts/commands/unlock.js';
import { requestedFrame, sendEvent, unlockWorld, type UnlockWorld } from './unlock-harness.js';
import { adminCliIo } from '../../../helpers/admin-cli-io.js';

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

const PASSWORD = 'correct horse battery staple';

const io = adminCliIo;

async function setup(reason = 'copy the monthly call report') {
  const world = await unlockWorld();
  w = world;
  await world.user('alice', ['maintainer'], ['sales']);
  await world.user('carol', ['approver'], ['sales']);
  const seat = await world.seat('sales');
  const conn = await world.online(seat);
  await sendEvent(conn, requestedFrame(1, { reason }));
  const id = world.run.collector.workflow.unlock.list({ limit: 1, offset: 0 }).rows[0]!.id;
  return { world, id };
}

const cli = (world: UnlockWorld, user: string, call: UnlockCliCall, t: ReturnType<typeof io>, json = false) =>
  runUnlockCli({ url: world.run.url, user, json }, call, t.value);

describe('seatguard unlock (admin CLI over the API)', () => {
  it('lists, approves (password from SEATGUARD_PASSWORD) and shows the case with its trail', async () => {
    const { world, id } = await setup();
    const env = { SEATGUARD_PASSWORD: PASSWORD };
    const list = io({ env });
    expect(await cli(world, 'alice', { action: 'list', state: 'pending' }, list)).toBe(UNLOCK_EXIT.ok);
    expect(list.out()).toContain(id);
    expect(list.out()).toContain('1 request(s)');
    const approve = io({ env });
    expect(await cli(world, 'alice', { action: 'approve', id, note: 'report due' }, approve)).toBe(UNLOCK_EXIT.ok);
    expect(approve.out()).toMatch(new RegExp(`^${id}\\tactive\\t`));
    const show = io({ env });
    expect(await cli(world, 'carol', { action: 'show', id }, show)).toBe(UNLOCK_EXIT.ok);
    expect(show.out()).toContain('unlock.approve');
    expect(show.out()).toContain('unlock.grant');
    expect(world.run.collector.workflow.unlock.get(id)?.state).toBe('active');
  });

  it('reads the password from stdin, and revokes with a reason', async () => {
    const { world, id } = await setup();
    world.run.collector.workflow.unlock.approve(id, { id: 'someone', roles: ['maintainer'], departments: '*' }, { note: '' });
    const t = io({ stdin: `${PASSWORD}\n` });
    expect(await cli(world, 'alice', { action: 'revoke', id, reason: 'seat user left' }, t)).toBe(UNLOCK_EXIT.ok);
    expect(world.run.collector.workflow.unlock.get(id)).toMatchObject({ state: 'ended', end_reason: 'revoked', closed_reason: 'seat user left' });
  });

  it('exits 1 with the error code when the workflow refuses (approver cannot execute), 2 on a wrong password', async () => {
    const { world, id } = await setup();
    const refused = io({ env: { SEATGUARD_PASSWORD: PASSWORD } });
    expect(await cli(world, 'carol', { action: 'execute', id }, refused)).toBe(UNLOCK_EXIT.refused);
    expect(refused.err()).toContain('AUTH_ERR_FORBIDDEN');
    const wrong = io({ env: { SEATGUARD_PASSWORD: 'not the password' } });
    expect(await cli(world, 'alice', { action: 'list' }, wrong)).toBe(UNLOCK_EXIT.usage);
    expect(wrong.err()).toContain('AUTH_ERR_LOGIN_FAILED');
    const none = io();
    expect(await cli(world, 'alice', { action: 'list' }, none)).toBe(UNLOCK_EXIT.usage);
  });

  it('prints hostile request text without terminal control characters', async () => {
    const { world } = await setup('copy \u001b[2J\u001b]0;pwned\u0007 now');
    const t = io({ env: { SEATGUARD_PASSWORD: PASSWORD } });
    expect(await cli(world, 'alice', { action: 'list' }, t)).toBe(UNLOCK_EXIT.ok);
    const controls = [...t.out()].filter((c) => (c < ' ' && c !== '\n' && c !== '\t') || c === '\u007f');
    expect(controls).toEqual([]);
    expect(t.out()).toContain('pwned');
  });

  it('registers list, show, approve, reject, revoke and execute under `seatguard unlock`', () => {
    const program = new Command();
    const unlock = registerUnlockCommand(program);
    expect(unlock.commands.map((c) => c.name()).sort()).toEqual(['approve', 'execute', 'list', 'reject', 'revoke', 'show']);
  });
});
