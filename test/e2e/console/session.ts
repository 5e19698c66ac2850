import type { Page } from 'playwright-core';
import type { CaFetch } from '../../helpers/ca-fetch.js';
import type { Collector } from '../../../collector/collector.js';

/** A logged-in API client (cookie + CSRF), for assertions the browser cannot make directly. */
export interface ApiSession {
  cookie: string;
  csrf: string;
  get(path: string): Promise<{ status: number; json: unknown }>;
  post(path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
}

/** Creates a user through the collector's user service (what `seatguard user add` runs). */
export async function addUser(collector: Collector, username: string, roles: string[], password = `pw-${username}-0123456789`): Promise<{ username: string; password: string; id: string }> {
  const u = await collector.users.create({ username, password, roles, departments: '*' }, 'test-setup');
  return { username, password, id: u.id };
}

/** Signs `who` (a key of `users`) in through the console's login form at `url`, as a person would. */
export async function pageLogin(page: Page, url: string, users: Readonly<Record<string, { username: string; password: string }>>, who: string): Promise<void> {
  const u = users[who];
  if (!u) throw new Error(`no user ${who}`);
  await page.goto(url + '/');
  await page.getByTestId('login-username').fill(u.username);
  await page.getByTestId('login-password').fill(u.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('current-user').waitFor();
}

/** Logs in over HTTP like the browser does and keeps the session cookie and CSRF token. */
export async function apiLogin(url: string, username: string, password: string, fetch: CaFetch = globalThis.fetch): Promise<ApiSession> {
  const res = await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  const answer = (await res.json()) as { csrf_token: string };
  const csrf = answer.csrf_token;
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method,
      headers: { cookie, 'x-csrf-token': csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      json = text;
    }
    return { status: r.status, json };
  };
  return {
    cookie,
    csrf,
    get: (path) => call('GET', path),
    post: (path, b = {}) => call('POST', path, b),
  };
}
