import type { Static } from 'typebox';
import { generatedCheck } from '../generated-checks.js';
import type {
  IpcDevice as IpcDeviceSchema,
  IpcRequest as IpcRequestSchema,
  IpcResponse as IpcResponseSchema,
  IpcSoftwareRequest as IpcSoftwareRequestSchema,
} from './ipc-schema.js';

/**
 * The agent's local request protocol (unix socket, see docs/unlock-agent.md § IPC): one JSON object
 * per line from the seat CLI, one JSON line back, then the agent closes the connection. Everything
 * the client sends is untrusted: any local user may connect.
 */
export { IPC_MAX_DURATION_MS, IPC_MAX_LINE_BYTES, IPC_MIN_DURATION_MS, IPC_VERSION } from './ipc-limits.js';

// The schemas are in ipc-schema.ts; the types come from them, the checks from their generated
// validators (the agent process never loads TypeBox).
export type IpcSoftwareRequest = Static<typeof IpcSoftwareRequestSchema>;
export type IpcRequest = Static<typeof IpcRequestSchema>;
export type IpcDevice = Static<typeof IpcDeviceSchema>;
export type IpcResponse = Static<typeof IpcResponseSchema>;
export type IpcErrorResponse = Extract<IpcResponse, { ok: false }>;

const checkRequest = generatedCheck<IpcRequest>('ipc_request', 'IPC request');
const checkResponse = generatedCheck<IpcResponse>('ipc_response', 'IPC response');

/** Parses one request line; returns the request or a one-line reason (never echoing the input). */
export function decodeIpcRequest(line: string): { ok: true; req: IpcRequest } | { ok: false; detail: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, detail: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, detail: 'not a JSON object' };
  if (checkRequest.check(value)) return { ok: true, req: value };
  const op = (value as Record<string, unknown>).op;
  const known = typeof op === 'string' && ['list', 'request', 'offline_challenge', 'unlock_code', 'maintenance', 'software_request'].includes(op);
  return { ok: false, detail: known ? `invalid fields for ${op}` : 'unknown operation' };
}

/** Parses the agent's answer on the client side. */
export function decodeIpcResponse(line: string): IpcResponse | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  return checkResponse.check(value) ? value : null;
}
