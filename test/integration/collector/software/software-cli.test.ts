import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_EXIT } from '../../../../scripts/commands/admin-api.js';
import { registerUnlockCommand } from '../../../../scripts/commands/unlock.js';
import { registerSoftwareCommand, runSoftwareCli, type SoftwareCliCall } from '../../../../scripts/commands/software.js';
import { api, unlockWorld, workflowCast, type UnlockWorld, type WorkflowCast } from '../unlock/unlock-harness.js';
import { adminCliIo } from '../../../helpers/admin-cli-io.js';

// `seatguard software …` against a real collector (SQLite file, 127.0.0.1:0), as an operator runs it.

let w: UnlockWorld | undefined;
afterEach(async () => {
  await w?.cleanup();
  w = undefined;
});

const PASSWORD = 'correct horse battery staple';
const ENV = { SEATGUARD_PASSWORD: PASSWORD };

const io = adminCliIo;

async function setup(opts: { tls?: boolean } = {}): Promise<{ world: UnlockWorld; cast: WorkflowCast; agentId: string }> {
  const world = await unlockWorld({ insecureDev: opts.tls !== true });
  w = world;
  const cast = await workflowCast(world);
  // The harness enrolls over plain fetch, so the https case goes without a seat (it lists nothing).
  const agentId = opts.tls === true ? '' : (await world.seat('sales')).agentId;
  return { world, cast, agentId };
}

const cli = (world: UnlockWorld, user: string, call: SoftwareCliCall, t: ReturnType<typeof io>, extra: { json?: boolean; ca?: string; url?: string } = {}) =>
  runSoftwareCli({ url: extra.url ?? world.run.url, user, ...(extra.json === undefined ? {} : { json: extra.json }), ...(extra.ca === undefined ? {} : { ca: extra.ca }) }, call, t.value);

const controls = (s: string) => [...s].filter((c) => (c < ' ' && c !== '\n' && c !== '\t') || (c >= '\u007f' && c <= '\u009f'));

