import { AppError, formatError, isAppError } from '../../../shared/errors.js';

/** A failure the dispatcher must not retry (bad request, rejected recipient, bad credentials). */
export function permanentError(channel: string, reason: string, cause?: unknown): AppError {
  return new AppError('ALERT_ERR_SEND_PERMANENT', formatError('ALERT_ERR_SEND_PERMANENT', channel, reason), {
    ...(cause === undefined ? {} : { cause }),
    details: { channel, reason },
  });
}

/** A failure worth retrying later (receiver down, 5xx, 429, timeout, connection reset). */
export function retryableError(channel: string, reason: string, cause?: unknown): AppError {
  return new AppError('ALERT_ERR_SEND_RETRYABLE', formatError('ALERT_ERR_SEND_RETRYABLE', channel, reason), {
    ...(cause === undefined ? {} : { cause }),
    details: { channel, reason },
  });
}

/** Only an explicit permanent error stops retries: an unknown failure is retried (fail towards delivery). */
export function isPermanent(err: unknown): boolean {
  return isAppError(err) && err.code === 'ALERT_ERR_SEND_PERMANENT';
}

/** The code to count and log for any failure; non-AppErrors are reported as retryable. */
export function errorCode(err: unknown): string {
  return isAppError(err) ? err.code : 'ALERT_ERR_SEND_RETRYABLE';
}
