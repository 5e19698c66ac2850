import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppError, formatError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { can, type Action } from '../auth/privileges.js';
import type { Actor } from '../workflow/unlock-machine.js';
import { sendError } from './errors.js';

/** What a route demands: an action of the privilege matrix, any signed-in caller, or nothing. */
export type RouteAccess = Action | 'authenticated' | 'public';

/** A preHandler that carries the access rule it enforces (read by the route guard and tests). */
export type AccessHandler = ((req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>) & {
  readonly [ACCESS]: RouteAccess;
};

const ACCESS = Symbol.for('seatguard.route-access');
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks a route under /api/v1 as reachable without a principal (login). */
    access?: 'public';
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Cookie-authenticated unsafe requests must echo the session's CSRF token (bearer ones are exempt). */
function csrfOk(req: FastifyRequest): boolean {
  const p = req.principal;
  if (!p || p.kind !== 'user' || p.csrfToken === undefined || !UNSAFE_METHODS.has(req.method)) return true;
  const sent = req.headers[CSRF_HEADER];
  if (typeof sent !== 'string') return false;
  // Compared as fixed-length digests: constant time whatever the sent length.
  return timingSafeEqual(digest(sent), digest(p.csrfToken));
}

function tag(access: RouteAccess, fn: (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>): AccessHandler {
  return Object.defineProperty(fn, ACCESS, { value: access, enumerable: false }) as AccessHandler;
}

/**
 * fastify preHandler for a route that performs `action`: 401 AUTH_ERR_UNAUTHENTICATED without a
 * principal, 403 AUTH_ERR_CSRF for a cookie request without the CSRF header, 403
 * AUTH_ERR_FORBIDDEN when none of the principal's roles grants the action (privileges.ts).
 */
export function requireAction(action: Action): AccessHandler {
  return tag(action, async (req, reply) => {
    const p = req.principal;
    if (!p) return sendError(reply.header('www-authenticate', 'Bearer'), 401, 'AUTH_ERR_UNAUTHENTICATED');
    if (!csrfOk(req)) return sendError(reply, 403, 'AUTH_ERR_CSRF');
    if (!can(p.roles, action)) {
      req.log.warn({ user_id: p.userId, action, route: req.routeOptions.url ?? null }, 'api access denied');
      return sendError(reply, 403, 'AUTH_ERR_FORBIDDEN', formatError('AUTH_ERR_FORBIDDEN', action));
    }
    return undefined;
  });
}

/** preHandler for routes every signed-in user may call (who am I, log out): 401 / CSRF only. */
export function requireAuthenticated(): AccessHandler {
  return tag('authenticated', async (req, reply) => {
    if (!req.principal) return sendError(reply.header('www-authenticate', 'Bearer'), 401, 'AUTH_ERR_UNAUTHENTICATED');
    if (!csrfOk(req)) return sendError(reply, 403, 'AUTH_ERR_CSRF');
    return undefined;
  });
}

/** The caller as the unlock workflow sees it (id = user id). Throws AUTH_ERR_UNAUTHENTICATED. */
export function actorOf(req: FastifyRequest): Actor {
  const p = req.principal;
  if (!p) throw new AppError('AUTH_ERR_UNAUTHENTICATED');
  return { id: p.userId, roles: [...p.roles], departments: p.departments === '*' ? '*' : [...p.departments] };
}

/** The access handler attached to a route's hooks, if any. */
function accessHandlerOf(route: Pick<RouteOptions, 'preHandler' | 'onRequest'>): AccessHandler | undefined {
  for (const hooks of [route.preHandler, route.onRequest]) {
    for (const h of Array.isArray(hooks) ? hooks : hooks ? [hooks] : []) {
      if ((h as Partial<AccessHandler>)[ACCESS] !== undefined) return h as AccessHandler;
    }
  }
  return undefined;
}

/** The access rule attached to a route's hooks, if any. */
export function accessOf(route: Pick<RouteOptions, 'preHandler' | 'onRequest' | 'config'>): RouteAccess | undefined {
  if (route.config?.access === 'public') return 'public';
  return accessHandlerOf(route)?.[ACCESS];
}

export interface RouteInfo {
  method: string;
  url: string;
  /** undefined: the route declared no rule and the guard denies it to everyone. */
  access: RouteAccess | undefined;
}

/**
 * Call right after building the app, before any route is registered (fastify loads plugins
 * later, at ready). For every /api/v1 route it records the access rule and runs that rule at
 * onRequest too: before body parsing and schema validation, so a caller without the right role
 * learns nothing from 400s. A route that declares no rule answers 403 to everyone (default deny).
 */
export function installRouteGuard(app: FastifyInstance, log: Logger, prefix = '/api/v1'): () => RouteInfo[] {
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url !== prefix && !route.url.startsWith(`${prefix}/`)) return;
    const access = accessOf(route);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method, url: route.url, access });
    if (access === 'public') return;
    let check = accessHandlerOf(route);
    if (!check) {
      log.error({ route: route.url, method: methods.join(',') }, 'api route declares no access rule; denied to everyone');
      check = tag('authenticated', async (_req, reply) =>
        sendError(reply, 403, 'AUTH_ERR_FORBIDDEN', formatError('AUTH_ERR_FORBIDDEN', 'route has no access rule')),
      );
    }
    // Route-level onRequest hooks run after the scope's authentication hook, so the principal is set.
    const existing = Array.isArray(route.onRequest) ? route.onRequest : route.onRequest ? [route.onRequest] : [];
    route.onRequest = [check, ...existing.filter((h) => h !== check)];
  });
  return () => routes.map((r) => ({ ...r }));
}
