import type { FastifyInstance, FastifyReply } from 'fastify';
import { ERRORS, formatError, isAppError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/** The one JSON error shape of the HTTP API; clients branch on `code`. */
export interface ApiErrorBody {
  error: { code: ErrorCode; message: string };
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  API_ERR_VALIDATION: 400,
  ENROLL_ERR_OPTIONS: 400,
  AUTH_ERR_UNAUTHENTICATED: 401,
  AUTH_ERR_BAD_SIGNATURE: 401,
  AUTH_ERR_CHALLENGE: 401,
  AUTH_ERR_UNKNOWN_AGENT: 401,
  ENROLL_ERR_TOKEN: 401,
  AUTH_ERR_FORBIDDEN: 403,
  ENROLL_ERR_SEAT_NAME: 403,
  ENROLL_ERR_LOCKED: 429,
  API_ERR_NOT_FOUND: 404,
  COLLECTOR_ERR_STATE: 503,
  ALERT_ERR_NOT_FOUND: 404,
  ALERT_ERR_TRANSITION: 409,
  ALERT_ERR_NOTE_REQUIRED: 400,
  ALERT_ERR_INVALID_INPUT: 400,
};

/** HTTP status for an error code (500 for anything not listed). */
export function statusForCode(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Sends `{ error: { code, message } }` with `status`; the message defaults to the registry text. */
export function sendError(reply: FastifyReply, status: number, code: ErrorCode, message?: string): FastifyReply {
  const body: ApiErrorBody = { error: { code, message: message ?? ERRORS[code].replace(/:? ?%s/g, '') } };
  return reply.code(status).type('application/json').send(body);
}

/** Installs the error and 404 handlers that turn everything into {@link ApiErrorBody}. */
export function installErrorHandlers(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: unknown, req, reply) => {
    if (isAppError(err)) return sendError(reply, statusForCode(err.code), err.code, err.message);
    const e = err as { validation?: unknown; statusCode?: unknown; message?: unknown; code?: unknown };
    const message = typeof e.message === 'string' ? e.message.slice(0, 300) : 'invalid request';
    if (e.validation) return sendError(reply, 400, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', message));
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, e.statusCode, 'API_ERR_VALIDATION', formatError('API_ERR_VALIDATION', message));
    }
    log.error({ err, method: req.method, route: req.routeOptions.url ?? null }, 'api request failed');
    return sendError(reply, 500, 'API_ERR_INTERNAL');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'API_ERR_NOT_FOUND', formatError('API_ERR_NOT_FOUND', 'route')));
}
