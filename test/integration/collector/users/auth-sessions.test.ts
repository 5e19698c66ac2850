import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../shared/clock.js';
import { captureLogger } from '../../../helpers/receivers/log-capture.js';
import type { Running } from '../harness.js';
import { addUser, call, login, PASSWORD, startSecured } from './support.js';

const runs: Running[] = [];
afterEach(async () => {
  for (const r of runs.splice(0)) await r.cleanup();
});
async function start(...args: Parameters<typeof startSecured>): Promise<Running> {
  const run = await startSecured(...args);
  runs.push(run);
  return run;
}

describe('login, sessions and logout', () => {
  it('sets an HttpOnly, SameSite=Strict, Path=/ session cookie (no Secure over plain HTTP) and /auth/me knows the user', async () => {
    const run = await start();
    const alice = await addUser(run, 'alice', ['duty'], ['客服一部']);
    const s = await login(run, 'Alice');
    expect(s.setCookie).toMatch(/^sg_session=sgs_[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    // The cookie lives as long as the session's absolute lifetime (12 h), counted from the login.
    expect(Number(/Max-Age=(\d+)/.exec(s.setCookie)?.[1])).toBeGreaterThan(43_000);
    expect(Number(/Max-Age=(\d+)/.exec(s.setCookie)?.[1])).toBeLessThanOrEqual(43_200);
    expect(s.answer.json).toMatchObject({ user: { id: alice.id, username: 'alice', roles: ['duty'], departments: ['客服一部'] } });
    expect(s.answer.json.token).toBeUndefined();
    expect(s.answer.json.user.password_hash).toBeUndefined();
    expect(s.answer.headers.get('cache-control')).toBe('no-store');
    const me = await call(run, '/api/v1/auth/me', { cookie: s.cookie });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ user: { id: alice.id }, via: 'cookie', csrf_token: s.csrf });
  });

  it('returns the bearer form of the session only for client "cli", and it needs no CSRF header', async () => {
    const run = await start();
    await addUser(run, 'root-admin', ['admin']);
    const s = await login(run, 'root-admin', PASSWORD, { client: 'cli' });
    const token = s.answer.json.token as string;
    expect(token).toMatch(/^sgs_/);
    expect(s.cookie).toBe(`sg_session=${token}`);
    const created = await call(run, '/api/v1/users', { bearer: token, body: { username: 'bob', password: PASSWORD, roles: ['duty'], departments: '*' } });
    expect(created.status).toBe(201);
    expect((await call(run, '/api/v1/auth/me', { bearer: token })).json).toMatchObject({ via: 'bearer' });
  });

  it('answers a wrong password and an unknown user identically, and audits both', async () => {
    const run = await start();
    const alice = await addUser(run, 'alice', ['duty']);
    const wrong = await call(run, '/api/v1/auth/login', { body: { username: 'alice', password: 'not-the-password' } });
    const unknown = await call(run, '/api/v1/auth/login', { body: { username: 'mallory', password: 'not-the-password' } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual(wrong.json);
    expect(wrong.json).toEqual({ error: { code: 'AUTH_ERR_LOGIN_FAILED', message: 'Unknown user name or wrong password' } });
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const failures = run.collector.audit.list({ action: 'auth.login_failed' }).records;
    expect(failures.map((r) => [r.actor, r.detail.reason])).toEqual([
      [alice.id, 'bad_password'],
      ['anonymous', 'unknown_user'],
    ]);
  });

  it('locks a user name after 5 failures with 429 and Retry-After, even for the right password, and audits the lockout', async () => {
    const run = await start();
    await addUser(run, 'alice', ['duty']);
    for (let i = 0; i < 5; i++) {
      expect((await call(run, '/api/v1/auth/login', { body: { username: 'alice', password: `wrong-password-${i}` } })).status).toBe(401);
    }
    const locked = await call(run, '/api/v1/auth/login', { body: { username: 'alice', password: PASSWORD } });
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('AUTH_ERR_LOCKED');
    expect(Number(locked.headers.get('retry-after'))).toBe(900);
    expect(run.collector.audit.list({ action: 'auth.lockout' }).records).toHaveLength(1);
    // An unknown name is locked the same way: the lockout says nothing about who exists.
    for (let i = 0; i < 5; i++) await call(run, '/api/v1/auth/login', { body: { username: 'ghost', password: `wrong-password-${i}` } });
    expect((await call(run, '/api/v1/auth/login', { body: { username: 'ghost', password: 'x-password-1' } })).status).toBe(429);
  });

  it('ends the session at logout: the cookie stops working, the answer clears it, the logout is audited', async () => {
    const run = await start();
    const alice = await addUser(run, 'alice', ['duty']);
    const s = await login(run, 'alice');
    const out = await call(run, '/api/v1/auth/logout', { cookie: s.cookie, csrf: s.csrf, body: {} });
    expect(out.status).toBe(200);
    expect(out.json).toEqual({ ended: true });
    expect(out.headers.get('set-cookie')).toMatch(/^sg_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    expect((await call(run, '/api/v1/auth/me', { cookie: s.cookie })).status).toBe(401);
    expect(run.collector.audit.list({ action: 'auth.logout', actor: alice.id }).records).toHaveLength(1);
  });

  it('expires a session after 30 idle minutes and after 12 hours however active', async () => {
    const clock = new ManualClock(Date.now());
    const run = await start({ clock });
    await addUser(run, 'alice', ['duty']);
    const idle = await login(run, 'alice');
    clock.advance(29 * 60_000);
    expect((await call(run, '/api/v1/auth/me', { cookie: idle.cookie })).status).toBe(200);
    clock.advance(29 * 60_000);
    expect((await call(run, '/api/v1/auth/me', { cookie: idle.cookie })).status).toBe(200);
    clock.advance(30 * 60_000);
    expect((await call(run, '/api/v1/auth/me', { cookie: idle.cookie })).status).toBe(401);

    const busy = await login(run, 'alice');
    for (let h = 0; h < 12 * 3; h++) {
      clock.advance(20 * 60_000);
      const status = (await call(run, '/api/v1/auth/me', { cookie: busy.cookie })).status;
      expect(status).toBe(h < 12 * 3 - 1 ? 200 : 401);
    }
  });

  it('refuses a disabled user at login with the generic answer and ends their sessions and API tokens', async () => {
    const run = await start();
    const admin = await addUser(run, 'admin1', ['admin']);
    const alice = await addUser(run, 'alice', ['officer']);
    const s = await login(run, 'alice');
    const { token } = run.collector.users.createApiToken(alice.id, 'script', admin.id);
    expect((await call(run, '/api/v1/seats', { bearer: token })).status).toBe(200);
    const a = await login(run, 'admin1');
    const dis = await call(run, `/api/v1/users/${alice.id}/disable`, { cookie: a.cookie, csrf: a.csrf, body: {} });
    expect(dis.status).toBe(200);
    expect(dis.json.user).toMatchObject({ disabled: true, can_log_in: false });
    expect((await call(run, '/api/v1/seats', { cookie: s.cookie })).status).toBe(401);
    expect((await call(run, '/api/v1/seats', { bearer: token })).status).toBe(401);
    const again = await call(run, '/api/v1/auth/login', { body: { username: 'alice', password: PASSWORD } });
    expect(again.status).toBe(401);
    expect(again.json.error.code).toBe('AUTH_ERR_LOGIN_FAILED');
    expect(run.collector.audit.list({ action: 'auth.login_failed' }).records.at(-1)?.detail.reason).toBe('disabled');
  });

  it('never logs the password or any session or API token', async () => {
    const { log, raw } = captureLogger();
    const run = await start({ log });
    const admin = await addUser(run, 'alice', ['admin']);
    await call(run, '/api/v1/auth/login', { body: { username: 'alice', password: 'wrong-secret-pw' } });
    const s = await login(run, 'alice', PASSWORD, { client: 'cli' });
    const created = await call(run, '/api/v1/tokens/api', { bearer: s.answer.json.token as string, body: { user_id: admin.id, name: 'ci' } });
    expect(created.status).toBe(201);
    await call(run, '/api/v1/users', { bearer: 'sga_' + 'x'.repeat(40) });
    const text = raw();
    expect(text).toContain('login');
    for (const secret of [PASSWORD, 'wrong-secret-pw', s.answer.json.token as string, created.json.token as string, s.csrf]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('CSRF protection', () => {
  it('refuses a cookie-authenticated POST without, or with a wrong, x-csrf-token and accepts the right one', async () => {
    const run = await start();
    await addUser(run, 'admin1', ['admin']);
    const s = await login(run, 'admin1');
    const body = { username: 'bob', password: PASSWORD, roles: ['duty'], departments: '*' };
    const none = await call(run, '/api/v1/users', { cookie: s.cookie, body });
    expect(none.status).toBe(403);
    expect(none.json.error.code).toBe('AUTH_ERR_CSRF');
    expect((await call(run, '/api/v1/users', { cookie: s.cookie, csrf: s.csrf.slice(1), body })).json.error.code).toBe('AUTH_ERR_CSRF');
    expect((await call(run, '/api/v1/users', { cookie: s.cookie, csrf: s.csrf, body })).status).toBe(201);
    // Safe methods need no token.
    expect((await call(run, '/api/v1/users', { cookie: s.cookie })).status).toBe(200);
  });

  it('refuses logout without the CSRF token (a cross-site page cannot log a user out)', async () => {
    const run = await start();
    await addUser(run, 'alice', ['duty']);
    const s = await login(run, 'alice');
    expect((await call(run, '/api/v1/auth/logout', { cookie: s.cookie, body: {} })).json.error.code).toBe('AUTH_ERR_CSRF');
    expect((await call(run, '/api/v1/auth/me', { cookie: s.cookie })).status).toBe(200);
  });

  it('does not fall back to the cookie when an Authorization header is present but wrong', async () => {
    const run = await start();
    await addUser(run, 'alice', ['duty']);
    const s = await login(run, 'alice');
    expect((await call(run, '/api/v1/auth/me', { cookie: s.cookie, bearer: 'sga_' + 'y'.repeat(40) })).status).toBe(401);
  });
});

describe('accounts and tokens over the API', () => {
  it('lets the bootstrap API token act as the built-in read-only service user', async () => {
    const run = await start();
    const token = run.collector.apiToken;
    expect((await call(run, '/api/v1/auth/me', { bearer: token })).json).toMatchObject({ user: { username: 'service', roles: ['officer'], builtin: true, can_log_in: false }, via: 'api-token' });
    expect((await call(run, '/api/v1/seats', { bearer: token })).status).toBe(200);
    const denied = await call(run, '/api/v1/users', { bearer: token });
    expect(denied.status).toBe(403);
    expect(denied.json.error.code).toBe('AUTH_ERR_FORBIDDEN');
  });

  it('creates users with validated roles, refuses the auditor+admin combination and duplicate names in any case', async () => {
    const run = await start();
    await addUser(run, 'admin1', ['admin']);
    const s = await login(run, 'admin1', PASSWORD, { client: 'cli' });
    const bearer = s.answer.json.token as string;
    const post = (body: unknown) => call(run, '/api/v1/users', { bearer, body });
    const ok = await post({ username: 'Carol', password: PASSWORD, roles: ['approver'], departments: ['Lyon'], display_name: 'Carol \u202eX' });
    expect(ok.status).toBe(201);
    expect(ok.json.user).toMatchObject({ username: 'Carol', display_name: 'Carol \ufffdX', roles: ['approver'], departments: ['Lyon'] });
    expect((await post({ username: 'carol', password: PASSWORD, roles: ['duty'], departments: '*' })).status).toBe(409);
    const clash = await post({ username: 'dave', password: PASSWORD, roles: ['auditor', 'admin'], departments: '*' });
    expect(clash.status).toBe(400);
    expect(clash.json.error.code).toBe('USER_ERR_ROLE_CONFLICT');
    expect((await post({ username: 'erin', password: 'short', roles: ['duty'], departments: '*' })).json.error.code).toBe('USER_ERR_INVALID');
    expect((await post({ username: 'frank', password: PASSWORD, roles: ['root'], departments: '*' })).json.error.code).toBe('USER_ERR_INVALID');
    expect((await post({ username: 'gina', password: PASSWORD, roles: ['duty'], departments: '*', admin: true })).status).toBe(400);
    const list = await call(run, '/api/v1/users', { bearer });
    expect(list.json.users.map((u: { username: string }) => u.username)).toEqual(['admin1', 'Carol', 'service']);
    expect(JSON.stringify(list.json)).not.toContain('scrypt');
    expect(run.collector.audit.list({ action: 'user.create' }).records.map((r) => r.detail.username)).toEqual(['admin1', 'Carol']);
  });

  it('issues API tokens that act with the owner’s roles, and enrollment tokens that enroll a seat, both audited', async () => {
    const run = await start();
    const admin = await addUser(run, 'admin1', ['admin']);
    const duty = await addUser(run, 'night-duty', ['duty']);
    const s = await login(run, 'admin1', PASSWORD, { client: 'cli' });
    const bearer = s.answer.json.token as string;
    const tok = await call(run, '/api/v1/tokens/api', { bearer, body: { user_id: duty.id, name: 'wallboard' } });
    expect(tok.status).toBe(201);
    expect((await call(run, '/api/v1/auth/me', { bearer: tok.json.token as string })).json.user.username).toBe('night-duty');
    expect((await call(run, '/api/v1/events', { bearer: tok.json.token as string })).status).toBe(200);
    expect((await call(run, '/api/v1/users', { bearer: tok.json.token as string })).status).toBe(403);
    expect((await call(run, '/api/v1/tokens/api', { bearer, body: { user_id: 'usr_nope', name: 'x' } })).status).toBe(404);

    const enr = await call(run, '/api/v1/tokens/enrollment', { bearer, body: { department: 'Lyon', ttl_ms: 60_000 } });
    expect(enr.status).toBe(201);
    const agent = await call(run, '/agent/v1/enroll', {
      body: { token: enr.json.token as string, public_key: 'MCowBQYDK2VwAyEA' + 'B'.repeat(43) + '=', hostname: 'cc-lyon-01', platform: 'linux' },
    });
    expect(agent.status).toBe(200);
    const actions = run.collector.audit.list({}).records.map((r) => `${r.actor}|${r.action}`);
    expect(actions).toContain(`${admin.id}|token.api_create`);
    expect(actions).toContain(`${admin.id}|token.enrollment_create`);
    expect(actions).toContain(`agent:${agent.json.agent_id as string}|agent.enroll`);
    expect(run.collector.audit.verify()).toMatchObject({ ok: true });
  });

  it('refuses to let an administrator disable their own account', async () => {
    const run = await start();
    const admin = await addUser(run, 'admin1', ['admin']);
    const s = await login(run, 'admin1', PASSWORD, { client: 'cli' });
    const r = await call(run, `/api/v1/users/${admin.id}/disable`, { bearer: s.answer.json.token as string, body: {} });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('USER_ERR_INVALID');
  });
});
