import { rmSync } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runUserAdd, runUserDisable, runUserList, USER_EXIT, type UserAddOptions } from '../../../../scripts/commands/user.js';
import { tempDir, type Running } from '../harness.js';
import { call, FAST_SCRYPT, login, PASSWORD, startSecured } from './support.js';

const dirs: string[] = [];
const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup({ keepDir: true });
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sink() {
  let text = '';
  return { write: (c: string) => (text += c), get text() { return text; } };
}

async function add(data: string, stdinText: string, o: Partial<UserAddOptions> = {}) {
  const out = sink();
  const err = sink();
  const code = await runUserAdd(
    { data, username: 'alice', roles: ['admin'], allDepartments: true, scrypt: FAST_SCRYPT, ...o },
    { out, err, stdin: Readable.from([Buffer.from(stdinText)]) },
  );
  return { code, out: out.text, err: err.text };
}

function dataDir(): string {
  const d = tempDir('seatguard-usercli-');
  dirs.push(d);
  return d;
}

describe('seatguard user add / list / disable', () => {
  it('reads the password from the first line of stdin; the user can then log in to a collector on that data dir', async () => {
    const data = dataDir();
    const r = await add(data, `${PASSWORD}\nthis second line is ignored\n`, { displayName: 'Alice A.' });
    expect(r.code).toBe(USER_EXIT.ok);
    expect(r.out).toMatch(/^created user alice \(usr_[0-9a-f]{24}\) roles=admin departments=\*\n$/);
    expect(r.out + r.err).not.toContain(PASSWORD);
    const run = await startSecured({ dataDir: data });
    runs.push(run);
    const s = await login(run, 'alice');
    expect(s.answer.json.user).toMatchObject({ username: 'alice', display_name: 'Alice A.', roles: ['admin'] });
    const rec = run.collector.audit.list({ action: 'user.create' }).records[0]!;
    expect(rec).toMatchObject({ actor: 'system', detail: { via: 'cli', username: 'alice' } });
    expect(run.collector.audit.verify()).toMatchObject({ ok: true });
  });

  it('accepts a password piped in chunks with a CRLF line end', async () => {
    const data = dataDir();
    const stdin = new PassThrough();
    const pending = runUserAdd({ data, username: 'bob', roles: ['duty'], departments: ['Lyon', '客服一部'], scrypt: FAST_SCRYPT }, { out: sink(), err: sink(), stdin });
    stdin.write('correct-');
    stdin.write('horse-9\r\n');
    expect(await pending).toBe(USER_EXIT.ok);
    const run = await startSecured({ dataDir: data });
    runs.push(run);
    expect((await login(run, 'bob')).answer.json.user.departments).toEqual(['Lyon', '客服一部']);
  });

  it('refuses a short password, the auditor+admin combination and a missing department choice', async () => {
    const data = dataDir();
    const short = await add(data, 'short\n');
    expect(short.code).toBe(USER_EXIT.refused);
    expect(short.err).toMatch(/^USER_ERR_INVALID: .*at least 10 characters/);
    const clash = await add(data, `${PASSWORD}\n`, { roles: ['auditor', 'admin'] });
    expect(clash.code).toBe(USER_EXIT.refused);
    expect(clash.err).toMatch(/^USER_ERR_ROLE_CONFLICT/);
    const noDept = await add(data, `${PASSWORD}\n`, { allDepartments: false });
    expect(noDept.code).toBe(USER_EXIT.usage);
    const both = await add(data, `${PASSWORD}\n`, { departments: ['Lyon'] });
    expect(both.code).toBe(USER_EXIT.usage);
    const list = sink();
    expect(runUserList({ data }, { out: list, err: sink() })).toBe(USER_EXIT.ok);
    expect(list.text).toMatch(/^service\tusr_service\tofficer\t\*\tbuiltin\n$/);
  });

  it('lists accounts without hashes and disables one so it can no longer log in', async () => {
    const data = dataDir();
    expect((await add(data, `${PASSWORD}\n`, { username: 'carol', roles: ['officer'] })).code).toBe(USER_EXIT.ok);
    const out = sink();
    expect(runUserList({ data, json: true }, { out, err: sink() })).toBe(USER_EXIT.ok);
    expect(JSON.parse(out.text).map((u: { username: string }) => u.username)).toEqual(['carol', 'service']);
    expect(out.text).not.toContain('scrypt');
    expect(runUserDisable({ data, username: 'CAROL' }, { out: sink(), err: sink() })).toBe(USER_EXIT.ok);
    expect(runUserDisable({ data, username: 'nobody' }, { out: sink(), err: sink() })).toBe(USER_EXIT.refused);
    const run = await startSecured({ dataDir: data });
    runs.push(run);
    expect((await call(run, '/api/v1/auth/login', { body: { username: 'carol', password: PASSWORD } })).status).toBe(401);
  });

  it('answers exit 2 for list and disable on a data dir without a database', () => {
    const data = dataDir();
    expect(runUserList({ data }, { out: sink(), err: sink() })).toBe(USER_EXIT.usage);
    expect(runUserDisable({ data, username: 'x' }, { out: sink(), err: sink() })).toBe(USER_EXIT.usage);
  });
});
