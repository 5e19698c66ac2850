import type { FastifyReply } from 'fastify';
import { isAppError, type ErrorCode } from '../../shared/errors.js';
import { sendError, statusForCode } from '../http/errors.js';

/** HTTP statuses of the user/session/audit codes (others fall back to http/errors.ts). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  AUTH_ERR_LOGIN_FAILED: 401,
  AUTH_ERR_CSRF: 403,
  AUTH_ERR_LOCKED: 429,
  AUTH_ERR_BUSY: 503,
  USER_ERR_INVALID: 400,
  USER_ERR_ROLE_CONFLICT: 400,
  USER_ERR_EXISTS: 409,
  USER_ERR_NOT_FOUND: 404,
  AUDIT_ERR_INVALID: 400,
  ENROLL_ERR_OPTIONS: 400,
};

/** Sends an AppError as the API error shape with its status; rethrows anything else. */
export function sendAppError(reply: FastifyReply, err: unknown): FastifyReply {
  if (!isAppError(err)) throw err;
  const status = STATUS[err.code] ?? statusForCode(err.code);
  if (err.code === 'AUTH_ERR_LOCKED' && typeof err.details?.retryAfterMs === 'number') {
    reply.header('retry-after', String(Math.ceil(err.details.retryAfterMs / 1000)));
  }
  return sendError(reply, status, err.code, err.message);
}
