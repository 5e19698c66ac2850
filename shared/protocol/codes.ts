import type { ErrorCode } from '../errors.js';

/** Error codes a collector sends in an `error` frame (a subset of the registry in shared/errors.ts). */
export const PROTOCOL_ERROR_CODES = [
  'PROTO_ERR_INVALID_JSON',
  'PROTO_ERR_TOO_LARGE',
  'PROTO_ERR_NOT_OBJECT',
  'PROTO_ERR_VERSION',
  'PROTO_ERR_UNKNOWN_TYPE',
  'PROTO_ERR_INVALID_MESSAGE',
  'PROTO_ERR_NOT_EXPECTED',
  'PROTO_ERR_SEQ',
  'PROTO_ERR_RATE',
  'PROTO_ERR_INTERNAL',
] as const satisfies readonly ErrorCode[];

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];
