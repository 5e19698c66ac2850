/**
 * The one registry of error codes (AREA_ERR_WHAT). Callers, the API and the console branch on
 * `code`, never on message text. Every code is documented in docs/errors.md (a test checks it).
 * Add codes here as areas grow; keep them unique and keep the message a template.
 */
export const ERRORS = {
  CONFIG_ERR_INVALID: 'Invalid configuration: %s',
  CLI_ERR_USAGE: 'Invalid command line: %s',

  PROTO_ERR_INVALID_JSON: 'Frame is not valid JSON',
  PROTO_ERR_TOO_LARGE: 'Frame exceeds %s bytes',
  PROTO_ERR_NOT_OBJECT: 'Frame is not a JSON object',
  PROTO_ERR_VERSION: 'Unsupported protocol version %s',
  PROTO_ERR_UNKNOWN_TYPE: 'Unknown message type %s',
  PROTO_ERR_INVALID_MESSAGE: 'Message %s does not match its schema: %s',
  PROTO_ERR_NOT_EXPECTED: 'Message %s is not expected in this state',
  PROTO_ERR_SEQ: 'Invalid sequence number %s',
  PROTO_ERR_RATE: 'Too many messages; slow down',
  PROTO_ERR_INTERNAL: 'The collector could not process message %s',

  AUTH_ERR_UNAUTHENTICATED: 'Authentication required',
  AUTH_ERR_FORBIDDEN: 'Not allowed: %s',
  AUTH_ERR_BAD_SIGNATURE: 'Agent signature does not verify',
  AUTH_ERR_UNKNOWN_AGENT: 'Unknown or revoked agent %s',
  AUTH_ERR_CHALLENGE: 'Challenge is invalid or expired',
  ENROLL_ERR_TOKEN: 'Enrollment token is invalid, used or expired',
  ENROLL_ERR_SEAT_NAME: 'Seat name %s is not allowed by the enrollment token',

  STORE_ERR_WRITE: 'Could not write to the store: %s',
  STORE_ERR_MIGRATION: 'Schema migration %s failed',
  STORE_ERR_OPEN: 'Could not open database %s',

  OUTBOX_ERR_WRITE: 'Could not persist an event in the outbox',

  SYSFS_ERR_READ: 'Could not read %s',
  SYSFS_ERR_WRITE: 'Could not write %s',
  SYSFS_ERR_LOCK: 'Could not lock USB controller %s',
  UEVENT_ERR_SOURCE: 'Kernel uevent source failed: %s',

  API_ERR_NOT_FOUND: 'Not found: %s',
  API_ERR_VALIDATION: 'Invalid request: %s',
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options?: ErrorOptions & { details?: Record<string, unknown> }) {
    super(message ?? ERRORS[code], options);
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }
}

/** Fills the `%s` placeholders of a registry template in order. */
export function formatError(code: ErrorCode, ...args: Array<string | number>): string {
  let i = 0;
  return ERRORS[code].replace(/%s/g, () => String(args[i++] ?? ''));
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
