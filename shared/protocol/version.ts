/** Major protocol version. Both sides send it in every envelope; a different major is refused. */
export const PROTOCOL_VERSION = 1;

/** Largest frame either side accepts, in bytes (ws maxPayload is set to this too). */
export const MAX_FRAME_BYTES = 64 * 1024;

/** WebSocket path of the agent endpoint on the collector. */
export const AGENT_WS_PATH = '/agent/v1';

/** Close codes (4000–4999 are application codes). */
export const CLOSE_CODES = {
  protocolError: 4400,
  unauthenticated: 4401,
  revoked: 4403,
  versionMismatch: 4426,
  overloaded: 4429,
  replaced: 4409,
  shuttingDown: 4503,
  storeFailed: 4500,
} as const;
