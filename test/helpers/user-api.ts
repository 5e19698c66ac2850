import type { CaFetch } from './ca-fetch.js';

/**
 * A REST client of the collector at `url` that acts as a signed-in user: `tokens` maps a username
 * to its bearer token (read at each call, so users signed in later count; an unknown one goes with
 * an empty token and gets the collector's 401). Answers are parsed as JSON. Over TLS, pass the
 * fetch that trusts the collector's CA (caFetch).
 */
export function userApi(url: string, tokens: Readonly<Record<string, string>>, fetch: CaFetch = globalThis.fetch) {
  return async <T = unknown>(user: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[user] ?? ''}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  };
}
