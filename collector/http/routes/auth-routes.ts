import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { formatError } from '../../../shared/errors.js';
import type { LoginService } from '../../users/login-service.js';
import { SESSION_COOKIE, type SessionService } from '../../users/session-service.js';
import { sendAppError } from '../../users/http-errors.js';
import type { UserService } from '../../users/user-service.js';
import { sessionCookieValue } from '../auth.js';
import { requireAuthenticated } from '../authorize.js';
import { sendError } from '../errors.js';

/** Full path of the public login route (mounted outside the authenticated /api/v1 scope). */
export const LOGIN_PATH = '/api/v1/auth/login';

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 128 }),
    password: Type.String({ minLength: 1, maxLength: 4096 }),
    client: Type.Optional(Type.Union([Type.Literal('browser'), Type.Literal('cli')])),
  },
  { additionalProperties: false },
);
type LoginBody = Static<typeof LoginBody>;
const checkLogin = Compile(LoginBody);

function sessionCookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  // Secure only over TLS: a plain-HTTP loopback console would otherwise never get its cookie back.
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

/**
 * POST /api/v1/auth/login (public): `{ username, password, client? }` → session cookie +
 * `{ user, csrf_token, expires_at }`, plus `token` (the bearer form) when client is 'cli'.
 */
export function loginRoute(deps: { login: LoginService; clock: { now(): number } }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post(LOGIN_PATH, { bodyLimit: 8192, config: { access: 'public' } }, async (req, reply) => {
      const body: unknown = req.body;
      if (!checkLogin.Check(body)) {
        return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', 'body must be { username, password, client? }'));
      }
      reply.header('cache-control', 'no-store');
      try {
        const { user, session } = await deps.login.login({ username: body.username, password: body.password, ip: req.ip });
        const maxAge = Math.max(0, Math.ceil((Date.parse(session.expiresAt) - deps.clock.now()) / 1000));
        reply.header('set-cookie', sessionCookie(req, session.token, maxAge));
        return {
          user,
          csrf_token: session.csrfToken,
          expires_at: session.expiresAt,
          ...(body.client === 'cli' ? { token: session.token } : {}),
        };
      } catch (err) {
        return sendAppError(reply, err);
      }
    });
  };
}

/** /api/v1/auth/me and /api/v1/auth/logout: any signed-in caller. */
export function authRoutes(deps: { login: LoginService; users: UserService; sessions: SessionService }) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/auth/me', { preHandler: requireAuthenticated() }, async (req, reply: FastifyReply) => {
      const p = req.principal!;
      const user = deps.users.get(p.userId);
      if (!user) return sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'user'));
      reply.header('cache-control', 'no-store');
      // A reloaded console page gets its CSRF token back from here (cookie sessions only).
      const cookie = p.kind === 'user' && p.csrfToken !== undefined ? sessionCookieValue(req.headers.cookie) : null;
      return { user, via: p.kind === 'api-token' ? 'api-token' : cookie ? 'cookie' : 'bearer', ...(cookie ? { csrf_token: deps.sessions.csrfFor(cookie) } : {}) };
    });

    app.post('/auth/logout', { preHandler: requireAuthenticated() }, async (req, reply) => {
      const p = req.principal!;
      const ended = p.kind === 'user' && p.sessionId !== undefined ? deps.login.logout(p.sessionId, p.userId) : false;
      reply.header('set-cookie', sessionCookie(req, '', 0));
      return { ended };
    });
  };
}
