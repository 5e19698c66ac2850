import { get, str } from './json.js';

/** An API failure: `code` comes from the server's `{ error: { code, message } }` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Status 0: the request never got an HTTP answer. */
export const NETWORK = 'NETWORK';
/** A non-JSON error answer (proxy page, 502…). */
export const HTTP_ERROR = 'HTTP';

let csrfToken: string | null = null;
const unauthenticatedListeners = new Set<() => void>();

/** The CSRF token from login / me; sent as `x-csrf-token` on every state-changing request. */
export function setCsrfToken(tok: string | null): void {
  csrfToken = tok;
}

/** Called when any request answers 401, so the app can show the login page. */
export function onUnauthenticated(fn: () => void): () => void {
  unauthenticatedListeners.add(fn);
  return () => unauthenticatedListeners.delete(fn);
}

const CODE_RE = /^[A-Z][A-Z0-9_]{2,63}$/;

async function parseError(res: Response, path: string): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON: keep the status.
  }
  const code = str(get(body, 'error', 'code'));
  const message = str(get(body, 'error', 'message')) ?? '';
  if (code !== null && CODE_RE.test(code)) return new ApiError(res.status, code, message.slice(0, 300), path);
  return new ApiError(res.status, HTTP_ERROR, message.slice(0, 300), path);
}

export interface RequestOptions {
  /** Don't report a 401 to the unauthenticated listeners (the login and `me` calls). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

/** Sends a request to the collector (same origin, session cookie) and returns the parsed JSON. */
export async function request(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, opts: RequestOptions = {}): Promise<unknown> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, NETWORK, '', path);
  }
  if (!res.ok) {
    const e = await parseError(res, path);
    if (res.status === 401 && !opts.quiet401) for (const fn of unauthenticatedListeners) fn();
    throw e;
  }
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('json')) return null;
  return (await res.json()) as unknown;
}

export const apiGet = (path: string, opts?: RequestOptions) => request('GET', path, undefined, opts);
export const apiPost = (path: string, body: unknown = {}, opts?: RequestOptions) => request('POST', path, body, opts);

/** `path?k=v&…` with empty values left out. */
export function withQuery(path: string, params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** True when the server has no such route yet (a backend piece not deployed). */
export function isMissingRoute(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404 && /route/i.test(err.message);
}
