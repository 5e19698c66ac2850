import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, can, ROLES, type Role } from '../../../../collector/auth/privileges.js';
import type { RouteInfo } from '../../../../collector/http/authorize.js';
import type { Running } from '../harness.js';
import { addUser, startSecured } from '../users/support.js';

// The only /api/v1 routes reachable without a principal. Adding one here needs a security review.
const PUBLIC_ROUTES = new Set(['POST /api/v1/auth/login']);

let run: Running;
let routes: RouteInfo[];
const tokens = new Map<Role, string>();

beforeAll(async () => {
  run = await startSecured();
  const admin = await addUser(run, 'matrix-boss', ['admin']);
  for (const role of ROLES) {
    const user = await addUser(run, `matrix-${role}`, [role]);
    tokens.set(role, run.collector.users.createApiToken(user.id, `matrix ${role}`, admin.id).token);
  }
  // HEAD routes are fastify's automatic twins of GET routes (same hooks).
  routes = run.collector.routes().filter((r) => r.method !== 'HEAD');
});

afterAll(async () => {
  await run.cleanup();
});

/**
 * Status (and error code for 401/403) of one request. Only the head is awaited for other
 * answers: some routes stream (server-sent events) and never end.
 */
async function probe(path: string, method: string, bearer?: string): Promise<{ status: number; code: string | null }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  try {
    const res = await fetch(run.url + path, {
      method,
      signal: ac.signal,
      headers: { ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }), ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
      ...(method === 'GET' ? {} : { body: '{}' }),
    });
    if (res.status === 401 || res.status === 403) {
      const body = (await res.json()) as { error?: { code?: string } };
      return { status: res.status, code: body.error?.code ?? null };
    }
    ac.abort();
    return { status: res.status, code: null };
  } finally {
    clearTimeout(timer);
  }
}

/** A concrete path for a route pattern: every :param becomes a harmless placeholder. */
function concrete(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, 'zz_placeholder_1').replace(/\*/g, 'x');
}

describe('authorization of every /api/v1 route', () => {
  it('registers the software request routes with the unlock privileges (same roles decide both)', () => {
    const access = new Map(routes.map((r) => [`${r.method} ${r.url}`, r.access]));
    expect(Object.fromEntries([...access].filter(([k]) => k.includes('/software-requests')))).toEqual({
      'GET /api/v1/software-requests': 'unlock.read',
      'POST /api/v1/software-requests': 'unlock.request',
      'GET /api/v1/software-requests/:id': 'unlock.read',
      'POST /api/v1/software-requests/:id/approve': 'unlock.approve',
      'POST /api/v1/software-requests/:id/reject': 'unlock.reject',
      'POST /api/v1/software-requests/:id/execute': 'unlock.execute',
      'POST /api/v1/software-requests/:id/revoke': 'unlock.revoke',
      'POST /api/v1/software-requests/:id/cancel': 'unlock.request',
    });
  });

  it('finds the routes in fastify’s route table (the walk below is not vacuous)', () => {
    const keys = routes.map((r) => `${r.method} ${r.url}`);
    for (const k of ['GET /api/v1/seats', 'GET /api/v1/events', 'GET /api/v1/users', 'POST /api/v1/users', 'GET /api/v1/audit', 'POST /api/v1/audit/verify', 'POST /api/v1/tokens/api', 'POST /api/v1/tokens/enrollment']) {
      expect(keys).toContain(k);
    }
  });

  it('gives every route an access rule: an action of the matrix, "authenticated", or an approved public route', () => {
    const problems = routes.flatMap((r) => {
      const key = `${r.method} ${r.url}`;
      if (r.access === undefined) return [`${key}: no requireAction()`];
      if (r.access === 'public' && !PUBLIC_ROUTES.has(key)) return [`${key}: public but not in PUBLIC_ROUTES`];
      if (r.access !== 'public' && r.access !== 'authenticated' && !(ACTIONS as readonly string[]).includes(r.access)) return [`${key}: unknown action ${r.access}`];
      return [];
    });
    expect(problems).toEqual([]);
  });

  it('refuses every non-public route without credentials (401)', async () => {
    const failures: string[] = [];
    for (const r of routes) {
      if (r.access === 'public') continue;
      const res = await probe(concrete(r.url), r.method);
      if (res.status !== 401) failures.push(`${r.method} ${r.url} → ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it('answers 403 AUTH_ERR_FORBIDDEN exactly when can(role, action) is false, for every route × role', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const r of routes) {
      if (r.access === undefined || r.access === 'public') continue;
      for (const role of ROLES) {
        const allowed = r.access === 'authenticated' || can([role], r.access);
        const res = await probe(concrete(r.url), r.method, tokens.get(role)!);
        const forbidden = res.status === 403 && res.code === 'AUTH_ERR_FORBIDDEN';
        checked++;
        if (allowed && (forbidden || res.status === 401)) failures.push(`${role} ${r.method} ${r.url}: allowed by the matrix but got ${res.status}`);
        if (!allowed && !forbidden) failures.push(`${role} ${r.method} ${r.url}: forbidden by the matrix but got ${res.status} ${res.code ?? ''}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(8 * ROLES.length);
  });
});
