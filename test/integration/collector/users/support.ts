import type { CollectorOptions } from '../../../../collector/collector.js';
import type { UserView } from '../../../../collector/users/user-view.js';
import { startCollector, type Running } from '../harness.js';

/** scrypt at its lowest accepted cost: the tests exercise the flow, not the cost. */
export const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 };
export const PASSWORD = 'correct-horse-9';

/** A real collector (SQLite file, 127.0.0.1:0) with cheap password hashing. */
export function startSecured(opts: Partial<CollectorOptions> = {}): Promise<Running> {
  return startCollector({ ...opts, security: { scrypt: FAST_SCRYPT, ...opts.security } });
}

export function addUser(run: Running, username: string, roles: string[], departments: string[] | '*' = '*', password = PASSWORD): Promise<UserView> {
  return run.collector.users.create({ username, password, roles, departments }, 'system');
}

export interface Answer {
  status: number;
  // Tests navigate answers freely; the assertions are the type check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  headers: Headers;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  bearer?: string;
  cookie?: string;
  csrf?: string;
  headers?: Record<string, string>;
}

/** One HTTP request against the collector; JSON in, JSON out (null for an empty body). */
export async function call(run: Running, path: string, o: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;
  if (o.cookie !== undefined) headers.cookie = o.cookie;
  if (o.csrf !== undefined) headers['x-csrf-token'] = o.csrf;
  const res = await fetch(run.url + path, {
    method: o.method ?? (o.body === undefined ? 'GET' : 'POST'),
    headers,
    ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null, headers: res.headers };
}

export interface LoggedIn {
  answer: Answer;
  /** `sg_session=<value>` as a browser would send it back. */
  cookie: string;
  csrf: string;
  setCookie: string;
}

/** POST /api/v1/auth/login; throws unless 200. */
export async function login(run: Running, username: string, password = PASSWORD, extra: Record<string, unknown> = {}): Promise<LoggedIn> {
  const answer = await call(run, '/api/v1/auth/login', { body: { username, password, ...extra } });
  if (answer.status !== 200) throw new Error(`login failed: ${answer.status} ${JSON.stringify(answer.json)}`);
  const setCookie = answer.headers.get('set-cookie') ?? '';
  return { answer, cookie: setCookie.split(';')[0]!, csrf: answer.json.csrf_token as string, setCookie };
}
