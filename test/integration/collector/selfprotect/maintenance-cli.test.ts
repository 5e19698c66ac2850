import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMaintenanceCode } from '../../../../shared/domain/maintenance-code.js';
import { ADMIN_EXIT } from '../../../../scripts/commands/admin-api.js';
import { registerMaintenanceCodeCommand, runMaintenanceIssue, type MaintenanceIssueCall, type MaintenancePurposeArg } from '../../../../scripts/commands/maintenance-code.js';
import { unlockWorld, workflowCast, type SeatAgent, type UnlockWorld } from '../unlock/unlock-harness.js';
import { adminCliIo } from '../../../helpers/admin-cli-io.js';

// `seatguard maintenance-code issue …` against a real collector; the printed code is checked the
// way the seat's agent checks it (its offline secret from enrollment).

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

const ENV = { SEATGUARD_PASSWORD: 'correct horse battery staple' };

const io = () => adminCliIo({ env: ENV });

async function setup(): Promise<{ world: UnlockWorld; seat: SeatAgent }> {
  const world = await unlockWorld();
  w = world;
  await workflowCast(world);
  await world.user('olga', ['officer'], '*');
  return { world, seat: await world.seat('sales') };
}

const issue = (world: UnlockWorld, user: string, call: MaintenanceIssueCall, t: ReturnType<typeof io>, json = false) =>
  runMaintenanceIssue({ url: world.run.url, user, json }, call, t.value);

describe('seatguard maintenance-code issue (admin CLI over the API)', () => {
  it('prints a code that the seat accepts for that purpose only, and audits the issue with its reason', async () => {
    const { world, seat } = await setup();
    const t = io();
    expect(await issue(world, 'alice', { agent: seat.agentId, purpose: 'uninstall', reason: 'seat retired', ttlMs: 3_600_000 }, t)).toBe(ADMIN_EXIT.ok);
    const [code, facts] = t.out().split('\n');
    expect(facts).toMatch(new RegExp(`^mc_[0-9a-f]{16}\\tuninstall\\t${seat.agentId}\\tuntil `));
    const secret = Buffer.from(seat.offlineSecret ?? '', 'base64');
    const now = world.clock.now();
    expect(checkMaintenanceCode(secret, seat.agentId, code!, 'uninstall', now)).toMatchObject({ ok: true, codeId: facts!.split('\t')[0] });
    expect(checkMaintenanceCode(secret, seat.agentId, code!, 'stop', now)).toMatchObject({ ok: false, why: 'purpose' });
    expect(t.err()).toContain('seatguard agent uninstall --maintenance-code');
    const record = world.run.collector.audit.list({ action: 'maintenance_code.issue' }).records.at(-1);
    expect(record?.detail).toMatchObject({ agent_id: seat.agentId, purpose: 'uninstall', reason: 'seat retired' });
  });

  it('with --json prints the API answer, and a security officer may issue too', async () => {
    const { world, seat } = await setup();
    const t = io();
    expect(await issue(world, 'olga', { agent: seat.agentId, purpose: 'stop', reason: 'swap the keyboard' }, t, true)).toBe(ADMIN_EXIT.ok);
    const answer = JSON.parse(t.out()) as { maintenance_code: { code: string; purpose: string; agent_id: string } };
    expect(answer.maintenance_code).toMatchObject({ purpose: 'stop', agent_id: seat.agentId });
    expect(answer.maintenance_code.code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){5}$/);
  });

  it('exits 1 for a role without agent.maintenance_code, a seat of another department, an unknown seat and a TTL above 24 h; 2 for a bad purpose', async () => {
    const { world, seat } = await setup();
    const approver = io();
    expect(await issue(world, 'carol', { agent: seat.agentId, purpose: 'stop', reason: 'x' }, approver)).toBe(ADMIN_EXIT.refused);
    expect(approver.err()).toContain('AUTH_ERR_FORBIDDEN');
    const foreign = io();
    expect(await issue(world, 'mallory', { agent: seat.agentId, purpose: 'stop', reason: 'x' }, foreign)).toBe(ADMIN_EXIT.refused);
    expect(foreign.err()).toContain('(HTTP 404)');
    const unknown = io();
    expect(await issue(world, 'alice', { agent: 'no-such-seat', purpose: 'stop', reason: 'x' }, unknown)).toBe(ADMIN_EXIT.refused);
    expect(unknown.err()).toContain('(HTTP 404)');
    const tooLong = io();
    expect(await issue(world, 'alice', { agent: seat.agentId, purpose: 'stop', reason: 'x', ttlMs: 25 * 3_600_000 }, tooLong)).toBe(ADMIN_EXIT.refused);
    expect(tooLong.err()).toContain('(HTTP 400)');
    const purpose = io();
    expect(await issue(world, 'alice', { agent: seat.agentId, purpose: 'reboot' as MaintenancePurposeArg, reason: 'x' }, purpose)).toBe(ADMIN_EXIT.usage);
    expect(purpose.out()).toBe('');
    expect(world.run.collector.audit.list({ action: 'maintenance_code.issue' }).records).toEqual([]);
  });

  it('registers `seatguard maintenance-code issue` with --seat, --purpose, --reason, --ttl and the connection options', () => {
    const mc = registerMaintenanceCodeCommand(new Command());
    expect(mc.commands.map((c) => c.name())).toEqual(['issue']);
    expect(mc.commands[0]!.options.map((o) => o.long).sort()).toEqual(['--ca', '--json', '--purpose', '--reason', '--seat', '--ttl', '--url', '--user']);
  });
});