describe('seatguard software (admin CLI over the API)', () => {
  it('files a request, another person approves (password on stdin), a maintainer executes, and show prints the trail', async () => {
    const { world, cast, agentId } = await setup();
    const filed = io({ env: ENV });
    expect(await cli(world, 'dave', { action: 'request', agent: agentId, package: 'libreoffice-calc', versions: '>= 7.4', reason: 'monthly report template' }, filed)).toBe(ADMIN_EXIT.ok);
    const id = filed.out().split('\t')[0]!;
    expect(id).toMatch(/^swr_/);
    expect(filed.out()).toContain('\tpending\t');
    expect(filed.out()).toContain('libreoffice-calc (>= 7.4)');

    const list = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list', state: 'pending', agent: agentId }, list)).toBe(ADMIN_EXIT.ok);
    expect(list.out()).toContain(id);
    expect(list.out()).toContain('1 request(s)');

    const approve = io({ stdin: `${PASSWORD}\n` });
    expect(await cli(world, 'carol', { action: 'approve', id, note: 'ok' }, approve)).toBe(ADMIN_EXIT.ok);
    expect(approve.out()).toMatch(new RegExp(`^${id}\\tapproved\\t`));
    const exec = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'execute', id }, exec)).toBe(ADMIN_EXIT.ok);
    expect(exec.out()).toMatch(new RegExp(`^${id}\\tactive\\t.*\\tpermanent\\t`));

    const show = io({ env: ENV });
    expect(await cli(world, 'bob', { action: 'show', id }, show)).toBe(ADMIN_EXIT.ok);
    expect(show.out()).toContain(`allow rule swreq:${id} executor ${cast.alice.id}`);
    for (const action of ['software.request', 'software.approve', 'software.allow']) expect(show.out()).toContain(`\t${action}\t`);
    expect(world.run.collector.workflow.software.get(id)?.state).toBe('active');
  });

  it('revokes an active request and rejects a pending one, each with the reason recorded', async () => {
    const { world, cast, agentId } = await setup();
    const first = await api(world.run, cast.dave.token, '/software-requests', { agent_id: agentId, package: 'gimp', reason: 'poster for the team' });
    const second = await api(world.run, cast.dave.token, '/software-requests', { agent_id: agentId, package: 'steam', reason: 'not for work' });
    const a: string = first.json.id;
    const b: string = second.json.id;
    await api(world.run, cast.alice.token, `/software-requests/${a}/approve`, {});
    expect(world.run.collector.workflow.software.get(a)?.state).toBe('active');

    expect(await cli(world, 'bob', { action: 'revoke', id: a, reason: 'poster done' }, io({ env: ENV }))).toBe(ADMIN_EXIT.ok);
    expect(world.run.collector.workflow.software.get(a)).toMatchObject({ state: 'ended', closed_reason: 'poster done' });
    expect(await cli(world, 'carol', { action: 'reject', id: b, reason: 'games are not work' }, io({ env: ENV }))).toBe(ADMIN_EXIT.ok);
    expect(world.run.collector.workflow.software.get(b)).toMatchObject({ state: 'rejected', closed_reason: 'games are not work' });
  });

  it('exits 1 with the collector error code when refused, and 2 on a bad password, no password or a bad URL', async () => {
    const { world, cast, agentId } = await setup();
    const filed = await api(world.run, cast.dave.token, '/software-requests', { agent_id: agentId, package: 'gimp', reason: 'poster' });
    const id: string = filed.json.id;
    await api(world.run, cast.carol.token, `/software-requests/${id}/approve`, {});

    const forbidden = io({ env: ENV });
    expect(await cli(world, 'carol', { action: 'execute', id }, forbidden)).toBe(ADMIN_EXIT.refused);
    expect(forbidden.err()).toContain('AUTH_ERR_FORBIDDEN');
    // Another department's case answers like an unknown one.
    const foreign = io({ env: ENV });
    expect(await cli(world, 'mallory', { action: 'show', id }, foreign)).toBe(ADMIN_EXIT.refused);
    expect(foreign.err()).toContain('SOFTWARE_ERR_NOT_FOUND');
    const invalid = io({ env: ENV });
    expect(await cli(world, 'dave', { action: 'request', agent: agentId, sha256: 'not-a-hash', reason: 'x' }, invalid)).toBe(ADMIN_EXIT.refused);
    expect(invalid.err()).toContain('(HTTP 400)');

    const wrong = io({ env: { SEATGUARD_PASSWORD: 'not the password' } });
    expect(await cli(world, 'alice', { action: 'list' }, wrong)).toBe(ADMIN_EXIT.usage);
    expect(wrong.err()).toContain('AUTH_ERR_LOGIN_FAILED');
    const none = io();
    expect(await cli(world, 'alice', { action: 'list' }, none)).toBe(ADMIN_EXIT.usage);
    expect(none.err()).toContain('SEATGUARD_PASSWORD');
    const badUrl = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list' }, badUrl, { url: 'file:///etc/passwd' })).toBe(ADMIN_EXIT.usage);
  });

  it('prints a hostile reason without terminal control characters, in the table and in --json', async () => {
    const { world, cast, agentId } = await setup();
    const hostile = 'need it \u001b[2J\u001b]0;pwned\u0007 now \u009b31m red \u202eevil';
    const filed = await api(world.run, cast.dave.token, '/software-requests', { agent_id: agentId, package: 'gimp', reason: hostile });
    expect(filed.status).toBe(201);
    const table = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list' }, table)).toBe(ADMIN_EXIT.ok);
    expect(controls(table.out())).toEqual([]);
    expect(table.out()).not.toContain('\u202e');
    expect(table.out()).toContain('pwned');

    const json = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'show', id: filed.json.id as string }, json, { json: true })).toBe(ADMIN_EXIT.ok);
    expect(controls(json.out())).toEqual([]);
    expect(json.out()).not.toContain('\u202e');
    // Escaped, not dropped: a script reading the JSON gets the stored text back.
    const parsed = JSON.parse(json.out()) as { request: { reason: string } };
    expect(parsed.request.reason).toBe(world.run.collector.workflow.software.get(filed.json.id as string)?.reason);
  });

  it('over https trusts the collector only with --ca DATA/tls/ca.pem, and refuses --ca with an http URL', async () => {
    const { world } = await setup({ tls: true });
    expect(world.run.url).toMatch(/^https:/);
    const caFile = join(world.run.dataDir, 'tls', 'ca.pem');
    expect(existsSync(caFile)).toBe(true);

    const untrusted = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list' }, untrusted)).toBe(ADMIN_EXIT.usage);
    expect(untrusted.err()).toContain('--ca');
    const trusted = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list' }, trusted, { ca: caFile })).toBe(ADMIN_EXIT.ok);
    expect(trusted.out()).toContain('0 request(s)');
    // NODE_EXTRA_CA_CERTS is honoured as by Node's own https, when no --ca is given.
    const extra = io({ env: { ...ENV, NODE_EXTRA_CA_CERTS: caFile } });
    expect(await cli(world, 'alice', { action: 'list' }, extra)).toBe(ADMIN_EXIT.ok);
    const missing = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list' }, missing, { ca: join(world.run.dataDir, 'no-such.pem') })).toBe(ADMIN_EXIT.usage);
    const plain = io({ env: ENV });
    expect(await cli(world, 'alice', { action: 'list' }, plain, { ca: caFile, url: world.run.url.replace(/^https:/, 'http:') })).toBe(ADMIN_EXIT.usage);
    expect(plain.err()).toContain('https URLs only');
  });

  it('registers list, show, request, approve, reject, execute, revoke and cancel under `seatguard software`, each with --ca', () => {
    const software = registerSoftwareCommand(new Command());
    expect(software.commands.map((c) => c.name()).sort()).toEqual(['approve', 'cancel', 'execute', 'list', 'reject', 'request', 'revoke', 'show']);
    for (const c of software.commands) expect(c.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--url', '--user', '--ca', '--json']));
  });

  it('gives `seatguard unlock` the same shared --ca option', () => {
    const unlock = registerUnlockCommand(new Command());
    for (const c of unlock.commands) expect(c.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--url', '--user', '--ca', '--json']));
  });
});
